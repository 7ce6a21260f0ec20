#!/usr/bin/env node
// `npm start` builds only when the build is older than its sources: dist/ is current when
// dist/gateway/index.js (tsc) and dist/dashboard/index.html (vite) are both newer than every
// file the build reads (SOURCES, below). Otherwise it runs `npm run build`.
//
//   node scripts/build-if-stale.mjs [--root DIR] [--build "COMMAND"]
//
// --root: the project (default: this script's parent); --build: the build command (default
// `npm run build`). Exits with the build's status; prints "build is current" when it skips it.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** What the build reads: tsconfig.build.json's folders, the dashboard, the configs, the lock file. */
export const SOURCES = [
  'gateway',
  'rules',
  'simulators',
  'bench',
  'dashboard',
  'tsconfig.json',
  'tsconfig.build.json',
  'package.json',
  'package-lock.json',
]

/** What the build writes last of each step: tsc's entry point, vite's page. */
export const OUTPUTS = ['dist/gateway/index.js', 'dist/dashboard/index.html']

const SKIP = new Set(['node_modules', '.git'])

/** The newest file under `path` (a file or a folder), as [mtime ms, path]; [0, ''] when none. */
function newest(path) {
  if (!existsSync(path)) return [0, '']
  const stat = statSync(path)
  if (!stat.isDirectory()) return [stat.mtimeMs, path]
  let best = [0, '']
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (SKIP.has(entry.name)) continue
    const found = newest(join(path, entry.name))
    if (found[0] > best[0]) best = found
  }
  return best
}

/** Why the build in `root` is stale, or null when it is current. */
export function staleness(root) {
  let builtAt = Number.POSITIVE_INFINITY
  for (const output of OUTPUTS) {
    const file = join(root, output)
    if (!existsSync(file)) return `${output} is missing`
    builtAt = Math.min(builtAt, statSync(file).mtimeMs)
  }
  for (const source of SOURCES) {
    const [mtime, file] = newest(join(root, source))
    if (mtime > builtAt) return `${relative(root, file)} is newer than the build`
  }
  return null
}

function main(argv) {
  let root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
  let build = 'npm run build'
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--root') root = resolve(argv[++i] ?? '.')
    else if (argv[i] === '--build') build = argv[++i] ?? build
    else {
      console.error(`build-if-stale: unknown argument ${argv[i]}`)
      return 2
    }
  }
  const why = staleness(root)
  if (why === null) {
    console.log('build is current (dist/ is newer than every source): not rebuilding')
    return 0
  }
  console.log(`building: ${why}`)
  const result = spawnSync(build, { cwd: root, shell: true, stdio: 'inherit' })
  return result.status ?? 1
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2))
}

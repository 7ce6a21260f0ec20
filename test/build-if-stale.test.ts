import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { OUTPUTS, SOURCES } from '../scripts/build-if-stale.mjs'
import { tempDir } from './helpers/index.ts'

/**
 * `npm start` rebuilds only a stale build (scripts/build-if-stale.mjs). Run here on a project
 * of its own, whose "build" writes the outputs and counts its runs, so that the real dist/ (which
 * other suites serve) is never touched.
 */

const run = promisify(execFile)
const dirs: { remove(): Promise<void> }[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await d.remove()
})

/** A small project: a source in each folder the build reads, and a build that writes dist/. */
async function project(): Promise<{ root: string; build: string; builds(): number }> {
  const dir = await tempDir('linewatch-build-')
  dirs.push(dir)
  const root = dir.path
  for (const [file, text] of [
    ['gateway/index.ts', 'export {}\n'],
    ['rules/index.ts', 'export {}\n'],
    ['dashboard/src/main.ts', 'export {}\n'],
    ['dashboard/index.html', '<!doctype html>\n'],
    ['package.json', '{}\n'],
  ] as const) {
    mkdirSync(join(root, file, '..'), { recursive: true })
    writeFileSync(join(root, file), text)
  }
  const script = join(root, 'fake-build.mjs')
  writeFileSync(
    script,
    `import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs'
for (const f of ${JSON.stringify(OUTPUTS)}) {
  mkdirSync(f.slice(0, f.lastIndexOf('/')), { recursive: true })
  writeFileSync(f, 'built')
}
appendFileSync('builds.log', 'x')
console.log('BUILT')
`,
  )
  return {
    root,
    build: `${JSON.stringify(process.execPath)} fake-build.mjs`,
    builds: () => {
      try {
        return readFileSync(join(root, 'builds.log'), 'utf8').length
      } catch {
        return 0
      }
    },
  }
}

const start = async (root: string, build: string) =>
  (
    await run(process.execPath, ['scripts/build-if-stale.mjs', '--root', root, '--build', build], {
      timeout: 30_000,
    })
  ).stdout

describe('scripts/build-if-stale.mjs (npm start)', () => {
  it('builds the first time, not the second, and again once a source changes', async () => {
    const p = await project()
    const first = await start(p.root, p.build)
    expect(first).toMatch(/building: dist\/gateway\/index\.js is missing/)
    expect(first).toContain('BUILT')
    expect(p.builds()).toBe(1)

    const second = await start(p.root, p.build)
    expect(second).toMatch(/^build is current/)
    expect(second).not.toContain('BUILT')
    expect(p.builds()).toBe(1)

    // A dashboard source edited after the build: built again, then current again.
    const later = new Date(Date.now() + 5_000)
    utimesSync(join(p.root, 'dashboard/src/main.ts'), later, later)
    expect(await start(p.root, p.build)).toMatch(
      /building: dashboard\/src\/main\.ts is newer than the build/,
    )
    expect(p.builds()).toBe(2)
    // The outputs are written now, before `later`: still older than the source.
    const after = new Date(Date.now() + 10_000)
    for (const f of OUTPUTS) utimesSync(join(p.root, f), after, after)
    expect(await start(p.root, p.build)).toMatch(/^build is current/)
    expect(p.builds()).toBe(2)
  })

  it('rebuilds when either output is missing, and fails as the build fails', async () => {
    const p = await project()
    await start(p.root, p.build)
    rmSync(join(p.root, 'dist/dashboard/index.html'))
    expect(await start(p.root, p.build)).toMatch(
      /^building: dist\/dashboard\/index\.html is missing/,
    )
    expect(p.builds()).toBe(2)
    const empty = join(p.root, 'empty')
    mkdirSync(empty)
    const failing = run(
      process.execPath,
      ['scripts/build-if-stale.mjs', '--root', empty, '--build', 'exit 3'],
      { timeout: 30_000 },
    )
    await expect(failing).rejects.toMatchObject({ code: 3 })
  })

  it('watches every folder the build compiles, and npm start uses it', () => {
    const tsconfig = JSON.parse(readFileSync('tsconfig.build.json', 'utf8')) as {
      include: string[]
    }
    for (const folder of [...tsconfig.include, 'dashboard']) expect(SOURCES).toContain(folder)
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
      scripts: Record<string, string>
    }
    expect(pkg.scripts.start).toMatch(
      /^node scripts\/build-if-stale\.mjs && node bin\/linewatch\.js start /,
    )
    expect(pkg.scripts.build).toMatch(/^tsc -p tsconfig\.build\.json && vite build /)
  })
})

#!/usr/bin/env node
// The `linewatch` command. Checks the Node.js version before loading anything that needs a newer one.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 13)) {
  process.stderr.write(
    `linewatch: LW_ERR_NODE_VERSION: this is Node.js ${process.versions.node}; linewatch needs 22.13 or later (24 LTS recommended).\n`,
  )
  process.exit(1)
}
const dist = (path) => fileURLToPath(new URL(`../dist/gateway/${path}`, import.meta.url))
if (!existsSync(dist('cli/main.js'))) {
  process.stderr.write(
    'linewatch: not built yet: run `npm install` (it builds) or `npm run build`.\n',
  )
  process.exit(1)
}
// The gateway's V8 flags: the process replaces itself with one that has them (the same pid, so
// a container's init and signals are unaffected). Where execve is missing it runs without them.
const { NODE_FLAGS } = await import(dist('node-flags.js'))
if (
  typeof process.execve === 'function' &&
  !NODE_FLAGS.every((flag) => process.execArgv.includes(flag))
) {
  process.execve(process.execPath, [
    process.execPath,
    ...NODE_FLAGS,
    ...process.execArgv,
    fileURLToPath(import.meta.url),
    ...process.argv.slice(2),
  ])
}
await import(dist('cli/main.js'))

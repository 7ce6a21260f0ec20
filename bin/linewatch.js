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
const main = fileURLToPath(new URL('../dist/gateway/cli/main.js', import.meta.url))
if (!existsSync(main)) {
  process.stderr.write(
    'linewatch: not built yet: run `npm install` (it builds) or `npm run build`.\n',
  )
  process.exit(1)
}
await import(main)

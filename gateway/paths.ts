import { existsSync, readFileSync } from 'node:fs'
import { dirname, extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The linewatch checkout or installed package: the folder of its package.json, from source or from dist/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const manifest = join(dir, 'package.json')
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'linewatch'
    ) {
      return dir
    }
    const parent = dirname(dir)
    if (parent === dir) throw new Error('cannot find the linewatch package.json above this module')
    dir = parent
  }
}

export function packageVersion(): string {
  return (
    JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }
  ).version
}

/** Where `npm run build` puts the dashboard. */
export function dashboardDir(): string {
  return join(packageRoot(), 'dist', 'dashboard')
}

/**
 * The module `name` in the folder of the module at `from` (its import.meta.url), run as this
 * one runs: `.ts` from source (Node strips the types), `.js` from dist/. For what runs in a
 * thread or a process of its own.
 */
export function besideModule(name: string, from: string): URL {
  return new URL(`./${name}${extname(fileURLToPath(from))}`, from)
}

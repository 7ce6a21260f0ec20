import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { testConfigYaml } from './helpers/gateway.ts'
import { tempDir } from './helpers/index.ts'

/**
 * A worker thread takes the process's flags; `--input-type`, which only a string input takes,
 * made every thread of a gateway created from `node --input-type=module -e …` fail to start
 * (gateway/threads.ts). Flags a thread takes only when inherited come with it here.
 */
describe("the gateway's threads", () => {
  it('start for a gateway created from `node --input-type=module -e`', async () => {
    const dir = await tempDir()
    try {
      const url = (path: string) => JSON.stringify(new URL(path, import.meta.url).href)
      const yaml = testConfigYaml(
        join(dir.path, 'data'),
        `mqtt: { broker: { host: 127.0.0.1, port: 0 } }
characteristics:
  - { id: c1, name: C1, path: p/a/l/c1, source: { mqtt: { topic: p/c1 } }, chart: { type: imr, given: { center: 10, sigma: 1 } } }`,
      )
      // The broker thread, the time-series writer and the records writer all start, or
      // createGateway throws.
      const script = `
        const { parseConfig } = await import(${url('../gateway/config/index.ts')})
        const { createGateway } = await import(${url('../gateway/index.ts')})
        const { createLogger } = await import(${url('../gateway/log.ts')})
        const g = await createGateway(parseConfig(${JSON.stringify(yaml)}, 'test.yaml'), { log: createLogger('silent') })
        const mqtt = g.urls.mqtt
        await g.close()
        console.log(JSON.stringify({ mqtt }))`
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--max-old-space-size=2048', '--expose-gc', '--input-type=module', '-e', script],
        { timeout: 60_000 },
      )
      const { mqtt } = JSON.parse(stdout.trim().split('\n').at(-1) as string) as { mqtt: string }
      expect(mqtt).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/)
    } finally {
      await dir.remove()
    }
  }, 90_000)
})

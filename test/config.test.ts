import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import {
  ConfigSchema,
  loadConfigFile,
  normaliseSchema,
  parseConfig,
} from '../gateway/config/index.ts'
import { configurationReference } from '../gateway/config/reference.ts'
import { ERRORS, FileIssuesError } from '../gateway/errors.ts'
import { parseScenario } from '../simulators/scenario.ts'
import { requireProgram, tempDir } from './helpers/index.ts'

/** The problems of an invalid configuration, as `line:column path: message`. */
function problems(yaml: string): string[] {
  try {
    parseConfig(yaml, 'plant.yaml')
  } catch (e) {
    if (e instanceof FileIssuesError)
      return e.issues.map((i) => `${i.line}:${i.column} ${i.path}: ${i.message}`)
    throw e
  }
  throw new Error('expected the configuration to be refused')
}

const ONE = (extra = '') => `characteristics:
  - id: fill-weight
    name: Fill weight
    path: site/area/line/cell
    source: { mqtt: { topic: a/b } }
${extra}`

describe('configuration', () => {
  it('shift starts are local times HH:MM, each once: 24:00, 6:00 and a repeat are refused', () => {
    expect(parseConfig("shifts: { starts: ['06:00', '18:00'] }").shifts.starts).toEqual([
      '06:00',
      '18:00',
    ])
    expect(parseConfig('').shifts.starts).toEqual(['06:00', '14:00', '22:00'])
    for (const starts of ["['24:00']", "['6:00']", "['06:00', '06:00']", '[]'])
      expect(problems(`shifts: { starts: ${starts} }`).join('\n'), starts).toMatch(/shifts/)
  })

  it('empty text is every default (parseConfig); an empty file is refused, with its own message', async () => {
    const config = parseConfig('', 'empty.yaml')
    expect(parseConfig('{}', 'defaults.yaml')).toEqual(config)
    const dir = await tempDir()
    try {
      for (const [name, text] of [
        ['empty.yaml', ''],
        ['blank.yaml', '\n  \n'],
        ['comments.yaml', '# linewatch\n# nothing here yet\n'],
        ['null.yaml', '~\n'],
      ] as const) {
        const file = join(dir.path, name)
        await writeFile(file, text)
        // In this process, and in the child process a large file is parsed in.
        for (const childAboveBytes of [undefined, 0]) {
          const refusal = await loadConfigFile(file, { childAboveBytes }).then(
            () => null,
            (e: unknown) => e,
          )
          expect(refusal, `${name} ${childAboveBytes}`).toBeInstanceOf(FileIssuesError)
          expect((refusal as FileIssuesError).code).toBe('LW_ERR_CONFIG_INVALID')
          expect((refusal as FileIssuesError).message).toContain(
            `${file}:1:1: the file is empty: no settings in it (a configuration of defaults only is written {};`,
          )
        }
      }
      const defaults = join(dir.path, 'defaults.yaml')
      await writeFile(defaults, '{}\n')
      expect(await loadConfigFile(defaults)).toEqual(config)
    } finally {
      await dir.remove()
    }
    expect(config.http).toEqual({ host: '0.0.0.0', port: 8080 })
    expect(config.mqtt.broker).toMatchObject({ enabled: true, port: 1883, anonymous: 'loopback' })
    expect(config.auth.anonymousRole).toBe('none')
    expect(config.store.timeseries).toBe('sqlite')
    expect(config.spc.baselineCount).toBe(25)
  })

  it('refuses a wrong type with the file, line and reason', () => {
    expect(problems('http:\n  port: eighty\n')).toEqual(['2:9 http.port: must be integer'])
    try {
      parseConfig('http:\n  port: eighty\n', 'plant.yaml')
    } catch (e) {
      expect((e as FileIssuesError).code).toBe('LW_ERR_CONFIG_INVALID')
      expect((e as Error).message).toContain('plant.yaml:2:9: http.port: must be integer')
    }
  })

  it('points at an unknown setting itself', () => {
    expect(problems(ONE('    colour: red\n'))).toEqual([
      '6:5 characteristics[0].colour: unknown setting "colour"',
    ])
  })

  it('names a missing setting at its parent', () => {
    expect(
      problems('characteristics:\n  - id: x\n    name: X\n    source: { mqtt: { topic: a } }\n'),
    ).toEqual(['2:5 characteristics[0]: "path" is required'])
  })

  it('lists the allowed values of an enumeration', () => {
    expect(problems('auth:\n  anonymousRole: guest\n')).toEqual([
      '2:18 auth.anonymousRole: must be one of: "none", "viewer", "operator", "quality-engineer", "quality-manager", "admin", "engineer"',
    ])
  })

  it('reports every problem at once', () => {
    expect(problems('http: { port: -1 }\nmqtt: { broker: { port: 99999 } }\n')).toHaveLength(2)
  })

  it('refuses a YAML syntax error and a duplicate key with their lines', () => {
    expect(problems('http:\n  port: 8080\n  port: 8081\n')[0]).toMatch(
      /^3:3 : Map keys must be unique/,
    )
    expect(problems('characteristics: [\n')[0]).toMatch(/^2:1 /)
  })

  it('refuses settings that contradict each other', () => {
    const yaml = `
opcua: { servers: [{ id: cnc, endpoint: opc.tcp://m:4840 }] }
characteristics:
  - { id: a, name: A, path: s/a, source: { mqtt: { topic: t/1 } }, limits: { alertHigh: 10, actionHigh: 9 } }
  - { id: a, name: B, path: s/a, source: { mqtt: { topic: t/1 } } }
  - { id: c, name: C, path: s/a, source: { opcua: { server: lathe, nodeId: 'nsu=urn:x;s=y' } } }
store: { timeseries: influxdb }
`
    expect(problems(yaml)).toEqual([
      '4:76 characteristics[0].limits: alertHigh (10) must not be above actionHigh (9)',
      '5:11 characteristics[1].id: duplicate id "a" (first at characteristics[0])',
      '6:61 characteristics[2].source.opcua.server: no OPC-UA server "lathe" in opcua.servers',
      '5:59 characteristics[1].source.mqtt.topic: topic "t/1" is mapped twice',
      '7:22 store.timeseries: timeseries is influxdb but store.influxdb is not set',
    ])
  })

  it('reports the semantic problems in the same run as the schema problems', () => {
    const yaml = `
http: { port: eighty }
opcua: { servers: [{ id: cnc, endpoint: opc.tcp://m:4840 }, { id: press, endpoint: 5 }] }
characteristics:
  - { id: a, name: A, path: s/a, source: { mqtt: { topic: t/1 } }, limits: { alertHigh: 10, actionHigh: 9 } }
  - { id: a, name: B, path: s/a, source: { mqtt: { topic: t/1 } }, colour: red }
  - { id: c, name: C, path: s/a, source: { opcua: { server: lathe, nodeId: 'nsu=urn:x;s=y' } } }
  - { id: d, name: D, path: s/a, source: { opcua: { server: press, nodeId: 'nsu=urn:x;s=z' } } }
  - { id: e, name: E, source: { mqtt: { topic: t/5 } } }
  - { id: f, name: F, path: s/a, source: { mqtt: { topic: t/6 } }, limits: { alertHigh: x, actionHigh: 9 } }
  - { id: a, name: G, path: s/a, source: { mqtt: { topic: t/7 } } }
alarms:
  states: [{ id: idle, name: Idle, when: { characteristic: e, below: 1 } }, { id: down, name: Down, when: { characteristic: nope, below: 1 } }]
store: { timeseries: influxdb }
`
    expect(problems(yaml)).toEqual([
      // The schema's problems…
      '2:15 http.port: must be integer',
      '3:84 opcua.servers[1].endpoint: must be string',
      '6:68 characteristics[1].colour: unknown setting "colour"',
      '9:5 characteristics[4]: "path" is required',
      '10:89 characteristics[5].limits.alertHigh: must be number',
      // … and, in the same run, the semantic ones, on the lines of the file (entries after one
      // the schema refused keep their own index).
      '5:76 characteristics[0].limits: alertHigh (10) must not be above actionHigh (9)',
      '6:11 characteristics[1].id: duplicate id "a" (first at characteristics[0])',
      '7:61 characteristics[2].source.opcua.server: no OPC-UA server "lathe" in opcua.servers',
      '11:11 characteristics[6].id: duplicate id "a" (first at characteristics[0])',
      '6:59 characteristics[1].source.mqtt.topic: topic "t/1" is mapped twice',
      '13:125 alarms.states[1].when.characteristic: no characteristic "nope"',
      '14:22 store.timeseries: timeseries is influxdb but store.influxdb is not set',
    ])
    // Not reported: the server "press" (refused by the schema, not missing), characteristic e
    // (refused, still named by alarms.states[0]), and f's limits (one refused: nothing to compare).
  })

  it('a mapped topic outside mqtt.subscribe is refused with an external broker (it would never arrive)', () => {
    const external = (subscribe: string, topics: string[]) =>
      `mqtt:
  broker: { enabled: false }
  external: { url: "mqtt://broker.plant:1883" }
  subscribe: ${subscribe}
characteristics:
${topics.map((t, i) => `  - { id: c${i}, name: C, path: s/a, source: { mqtt: { topic: ${t} } } }`).join('\n')}
`
    expect(
      problems(external('["plant/#", "+/line-2/+"]', ['plant/a', 'cell/line-2/x', 'other/b'])),
    ).toEqual([
      '8:60 characteristics[2].source.mqtt.topic: topic "other/b" is outside mqtt.subscribe (plant/#, +/line-2/+): from mqtt.external the gateway subscribes to those filters only, so its readings would never arrive; add a filter that covers it',
    ])
    // Every mapped topic covered, or no subscribe (the mapped topics are subscribed): valid.
    expect(() => parseConfig(external('["plant/#", "#"]', ['plant/a', 'other/b']))).not.toThrow()
    expect(() => parseConfig(external('[]', ['plant/a', 'other/b']))).not.toThrow()
    // The embedded broker consumes the mapped topics besides the filters: valid.
    expect(() =>
      parseConfig(
        `mqtt: { subscribe: ["plant/#"] }\ncharacteristics:\n  - { id: c, name: C, path: s/a, source: { mqtt: { topic: other/b } } }\n`,
      ),
    ).not.toThrow()
    // A filter the schema refused might have covered the topic: only the schema's problem.
    expect(problems(external('["plant/#", ""]', ['other/b']))).toEqual([
      '4:26 mqtt.subscribe[1]: must NOT have fewer than 1 characters',
    ])
  })

  it('explains what a source needs', () => {
    const [problem] = problems(ONE().replace('source: { mqtt: { topic: a/b } }', 'source: {}'))
    expect(problem).toMatch(
      /characteristics\[0\]\.source: must NOT have fewer than 1 properties \(Where the readings come from: exactly one of mqtt, opcua or sparkplug\.\)/,
    )
  })

  it('a missing file is its own error', async () => {
    for (const childAboveBytes of [undefined, 0])
      await expect(
        loadConfigFile('/nonexistent/linewatch.yaml', { childAboveBytes }),
      ).rejects.toMatchObject({
        code: 'LW_ERR_CONFIG_NOT_FOUND',
        message: expect.stringContaining('cannot read /nonexistent/linewatch.yaml: ENOENT'),
      })
  })

  it('a large file is parsed in a child process: the same configuration, the same problems at the same lines', async () => {
    const dir = await tempDir()
    try {
      const good = join(dir.path, 'good.yaml')
      const text = `${ONE()}  - id: fill-level
    name: Fill level
    path: site/area/line/cell
    source: { mqtt: { topic: a/c } }
    chart: { type: xbar-r, subgroup: { size: 5 } }
`
      await writeFile(good, text)
      const config = await loadConfigFile(good, { childAboveBytes: 0 })
      expect(config.characteristics.map((c) => [c.id, c.source.mqtt?.topic])).toEqual([
        ['fill-weight', 'a/b'],
        ['fill-level', 'a/c'],
      ])
      // Defaults filled in there as here (schema.ts: rules N1 and N2; docs/configuration.md).
      expect(config.spc.rules).toEqual(['N1', 'N2'])
      expect(config.http).toEqual({ host: '0.0.0.0', port: 8080 })
      expect(config).toEqual(parseConfig(text, good))

      // source: {} on line 5, and a rule that does not exist in the list on line 6.
      const bad = join(dir.path, 'bad.yaml')
      await writeFile(
        bad,
        `${ONE().replace('source: { mqtt: { topic: a/b } }', 'source: {}')}spc: { rules: [N9] }\n`,
      )
      const refusal = await loadConfigFile(bad, { childAboveBytes: 0 }).then(
        () => null,
        (e: unknown) => e,
      )
      expect(refusal).toBeInstanceOf(FileIssuesError)
      const issues = (refusal as FileIssuesError).issues
      expect(
        issues.map((i) => [i.file, i.line, i.path]).sort((a, b) => Number(a[1]) - Number(b[1])),
      ).toEqual([
        [bad, 5, 'characteristics[0].source'],
        [bad, 6, 'spc.rules[0]'],
      ])
      // Word for word what this process says of the same text.
      const here = (() => {
        try {
          parseConfig(readFileSync(bad, 'utf8'), bad)
          return null
        } catch (e) {
          return (e as Error).message
        }
      })()
      expect(here).not.toBeNull()
      expect((refusal as FileIssuesError).message).toBe(here)
    } finally {
      await dir.remove()
    }
  })

  it("a large file's parse does not stay in the gateway's memory (it would, about 43 KB per characteristic); one that runs out of memory says so", async () => {
    // 10,000 characteristics, 2.3 MB: parsed in this process the RSS grew by about 430 MiB and
    // stayed (V8 keeps the pages of a heap it has grown); through the child it grows by the
    // configuration itself. Measured in a process of its own: this one runs other tests.
    const dir = await tempDir()
    try {
      const file = join(dir.path, 'large.yaml')
      const lines = ['characteristics:']
      for (let i = 0; i < 10_000; i++)
        lines.push(
          `  - { id: c${i}, name: Characteristic ${i}, path: plant/area-${i % 10}/line-${i % 50}/cell-${i}, source: { mqtt: { topic: plant/c${i} } }, chart: { type: imr, given: { center: 100, sigma: 2 } }, limits: { alertHigh: 120, actionHigh: 150 } }`,
        )
      await writeFile(file, `${lines.join('\n')}\n`)
      const load = new URL('../gateway/config/load.ts', import.meta.url).href
      const script = `
        const { loadConfigFile } = await import(${JSON.stringify(load)})
        const before = process.memoryUsage().rss
        const config = await loadConfigFile(${JSON.stringify(file)})
        globalThis.gc()
        console.log(JSON.stringify({ n: config.characteristics.length, grew: process.memoryUsage().rss - before }))`
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--expose-gc', '--input-type=module', '-e', script],
        { timeout: 120_000 },
      )
      const { n, grew } = JSON.parse(stdout) as { n: number; grew: number }
      expect(n).toBe(10_000)
      expect(grew / 2 ** 20).toBeLessThan(100)

      // The parse needs far more than 64 MiB: the child, given the same limit, runs out of memory
      // and the load says so (how it ended, what it wrote), where a lost answer would hang.
      const refused = await promisify(execFile)(
        process.execPath,
        [
          '--max-old-space-size=64',
          '--input-type=module',
          '-e',
          `const { loadConfigFile } = await import(${JSON.stringify(load)})
           await loadConfigFile(${JSON.stringify(file)}).then(
             () => console.log('loaded'),
             (e) => console.log(JSON.stringify({ code: e.code, message: e.message })))`,
        ],
        { timeout: 120_000 },
      )
      const error = JSON.parse(refused.stdout) as { code: string; message: string }
      expect(error.code).toBe('LW_ERR_CONFIG_NOT_FOUND')
      expect(error.message).toMatch(
        /^cannot read .*large\.yaml: the process parsing it ended \((signal SIGABRT|code 134)\) without an answer: .*heap out of memory/s,
      )
    } finally {
      await dir.remove()
    }
  }, 150_000)

  it('the demo configuration and the container configuration are valid and describe the same plant', async () => {
    const demo = await loadConfigFile('config/demo.yaml')
    const docker = await loadConfigFile('docker/linewatch.yaml')
    expect(demo.characteristics.length).toBeGreaterThanOrEqual(9)
    expect(docker.characteristics).toEqual(demo.characteristics)
    expect(docker.alarms).toEqual(demo.alarms)
    expect(docker.cleanrooms).toEqual(demo.cleanrooms)
    expect(docker.nonconformance).toEqual(demo.nonconformance)
    expect(docker.store.timeseries).toBe('influxdb')
  })

  it('the demo scenario feeds every demo characteristic with a source of the same kind', async () => {
    const demo = await loadConfigFile('config/demo.yaml')
    const scenario = parseScenario(
      readFileSync('simulators/scenarios/demo.yaml', 'utf8'),
      'demo.yaml',
    )
    for (const c of demo.characteristics) {
      const stream = scenario.streams.find((s) =>
        c.source.mqtt
          ? s.mqtt?.topic === c.source.mqtt.topic
          : c.source.opcua?.nodeId.endsWith(`;s=${s.opcua?.nodeId}`),
      )
      expect(stream, `a stream for ${c.id}`).toBeDefined()
    }
    for (const c of demo.characteristics.filter((x) => x.source.opcua)) {
      expect(c.source.opcua?.nodeId.startsWith(`nsu=${scenario.opcua.namespaceUri};`)).toBe(true)
    }
  })

  it('the published JSON Schema is the one the gateway validates with (npm run schema)', () => {
    const published = JSON.parse(readFileSync('schema/linewatch.schema.json', 'utf8'))
    expect(published).toEqual(normaliseSchema(ConfigSchema))
  })

  it('docs/configuration.md is the reference generated from the schema (npm run schema)', () => {
    const reference = configurationReference()
    expect(readFileSync('docs/configuration.md', 'utf8')).toBe(reference)
    expect(reference).toContain(
      '| `mqtt.broker.anonymous` | `"loopback"` \\| `"allow"` \\| `"deny"` | `"loopback"` |',
    )
  })

  it('every error code has its entry in docs/errors.md', () => {
    const doc = readFileSync('docs/errors.md', 'utf8')
    for (const code of Object.keys(ERRORS)) expect(doc).toContain(`## ${code}`)
  })
})

describe('docker-compose.yml', () => {
  it('is a valid Compose file (checked by Debian docker-compose, which needs no engine)', async () => {
    const program = await requireProgram('docker-compose', 'docker-compose')
    const { stdout } = await promisify(execFile)(program, ['-f', 'docker-compose.yml', 'config'], {
      timeout: 30_000,
    })
    const resolved = parse(stdout) as { services: Record<string, unknown> }
    expect(Object.keys(resolved.services).sort()).toEqual([
      'gateway',
      'grafana',
      'influxdb',
      'simulators',
    ])
  })

  it('wires gateway, simulators and InfluxDB together as the gateway configuration expects', async () => {
    const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as {
      services: Record<
        string,
        {
          command?: string[]
          ports?: string[]
          hostname?: string
          image?: string
          build?: string
          depends_on?: Record<string, unknown>
        }
      >
    }
    const config = await loadConfigFile('docker/linewatch.yaml')
    const gateway = compose.services.gateway
    expect(gateway?.command).toEqual(['start', '--config', 'docker/linewatch.yaml', '--json-logs'])
    expect(gateway?.ports).toEqual(
      expect.arrayContaining([
        `${config.http.port}:${config.http.port}`,
        `${config.mqtt.broker.port}:${config.mqtt.broker.port}`,
      ]),
    )
    expect(Object.keys(gateway?.depends_on ?? {})).toEqual(['influxdb'])
    // The gateway reaches InfluxDB and the OPC-UA machine by their service names.
    expect(new URL(config.store.influxdb?.url ?? '').hostname).toBe('influxdb')
    const sims = compose.services.simulators
    expect(
      new URL(config.opcua.servers[0]?.endpoint.replace('opc.tcp', 'http') ?? '').hostname,
    ).toBe(sims?.hostname)
    expect(sims?.command).toEqual(
      expect.arrayContaining([
        '--mqtt-url',
        `mqtt://gateway:${config.mqtt.broker.port}`,
        '--opcua-host',
        '0.0.0.0',
      ]),
    )
    expect(sims?.image).toBe(gateway?.image)
    expect(readFileSync('Dockerfile', 'utf8')).toMatch(
      /ENTRYPOINT \["\/usr\/bin\/tini", "--", "node", "bin\/linewatch\.js"\]/,
    )
  })

  it('runs the gateway and the simulators under exactly one init (tini), never as PID 1 themselves', () => {
    const dockerfile = readFileSync('Dockerfile', 'utf8')
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM ')) // the final stage
    expect(runtime).toMatch(/apt-get install -y --no-install-recommends tini\b/)
    const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(runtime)?.[1] ?? '[]') as string[]
    const imageInit = entrypoint[0] === '/usr/bin/tini' && entrypoint[1] === '--'
    const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as {
      services: Record<string, { image?: string; init?: boolean }>
    }
    for (const name of ['gateway', 'simulators']) {
      const service = compose.services[name]
      expect(service?.image).toBe('linewatch:latest')
      // One init: the image's tini, or compose's `init: true`, not both.
      expect([imageInit, service?.init === true].filter(Boolean)).toHaveLength(1)
    }
  })
})

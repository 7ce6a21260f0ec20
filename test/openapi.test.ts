import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { connectAsync } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import type { Health, NonconformanceSummary } from '../gateway/contract.ts'
import { startTestGateway, type TestGateway, TOKENS } from './helpers/gateway.ts'
import { waitFor } from './helpers/index.ts'

/**
 * GET /api/openapi.json: a valid OpenAPI 3.1 document (checked with the OpenAPI Initiative's
 * own JSON Schemas, vendored in test/fixtures/openapi, Schema Objects included), with every
 * route the README's table lists, a response schema for every route, and those schemas true
 * of what a running gateway answers.
 */

type Operation = {
  security?: unknown[]
  responses: Record<string, { description: string; content?: Record<string, { schema?: unknown }> }>
}
type Document = {
  openapi: string
  info: { title: string; version: string }
  paths: Record<string, Record<string, Operation>>
  components: { securitySchemes: Record<string, unknown> }
}

const FIXTURES = 'test/fixtures/openapi'
const METHODS = ['get', 'put', 'post', 'delete', 'patch']

/** The vendored schemas, by file name (without .yaml). */
function officialSchemas(): Record<string, { $id: string }> {
  return Object.fromEntries(
    readdirSync(FIXTURES)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => [f.replace(/\.yaml$/, ''), parse(readFileSync(join(FIXTURES, f), 'utf8'))]),
  )
}

/** `$dynamicRef: '#meta'` as the static reference it falls back to: `#/$defs/schema`. */
function staticMeta(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(staticMeta)
  if (!schema || typeof schema !== 'object') return schema
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) =>
      k === '$dynamicRef' && v === '#meta' ? ['$ref', '#/$defs/schema'] : [k, staticMeta(v)],
    ),
  )
}

type Media = Record<string, { schema?: unknown }>
type Parameter = { name: string; schema?: unknown; content?: Media }
/** What schemaObjects reads of an operation (or of a path's shared `parameters`). */
type LooseOperation = {
  parameters?: Parameter[]
  requestBody?: { content?: Media }
  responses?: Record<string, { content?: Media; headers?: Record<string, { schema?: unknown }> }>
}
type LooseDocument = {
  components?: { schemas?: Record<string, unknown> }
  paths?: Record<string, Record<string, LooseOperation | Parameter[]>>
}

/** Every Schema Object of a document (components, parameters, bodies, responses, headers), with where it is. */
function schemaObjects(doc: LooseDocument): [string, unknown][] {
  const out: [string, unknown][] = []
  const content = (c: Media | undefined, at: string) => {
    for (const [type, media] of Object.entries(c ?? {}))
      if (media.schema !== undefined) out.push([`${at} ${type}`, media.schema])
  }
  for (const [name, s] of Object.entries(doc.components?.schemas ?? {}))
    out.push([`components ${name}`, s])
  for (const [path, item] of Object.entries(doc.paths ?? {}))
    for (const [method, entry] of Object.entries(item)) {
      const at = `${method} ${path}`
      const op: LooseOperation = Array.isArray(entry) ? { parameters: entry } : entry
      for (const p of op.parameters ?? []) {
        if (p.schema !== undefined) out.push([`${at} parameter ${p.name}`, p.schema])
        content(p.content, `${at} parameter ${p.name}`)
      }
      content(op.requestBody?.content, `${at} body`)
      for (const [code, r] of Object.entries(op.responses ?? {})) {
        content(r.content, `${at} ${code}`)
        for (const [h, header] of Object.entries(r.headers ?? {}))
          out.push([`${at} ${code} header ${h}`, header.schema])
      }
    }
  return out
}

/**
 * A validator of OpenAPI 3.1 documents as the OpenAPI Initiative's `schema-base` checks them:
 * the document by `schema`, and every Schema Object by the OpenAPI dialect (JSON Schema
 * 2020-12 and the OAS base vocabulary). ajv follows a `$dynamicAnchor` only at a schema's root,
 * and `schema-base` overrides `schema`'s from within `$defs`: so the two checks are made one
 * after the other instead, `schema` with its `$dynamicRef`s read as their static default.
 */
function openApiValidator(): ((doc: unknown) => boolean) & { errors: unknown[] } {
  // Formats (uri-reference, email, media-range…) are not what this checks.
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false })
  const schemas = officialSchemas()
  ajv.addSchema(schemas.meta as object)
  const structure = ajv.compile(staticMeta(schemas.schema) as object)
  const dialect = ajv.compile(schemas.dialect as object)
  const validate = Object.assign(
    (doc: unknown) => {
      validate.errors = []
      if (!structure(doc)) validate.errors.push(...(structure.errors ?? []))
      else
        for (const [at, schema] of schemaObjects(doc as LooseDocument))
          if (!dialect(schema)) validate.errors.push({ at, errors: dialect.errors })
      return validate.errors.length === 0
    },
    { errors: [] as unknown[] },
  )
  return validate
}

/**
 * The routes the README's table under "REST API and live events" lists, as `METHOD path` with
 * `:param`s. A row's first cell names them in code spans: `GET /api/x`, a method alone for the
 * next span (`PUT`/`GET /api/…`), a span without a method taking the one before, a path that is
 * relative to the one before (`/sign-out`, `kpis.csv`: its last segment replaced; `…/history.csv`:
 * under the record of the one before), alternatives after `|` (`history.csv\|pdf`).
 */
function readmeRoutes(readme: string): string[] {
  const start = readme.indexOf('## REST API and live events')
  const lines = readme.slice(start).split('\n')
  const first = lines.findIndex((l) => l.startsWith('|'))
  const rows = lines.slice(first + 2)
  const routes: string[] = []
  for (const row of rows) {
    if (!row.startsWith('|')) break
    const cell = row.split(/(?<!\\)\|/)[1] ?? ''
    let methods: string[] = []
    let pending: string[] = []
    let previous = ''
    for (const [, span] of cell.matchAll(/`([^`]+)`/g)) {
      const text = (span as string).replace(/\\\|/g, '|').trim()
      if (/^(GET|POST|PUT|PATCH|DELETE)$/.test(text)) {
        pending.push(text)
        continue
      }
      const m = /^(?:(GET|POST|PUT|PATCH|DELETE)\s+)?([^\s{}]+)$/.exec(text)
      if (!m) continue
      const given = m[2] as string
      if (!/^(\/|…\/|[\w-]+\.[\w|]+$)/.test(given)) continue
      if (m[1] || pending.length > 0) {
        methods = [...pending, ...(m[1] ? [m[1]] : [])]
        pending = []
      }
      if (methods.length === 0) throw new Error(`no method for ${given} in: ${row}`)
      let path = given.split('?')[0] as string
      if (path.startsWith('…/')) {
        // Under the record of the path before: up to its first parameter.
        const segments = previous.split('/')
        const param = segments.findIndex((s) => s.startsWith(':'))
        path = `${segments.slice(0, param + 1).join('/')}${path.slice(1)}`
      } else if (!path.startsWith('/api/') && path !== '/metrics') {
        path = `${previous.slice(0, previous.lastIndexOf('/'))}/${path.replace(/^\//, '')}`
      }
      const last = path.slice(path.lastIndexOf('/') + 1)
      const dot = last.lastIndexOf('.')
      const alternatives =
        dot > 0 && last.includes('|')
          ? last
              .slice(dot + 1)
              .split('|')
              .map(
                (ext) => `${path.slice(0, path.lastIndexOf('/') + 1)}${last.slice(0, dot)}.${ext}`,
              )
          : [path]
      for (const p of alternatives) for (const method of methods) routes.push(`${method} ${p}`)
      previous = alternatives[0] as string
    }
  }
  return routes
}

/** Whether a documented path (`{param}`s) is the README's (`:param`s, or values in their place). */
function sameRoute(documented: string, listed: string): boolean {
  const pattern = documented
    .split(/\{[^}]+\}/)
    .map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))
    .join('[^/.]+')
  return new RegExp(`^${pattern}$`).test(listed)
}

describe('the README route table reader of this test', () => {
  it('reads methods, relative paths and alternatives as a person would', () => {
    const readme = [
      '## REST API and live events',
      '',
      '| route | answers |',
      '| --- | --- |',
      '| `GET /api/a?x=`, `kpis.csv` | … `ok` |',
      '| `PUT`/`GET /api/n/:id/att/:name`, `GET …/history.csv`, `…/history.pdf` | … |',
      '| `POST /api/auth/sign-in`, `/sign-out`; `GET`/`POST /api/users` `{name, role}` | … |',
      '| `GET /api/capas/:id`, `…/history.csv\\|pdf`, `/api/alarms/:id` | … |',
      '',
      '| `GET /not/read` | |',
    ].join('\n')
    expect(readmeRoutes(readme)).toEqual([
      'GET /api/a',
      'GET /api/kpis.csv',
      'PUT /api/n/:id/att/:name',
      'GET /api/n/:id/att/:name',
      'GET /api/n/:id/history.csv',
      'GET /api/n/:id/history.pdf',
      'POST /api/auth/sign-in',
      'POST /api/auth/sign-out',
      'GET /api/users',
      'POST /api/users',
      'GET /api/capas/:id',
      'GET /api/capas/:id/history.csv',
      'GET /api/capas/:id/history.pdf',
      'GET /api/alarms/:id',
    ])
    expect(sameRoute('/api/n/{id}/history.{format}', '/api/n/:id/history.csv')).toBe(true)
    expect(sameRoute('/api/n/{id}', '/api/n/:id/history.csv')).toBe(false)
  })
})

describe('the official OpenAPI 3.1 schema, as this test uses it', () => {
  const validate = openApiValidator()
  const minimal = {
    openapi: '3.1.0',
    info: { title: 't', version: '1' },
    paths: {
      '/x': {
        get: {
          responses: {
            200: {
              description: 'ok',
              content: { 'application/json': { schema: { type: 'object' } } },
            },
          },
        },
      },
    },
  }

  it('accepts a minimal document and refuses broken ones, Schema Objects included', () => {
    expect(validate(minimal), JSON.stringify(validate.errors)).toBe(true)
    expect(validate({ ...minimal, info: { title: 't' } })).toBe(false)
    expect(validate({ ...minimal, openapi: '3.0.3' })).toBe(false)
    const noDescription = structuredClone(minimal)
    const ok: { description?: string } = noDescription.paths['/x'].get.responses[200]
    delete ok.description
    expect(validate(noDescription)).toBe(false)
    const badSchema = structuredClone(minimal)
    const media: { schema: unknown } =
      badSchema.paths['/x'].get.responses[200].content['application/json']
    media.schema = { type: 'obj' }
    expect(validate(badSchema)).toBe(false)
    media.schema = { type: 'object', properties: { a: { xml: { name: 1 } } } }
    expect(validate(badSchema)).toBe(false)
    media.schema = { type: 'object', properties: { a: { type: ['string', 'null'] } } }
    expect(validate(badSchema)).toBe(true)
  })
})

describe('GET /api/openapi.json', () => {
  let gw: TestGateway & { removeDataDir(): Promise<void> }
  let doc: Document

  const call = async (method: string, path: string, token: string | null, body?: unknown) => {
    const res = await fetch(`${gw.gateway.urls.http}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    })
    const type = res.headers.get('content-type') ?? ''
    return {
      status: res.status,
      type,
      body: type.startsWith('application/json') ? await res.json() : await res.text(),
    }
  }

  beforeAll(async () => {
    gw = await startTestGateway(`
mqtt: { broker: { port: 0 } }
cleanrooms:
  - { id: room-b, name: Filling room, grade: B, state: at-rest, areaM2: 4 }
characteristics:
  - { id: fill, name: Fill weight, path: s/filling/l/c, unit: g, source: { mqtt: { topic: t/fill } }, limits: { actionHigh: 505 }, specLimits: { lsl: 495, usl: 505 }, chart: { baselineCount: 5 } }
  - { id: b-l1-05, name: L1 ≥0.5 µm, path: P/Aseptic/Room B, unit: /m³, source: { mqtt: { topic: p/b-l1-05 } }, cleanroom: { room: room-b, location: L1, particleSize: 0.5 } }
`)
    const mqtt = await connectAsync(gw.gateway.urls.mqtt as string)
    const t0 = Date.now() - 60_000
    const values = [500, 501, 499, 500.5, 499.5, 500.2, 499.8, 500.1, 510]
    for (const [i, value] of values.entries())
      await mqtt.publishAsync('t/fill', JSON.stringify({ ts: t0 + i * 1000, value }), { qos: 1 })
    await mqtt.publishAsync('p/b-l1-05', '1200', { qos: 1 })
    await mqtt.publishAsync('t/fill', 'not a number', { qos: 1 })
    await mqtt.endAsync()
    await waitFor('the NC', async () => {
      const ncs = (await gw.get<NonconformanceSummary[]>('/api/nonconformances')).body
      return ncs.length === 1
    })
    await waitFor('the refusal', async () => {
      const h = (await gw.get<Health>('/api/health')).body
      return h.counters.rejected['not-a-number'] === 1
    })
    const res = await fetch(`${gw.gateway.urls.http}/api/openapi.json`)
    expect(res.status).toBe(200)
    doc = (await res.json()) as Document
  })
  afterAll(async () => {
    await gw?.close()
    await gw?.removeDataDir()
  })

  it('is a valid OpenAPI 3.1 document (the OpenAPI Initiative’s schema, Schema Objects checked against its dialect)', () => {
    const validate = openApiValidator()
    expect(validate(doc), JSON.stringify(validate.errors?.slice(0, 5), null, 2)).toBe(true)
    expect(doc.openapi).toBe('3.1.0')
    expect(doc.info.title).toBe('linewatch')
    expect(doc.info.version).toBe(
      (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version,
    )
  })

  it('lists every route the README lists, with its method', () => {
    const listed = readmeRoutes(readFileSync('README.md', 'utf8'))
    expect(listed.length).toBeGreaterThan(40)
    const missing = listed.filter((route) => {
      const [method, path] = route.split(' ') as [string, string]
      return !Object.entries(doc.paths).some(
        ([documented, ops]) => sameRoute(documented, path) && ops[method.toLowerCase()],
      )
    })
    expect(missing).toEqual([])
  })

  it('gives every route a 2xx response with a schema or a content type, and the error shape', () => {
    const without: string[] = []
    for (const [path, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops)) {
        if (!METHODS.includes(method)) continue
        const ok = Object.entries(op.responses).find(([code]) => /^2/.test(code))
        // A body with a schema, or 204 and none.
        const described =
          ok?.[0] === '204'
            ? ok[1].content === undefined
            : Object.values(ok?.[1].content ?? {}).some((media) => media.schema !== undefined)
        if (!ok?.[1].description || !described) without.push(`${method.toUpperCase()} ${path}`)
        const errors = op.responses['4XX']?.content?.['application/json']?.schema as
          | { required?: string[] }
          | undefined
        expect(errors?.required, `${method} ${path}`).toEqual(['statusCode', 'error', 'message'])
      }
    expect(without).toEqual([])
  })

  it('asks for the bearer token on every route but health, sign-in and this document', () => {
    expect(doc.components.securitySchemes).toEqual({
      bearer: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
    })
    const open = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => Array.isArray(op.security) && op.security.length === 0)
        .map(([method]) => `${method.toUpperCase()} ${path}`),
    )
    expect(open.sort()).toEqual([
      'GET /api/health',
      'GET /api/openapi.json',
      'POST /api/auth/sign-in',
    ])
  })

  it('names the role each route needs (x-linewatch-role), and the gateway asks exactly that of a token', async () => {
    // The roles in order (docs/quality.md); each test token has one of them.
    const ROLES = ['viewer', 'operator', 'quality-engineer', 'quality-manager', 'admin']
    const TOKEN_OF: Record<string, string> = {
      viewer: TOKENS.viewer,
      operator: TOKENS.operator,
      'quality-engineer': TOKENS.engineer,
      'quality-manager': TOKENS.manager,
      admin: TOKENS.admin,
    }
    const wrong: string[] = []
    let checked = 0
    for (const [path, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops)) {
        if (!METHODS.includes(method) || (op.security && op.security.length === 0)) continue
        const role = (op as { 'x-linewatch-role'?: string })['x-linewatch-role']
        const name = `${method.toUpperCase()} ${path}`
        if (role === undefined || !ROLES.includes(role)) {
          wrong.push(`${name}: no role named (${role})`)
          continue
        }
        // Any parameter value and an empty body: the role is checked before either is. A
        // report's role is its kind's (the route names the lowest): capability is a viewer's.
        const url = path.replace(/\{([^}]+)\}/g, (_, p) => (p === 'kind' ? 'capability' : 'x'))
        const body = method === 'get' || method === 'delete' ? undefined : {}
        const anonymous = await call(method.toUpperCase(), url, null, body)
        if (anonymous.status !== 401) wrong.push(`${name} without a token: ${anonymous.status}`)
        const below = ROLES[ROLES.indexOf(role) - 1]
        if (below) {
          const refused = await call(method.toUpperCase(), url, TOKEN_OF[below] as string, body)
          if (refused.status !== 403) wrong.push(`${name} as ${below}: ${refused.status}`)
        }
        const allowed = await call(method.toUpperCase(), url, TOKEN_OF[role] as string, body)
        if (allowed.status === 401 || allowed.status === 403)
          wrong.push(`${name} as ${role}: ${allowed.status}`)
        checked++
      }
    expect(wrong).toEqual([])
    expect(checked).toBeGreaterThan(40)
    // Spot checks against the README and docs/quality.md.
    const roleOf = (method: string, path: string) =>
      (doc.paths[path]?.[method] as { 'x-linewatch-role'?: string } | undefined)?.[
        'x-linewatch-role'
      ]
    expect(roleOf('get', '/api/audit/verify')).toBe('admin')
    expect(roleOf('get', '/api/dead-letters')).toBe('quality-engineer')
    expect(roleOf('post', '/api/characteristics/{id}/baseline')).toBe('quality-manager')
    expect(roleOf('get', '/api/characteristics')).toBe('viewer')
  })

  it('documents what the gateway answers: each GET route’s real answer fits its schema', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true })
    ajv.addFormat(
      'date-time',
      (s: string) => /^\d{4}-\d\d-\d\dT/.test(s) && !Number.isNaN(Date.parse(s)),
    )
    // A user and a CAPA, so that their routes have something to answer.
    const user = await call('POST', '/api/users', TOKENS.admin, {
      name: 'qe',
      printedName: 'Quinn Engineer',
      role: 'quality-engineer',
      password: 'correct horse battery',
      reason: 'a user for the test',
    })
    expect(user.status).toBe(200)
    const capa = await call('POST', '/api/capas', TOKENS.engineer, {
      title: 'Check the filler',
      kind: 'corrective',
      owner: 'qe',
      dueAt: Date.now() + 86_400_000,
      ncs: ['NC-000001'],
      reason: 'the fill weight was above HH',
    })
    expect(capa.status, JSON.stringify(capa.body)).toBe(200)
    const capaId = (capa.body as { id: string }).id
    // Path parameters: one real value per resource.
    const values: [RegExp, string][] = [
      [/^\/api\/characteristics\/\{id\}/, 'fill'],
      [/^\/api\/alarms\/\{id\}/, encodeURIComponent('fill:HH')],
      [/^\/api\/nonconformances\/\{id\}/, 'NC-000001'],
      [/^\/api\/capas\/\{id\}/, capaId],
      [/^\/api\/cleanrooms\/\{id\}/, 'room-b'],
      [/^\/api\/users\/\{name\}/, 'qe'],
      [/^\/api\/plant-states\/\{id\}/, 'running'],
      [/^\/api\/reports\/\{kind\}/, 'capability'],
    ]
    const concrete = (path: string): string | undefined => {
      let out = path
      for (const [pattern, value] of values)
        if (pattern.test(out)) out = out.replace(/\{[^}]+\}/, value)
      out = out.replace('{format}', 'csv')
      return /\{/.test(out) ? undefined : out
    }
    const checked: string[] = []
    const unchecked: string[] = []
    for (const [path, ops] of Object.entries(doc.paths)) {
      const op = ops.get
      // Files by name (an attachment, a daily report): downloads of what is not made here.
      if (!op || path === '/metrics' || path.includes('{name}')) continue
      const url = concrete(path)
      if (!url) {
        unchecked.push(path)
        continue
      }
      const res = await call('GET', url, TOKENS.admin)
      expect(res.status, `GET ${url}: ${JSON.stringify(res.body)}`).toBe(200)
      const content = op.responses['200']?.content ?? {}
      const json = content['application/json']?.schema
      if (json) {
        const validate = ajv.compile(json as object)
        expect(
          validate(res.body),
          `GET ${url}: ${JSON.stringify(validate.errors?.slice(0, 3))}`,
        ).toBe(true)
      } else {
        // A file: one of the documented types.
        expect(
          Object.keys(content).some((t) => res.type.startsWith(t)),
          `${url}: ${res.type}`,
        ).toBe(true)
      }
      checked.push(path)
    }
    expect(unchecked).toEqual([])
    expect(checked.length).toBeGreaterThan(25)

    // Acts answer what their schema says too: a sign-in, an acknowledgement.
    const acts: [string, string, string | null, unknown][] = [
      ['POST', '/api/auth/sign-in', null, { user: 'qe', password: 'correct horse battery' }],
      ['POST', `/api/alarms/${encodeURIComponent('fill:HH')}/acknowledge`, TOKENS.operator, {}],
    ]
    for (const [method, url, token, body] of acts) {
      const res = await call(method, url, token, body)
      expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBe(200)
      const path = Object.keys(doc.paths).find((p) => sameRoute(p, url.replace('%3A', ':')))
      const schema =
        doc.paths[path as string]?.[method.toLowerCase()]?.responses['200']?.content?.[
          'application/json'
        ]?.schema
      const validate = ajv.compile(schema as object)
      expect(validate(res.body), `${url}: ${JSON.stringify(validate.errors)}`).toBe(true)
    }
  })

  it('answers exactly as before the response schemas: properties they do not list are still sent', async () => {
    // The session's schema lists no `extra`, and a characteristic's `limits` are loose: a
    // serializer compiled from the schemas would drop what they leave out.
    const c = await call('GET', '/api/characteristics/fill', TOKENS.viewer)
    expect(c.body).toMatchObject({ limits: { actionHigh: 505 }, specLimits: { lsl: 495 } })
    // Listed nowhere in the schema of the basis: what the estimate was made from.
    expect(c.body).toMatchObject({ chart: { control: { basis: { kind: 'estimated', count: 5 } } } })
    const h = await call('GET', '/api/health', null)
    expect((h.body as Health).counters.rejected['not-a-number']).toBe(1)
  })
})

import { readFileSync } from 'node:fs'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import Type from 'typebox'
import {
  NC_STATUSES,
  type NcStatus,
  toCsv,
  USER_ROLES,
  type UserRole,
} from '../../rules/quality/index.ts'
import type { Config } from '../config/index.ts'
import type { NcService } from '../nonconformance/index.ts'
import {
  type AuditTrail,
  actorName,
  type HistoryDocument,
  historyCsv,
  historyPdfOffThread,
  type Outcome,
  type QualityService,
  readHeadFile,
  recordId,
  type UserDirectory,
  verifyAuditTrailInTurns,
} from '../quality/index.ts'
import { bearerToken, type Principal, sha256Hex } from './auth.ts'
import { badRequest, need, notFound } from './replies.ts'
import {
  AttachmentSchema,
  AuditSchema,
  AuditVerdictSchema,
  CapaSchema,
  CapasSchema,
  fileResponse,
  NcListSchema,
  NcSchema,
  NoContent,
  QualityKpisSchema,
  SignInSchema,
  UserSchema,
  UsersSchema,
} from './responses.ts'
import { timeRange } from './time.ts'

/**
 * The quality loop's routes (issue 9): sign-in and users, the NC workflow, CAPAs, KPIs, the
 * audit trail and the exports. Each act's finer rule (which role may do which action in which
 * state) is the pure rule's (rules/quality); the routes let through who may do any of them.
 */
export interface QualityApiContext {
  config: Config
  title: string
  nc: NcService
  quality: QualityService
  users: UserDirectory
  audit: AuditTrail
  records: import('../store/records-db.ts').RecordsDb
  auditHeadPath: string
}

const NcParams = Type.Object({ id: Type.String({ pattern: '^(NC-)?\\d{1,12}$' }) })
const CapaParams = Type.Object({ id: Type.String({ pattern: '^(CAPA-)?\\d{1,12}$' }) })
const Reason = Type.String({ maxLength: 2000, description: 'Why: kept in the audit trail.' })
const ActBody = Type.Object(
  {
    action: Type.String({ minLength: 1, maxLength: 40 }),
    reason: Type.Optional(Reason),
    signature: Type.Optional(
      Type.Object({ password: Type.String({ maxLength: 1024 }) }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: true, maxProperties: 12 },
)
const RangeQuery = Type.Object(
  { from: Type.Optional(Type.String()), to: Type.Optional(Type.String()) },
  { additionalProperties: false },
)
const DAY_MS = 86_400_000

function reply<T>(res: FastifyReply, outcome: Outcome<T>): FastifyReply | T {
  if (outcome.ok) return outcome.value
  const error =
    {
      400: 'Bad Request',
      401: 'Unauthorized',
      403: 'Forbidden',
      404: 'Not Found',
      409: 'Conflict',
      413: 'Payload Too Large',
      429: 'Too Many Requests',
    }[outcome.status] ?? 'Error'
  return res
    .code(outcome.status)
    .send({ statusCode: outcome.status, error, message: outcome.message })
}

const who = (request: FastifyRequest) => ({
  principal: request.principal as Principal,
  address: request.ip,
})

export function registerQualityRoutes(app: FastifyInstance, ctx: QualityApiContext): void {
  const { quality, users } = ctx

  // ——— sign-in and users ———

  app.post(
    '/api/auth/sign-in',
    {
      schema: {
        body: Type.Object(
          {
            user: Type.String({ minLength: 1, maxLength: 64 }),
            password: Type.String({ minLength: 1, maxLength: 1024 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: SignInSchema },
      },
    },
    async (request, res) => {
      const { user, password } = request.body as { user: string; password: string }
      const outcome = await users.signIn(user.trim().toLowerCase(), password, request.ip)
      if (outcome.ok)
        return { token: outcome.token, expiresAt: outcome.expiresAt, user: outcome.user }
      if (outcome.retryAfterSeconds !== undefined)
        res.header('retry-after', String(outcome.retryAfterSeconds))
      return reply(res, { ok: false, status: outcome.status, message: outcome.message })
    },
  )

  app.post(
    '/api/auth/sign-out',
    { preValidation: need('viewer'), schema: { response: { 204: NoContent } } },
    async (request, res) => {
      const token = bearerToken(request.headers.authorization)
      if (token) users.signOut(sha256Hex(token))
      return res.code(204).send()
    },
  )

  app.post(
    '/api/auth/password',
    {
      preValidation: need('viewer'),
      schema: {
        body: Type.Object(
          {
            current: Type.String({ minLength: 1, maxLength: 1024 }),
            next: Type.String({ minLength: 1, maxLength: 1024 }),
          },
          { additionalProperties: false },
        ),
        response: { 204: NoContent },
      },
    },
    async (request, res) => {
      const user = request.principal?.user
      if (!user) return badRequest(res, 'only a signed-in user has a password to change')
      const { current, next } = request.body as { current: string; next: string }
      const confirmed = await users.confirm(user.name, current, request.ip)
      if (!confirmed.ok)
        return reply(res, {
          ok: false,
          status: confirmed.status,
          message:
            confirmed.status === 401 ? 'the current password does not match' : confirmed.message,
        })
      const problems = await users.setPassword(user.name, next, user.name, 'changed by the user')
      if (problems.length > 0) return badRequest(res, problems.join('; '))
      return res.code(204).send()
    },
  )

  app.get(
    '/api/users',
    { preValidation: need('admin', 'listing users'), schema: { response: { 200: UsersSchema } } },
    async () => users.list(),
  )

  app.post(
    '/api/users',
    {
      preValidation: need('admin', 'adding users'),
      schema: {
        response: { 200: UserSchema },
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 64 }),
            printedName: Type.String({ minLength: 1, maxLength: 200 }),
            role: Type.Union(USER_ROLES.map((r) => Type.Literal(r))),
            password: Type.String({ minLength: 1, maxLength: 1024 }),
            reason: Reason,
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, res) => {
      const body = request.body as {
        name: string
        printedName: string
        role: UserRole
        password: string
        reason: string
      }
      if (body.reason.trim().length < 3) return badRequest(res, 'a reason is required')
      const added = await users.add(body, actorName(request.principal as Principal), body.reason)
      if (Array.isArray(added)) return badRequest(res, added.join('; '))
      return added
    },
  )

  app.post(
    '/api/users/:name/actions',
    {
      preValidation: need('admin', 'changing users'),
      schema: {
        response: { 200: UserSchema },
        params: Type.Object({ name: Type.String({ maxLength: 64 }) }),
        body: Type.Object(
          {
            action: Type.Union(
              ['disable', 'enable', 'set-role', 'reset-password'].map((a) => Type.Literal(a)),
            ),
            reason: Reason,
            role: Type.Optional(Type.Union(USER_ROLES.map((r) => Type.Literal(r)))),
            password: Type.Optional(Type.String({ maxLength: 1024 })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, res) => {
      const { name } = request.params as { name: string }
      const body = request.body as {
        action: string
        reason: string
        role?: UserRole
        password?: string
      }
      if (body.reason.trim().length < 3) return badRequest(res, 'a reason is required')
      if (!users.get(name)) return notFound(res, `no user "${name}"`)
      const by = actorName(request.principal as Principal)
      let problems: string[]
      if (body.action === 'set-role') {
        if (!body.role) return badRequest(res, 'set-role needs the role')
        problems = users.setRole(name, body.role, by, body.reason)
      } else if (body.action === 'reset-password') {
        if (!body.password) return badRequest(res, 'reset-password needs the new password')
        problems = await users.setPassword(name, body.password, by, body.reason)
      } else problems = users.setDisabled(name, body.action === 'disable', by, body.reason)
      if (problems.length > 0) return badRequest(res, problems.join('; '))
      return users.get(name)
    },
  )

  // ——— nonconformances ———

  app.get(
    '/api/nonconformances',
    {
      preValidation: need('viewer'),
      schema: {
        querystring: Type.Object(
          {
            status: Type.Optional(
              Type.String({
                pattern: `^(${NC_STATUSES.join('|')})(,(${NC_STATUSES.join('|')}))*$`,
                description: 'One state or several, comma-separated.',
              }),
            ),
            characteristic: Type.Optional(Type.String({ maxLength: 128 })),
            owner: Type.Optional(Type.String({ maxLength: 64 })),
            overdue: Type.Optional(Type.Boolean()),
            limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 500 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: NcListSchema },
      },
    },
    async (request) => {
      const q = request.query as {
        status?: string
        characteristic?: string
        owner?: string
        overdue?: boolean
        limit: number
      }
      return ctx.nc.list({ ...q, status: q.status?.split(',') as NcStatus[] | undefined })
    },
  )

  app.get(
    '/api/nonconformances/:id',
    { preValidation: need('viewer'), schema: { params: NcParams, response: { 200: NcSchema } } },
    async (request, res) => {
      const { id } = request.params as { id: string }
      const found = await quality.ncView(recordId(id, 'NC') as number)
      return found ?? notFound(res, `no nonconformance ${id}`)
    },
  )

  app.post(
    '/api/nonconformances/:id/actions',
    {
      preValidation: need('operator', 'acting on an NC'),
      schema: { params: NcParams, body: ActBody, response: { 200: NcSchema } },
    },
    async (request, res) => {
      const { id } = request.params as { id: string }
      const body = request.body as Parameters<QualityService['ncAct']>[1]
      return reply(res, await quality.ncAct(recordId(id, 'NC') as number, body, who(request)))
    },
  )

  // Attachments take the raw body, whatever its type: a scope of their own, without the JSON parser.
  const maxBytes = ctx.config.quality.attachments.maxBytes
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers()
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBytes }, (_r, body, done) =>
      done(null, body),
    )
    scope.put(
      '/api/nonconformances/:id/attachments/:name',
      {
        bodyLimit: maxBytes,
        preValidation: need('operator', 'attaching files to an NC'),
        schema: {
          response: { 200: AttachmentSchema },
          params: Type.Object({
            id: Type.String({ pattern: '^(NC-)?\\d{1,12}$' }),
            name: Type.String({ minLength: 1, maxLength: 128 }),
          }),
        },
      },
      async (request, res) => {
        const { id, name } = request.params as { id: string; name: string }
        const data = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
        if (data.length === 0) return badRequest(res, 'the file is empty')
        const contentType = String(request.headers['content-type'] ?? 'application/octet-stream')
        return reply(
          res,
          await quality.attach(
            recordId(id, 'NC') as number,
            { name, contentType: contentType.slice(0, 200), data },
            who(request),
          ),
        )
      },
    )
  })

  app.get(
    '/api/nonconformances/:id/attachments/:name',
    {
      preValidation: need('viewer'),
      schema: {
        response: {
          200: fileResponse('The file as uploaded, with its content type, as a download.', [
            'application/octet-stream',
          ]),
        },
        params: Type.Object({
          id: Type.String({ pattern: '^(NC-)?\\d{1,12}$' }),
          name: Type.String({ minLength: 1, maxLength: 128 }),
        }),
      },
    },
    async (request, res) => {
      const { id, name } = request.params as { id: string; name: string }
      const found = quality.attachment(recordId(id, 'NC') as number, name)
      if (!found) return notFound(res, `no attachment "${name}" on ${id}`)
      // A download, never a page of this origin: an uploaded HTML file cannot run here.
      return res
        .type(found.view.contentType)
        .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(name)}`)
        .header('content-security-policy', "default-src 'none'; sandbox")
        .send(readFileSync(found.path))
    },
  )

  const exported = async (
    res: FastifyReply,
    doc: HistoryDocument | undefined,
    format: string,
    file: string,
  ) => {
    if (!doc) return notFound(res, `no ${file}`)
    if (format === 'csv')
      return res
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${file}-history.csv"`)
        .send(historyCsv(doc))
    return res
      .type('application/pdf')
      .header('content-disposition', `attachment; filename="${file}-history.pdf"`)
      .send(await historyPdfOffThread(doc))
  }
  const subtitle = () => `${ctx.title} — exported ${new Date().toISOString()}`

  // The full history of a record, as CSV or PDF.
  const HISTORIES = [
    { path: 'nonconformances', prefix: 'NC', history: quality.ncHistory },
    { path: 'capas', prefix: 'CAPA', history: quality.capaHistory },
  ] as const
  for (const { path, prefix, history } of HISTORIES) {
    app.get(
      `/api/${path}/:id/history.:format`,
      {
        preValidation: need('quality-engineer', 'exporting a record'),
        schema: {
          response: {
            200: fileResponse('The record’s full history, as a download.', [
              'text/csv',
              'application/pdf',
            ]),
          },
          params: Type.Object({
            id: Type.String({ pattern: `^(${prefix}-)?\\d{1,12}$` }),
            format: Type.Union([Type.Literal('csv'), Type.Literal('pdf')]),
          }),
        },
      },
      async (request, res) => {
        const { id, format } = request.params as { id: string; format: string }
        const n = recordId(id, prefix) as number
        const file = `${prefix}-${String(n).padStart(6, '0')}`
        return exported(res, await history(n, subtitle()), format, file)
      },
    )
  }

  // ——— CAPA ———

  app.get(
    '/api/capas',
    {
      preValidation: need('viewer'),
      schema: {
        querystring: Type.Object(
          {
            status: Type.Optional(
              Type.Union(
                ['open', 'implemented', 'verified', 'approved', 'closed'].map((s) =>
                  Type.Literal(s),
                ),
              ),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: CapasSchema },
      },
    },
    async (request) => quality.capas((request.query as { status?: string }).status),
  )

  app.post(
    '/api/capas',
    {
      preValidation: need('quality-engineer', 'opening a CAPA'),
      schema: {
        response: { 200: CapaSchema },
        body: Type.Object(
          {
            title: Type.String({ minLength: 1, maxLength: 300 }),
            kind: Type.Union([Type.Literal('corrective'), Type.Literal('preventive')]),
            owner: Type.String({ minLength: 1, maxLength: 64 }),
            dueAt: Type.Number(),
            ncs: Type.Array(Type.String({ maxLength: 20 }), { minItems: 1, maxItems: 100 }),
            reason: Reason,
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, res) =>
      reply(
        res,
        await quality.openCapa(
          request.body as Parameters<QualityService['openCapa']>[0],
          who(request),
        ),
      ),
  )

  app.get(
    '/api/capas/:id',
    {
      preValidation: need('viewer'),
      schema: { params: CapaParams, response: { 200: CapaSchema } },
    },
    async (request, res) => {
      const { id } = request.params as { id: string }
      return (
        (await quality.capaView(recordId(id, 'CAPA') as number)) ?? notFound(res, `no CAPA ${id}`)
      )
    },
  )

  app.post(
    '/api/capas/:id/actions',
    {
      preValidation: need('operator', 'acting on a CAPA'),
      schema: { params: CapaParams, body: ActBody, response: { 200: CapaSchema } },
    },
    async (request, res) => {
      const { id } = request.params as { id: string }
      const body = request.body as Parameters<QualityService['capaAct']>[1]
      return reply(res, await quality.capaAct(recordId(id, 'CAPA') as number, body, who(request)))
    },
  )

  // ——— KPIs and the audit trail ———

  const kpiRange = (query: { from?: string; to?: string }) => timeRange(query, 90 * DAY_MS)

  app.get(
    '/api/quality/kpis',
    {
      preValidation: need('quality-engineer', 'reading the quality KPIs'),
      schema: { querystring: RangeQuery, response: { 200: QualityKpisSchema } },
    },
    async (request, res) => {
      const range = kpiRange(request.query as { from?: string; to?: string })
      if (typeof range === 'string') return badRequest(res, range)
      return quality.kpis(range.from, range.to)
    },
  )

  app.get(
    '/api/quality/kpis.csv',
    {
      preValidation: need('quality-engineer', 'reading the quality KPIs'),
      schema: {
        querystring: RangeQuery,
        response: { 200: fileResponse('The KPIs as CSV, as a download.', ['text/csv']) },
      },
    },
    async (request, res) => {
      const range = kpiRange(request.query as { from?: string; to?: string })
      if (typeof range === 'string') return badRequest(res, range)
      const k = await quality.kpis(range.from, range.to)
      const days = (ms: number | null) => (ms === null ? null : ms / DAY_MS)
      const rows = [
        { figure: 'NCs open', value: k.ncs.open },
        { figure: 'NCs overdue', value: k.ncs.overdue },
        { figure: 'NCs opened in range', value: k.ncs.opened },
        { figure: 'NCs closed in range', value: k.ncs.closed },
        { figure: 'NC mean days to close', value: days(k.ncs.meanTimeToCloseMs) },
        { figure: 'NC recurrence rate', value: k.ncs.recurrenceRate },
        { figure: 'CAPAs open', value: k.capas.open },
        { figure: 'CAPAs overdue', value: k.capas.overdue },
        { figure: 'CAPAs closed in range', value: k.capas.closed },
        { figure: 'CAPA mean days to close', value: days(k.capas.meanTimeToCloseMs) },
        ...k.paretoByCause.map((p) => ({
          figure: `NCs by cause: ${p.name}`,
          value: p.count,
          percent: p.percent,
          cumulative: p.cumulativePercent,
        })),
        ...k.paretoByCharacteristic.map((p) => ({
          figure: `NCs by characteristic: ${p.name}`,
          value: p.count,
          percent: p.percent,
          cumulative: p.cumulativePercent,
        })),
      ]
      return res
        .type('text/csv; charset=utf-8')
        .header('content-disposition', 'attachment; filename="quality-kpis.csv"')
        .send(
          toCsv(rows, [
            'figure',
            'value',
            { key: 'percent', header: 'percent' },
            { key: 'cumulative', header: 'cumulative percent' },
          ]),
        )
    },
  )

  app.get(
    '/api/audit',
    {
      preValidation: need('quality-engineer', 'reading the audit trail'),
      schema: {
        querystring: Type.Object(
          {
            entity: Type.Optional(Type.String({ maxLength: 40 })),
            id: Type.Optional(Type.String({ maxLength: 128 })),
            from: Type.Optional(Type.String()),
            to: Type.Optional(Type.String()),
            limit: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: AuditSchema },
      },
    },
    async (request, res) => {
      const q = request.query as {
        entity?: string
        id?: string
        from?: string
        to?: string
        limit: number
      }
      let range: { from?: number; to?: number } = {}
      if (q.from !== undefined || q.to !== undefined) {
        const r = timeRange({ from: q.from ?? '0', to: q.to })
        if (typeof r === 'string') return badRequest(res, r)
        range = r
      }
      return ctx.audit.list({ entity: q.entity, entityId: q.id, ...range, limit: q.limit })
    },
  )

  app.get(
    '/api/audit/verify',
    {
      preValidation: need('admin', 'verifying the audit trail'),
      schema: { response: { 200: AuditVerdictSchema } },
    },
    async () => {
      const head = readHeadFile(ctx.auditHeadPath)
      // A chunk per turn: the readings go on while a long trail is verified.
      const verdict = await verifyAuditTrailInTurns(ctx.records, head, ctx.audit.chain)
      return verdict.ok ? { ...verdict, outside: head ? [ctx.auditHeadPath] : [] } : verdict
    },
  )
}

import { existsSync } from 'node:fs'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import type { AlarmService } from '../alarms/index.ts'
import type { Config } from '../config/index.ts'
import type { Health, Session } from '../contract.ts'
import type { RecentDeviations } from '../live/recent-deviations.ts'
import type { NcService } from '../nonconformance/index.ts'
import type { Pipeline } from '../pipeline/index.ts'
import { characteristicView } from '../pipeline/runtime.ts'
import { RecentCounter } from '../recent-errors.ts'
import { REJECT_REASONS, type RejectReason, type Source } from '../sources/types.ts'
import type { TimeSeriesStore } from '../store/types.ts'
import type { WebhookStatus } from '../webhooks/index.ts'
import { registerAlarmRoutes } from './alarms.ts'
import { type Auth, bearerToken, type Principal, principalName } from './auth.ts'
import { registerChartRoutes } from './charts.ts'
import { registerCleanroomRoutes } from './cleanrooms.ts'
import { registerDeviationRoutes } from './deviations.ts'
import { registerMetricsRoute } from './metrics.ts'
import { registerOpenApi } from './openapi.ts'
import { type QualityApiContext, registerQualityRoutes } from './quality.ts'
import { conflict, need, notFound } from './replies.ts'
import { registerReportRoutes } from './reports.ts'
import {
  CharacteristicSchema,
  CharacteristicsSchema,
  DeadLettersSchema,
  HealthSchema,
  LimitChangeSchema,
  LimitChangesSchema,
  SessionSchema,
} from './responses.ts'
import { registerSparkplugRoutes } from './sparkplug.ts'

/**
 * The REST API under /api (payloads declared in contract.ts) and the dashboard's files.
 * Every route but /api/health needs a principal with at least the route's role.
 */
export interface ApiContext {
  config: Config
  title: string
  version: string
  bootId: string
  startedAt: number
  auth: Auth
  pipeline: Pipeline
  nc: NcService
  alarms: AlarmService
  store: TimeSeriesStore
  sources: () => Source[]
  dashboardDir: string
  /**
   * Internal errors with their times (the pipeline's failed readings, the event bus's failed
   * listeners). Without it, health times the pipeline's error counter when it sees it rise.
   */
  recentErrors?: RecentCounter
  /** The records writer's status. */
  records?: () => NonNullable<Health['records']>
  /** The live hub, for its connected and dropped dashboards. */
  live?: { clients(): number; dropped(): number; redis(): boolean | null }
  /** The quality loop: users, NC workflow, CAPAs, audit trail (issue 9). */
  quality?: Omit<QualityApiContext, 'config' | 'title' | 'nc'>
  /** Webhooks' delivery states, for health. */
  webhooks?: () => WebhookStatus[]
  /** The plant's latest deviations, for GET /api/deviations (the wall display's strip). */
  deviations?: RecentDeviations
  /** A gateway among several: the partitions it holds (gateway/cluster). */
  cluster?: () => {
    gateway: string
    partitions: number
    held: number[]
    characteristics: number
  } | null
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null
  }
}

function clusterHealth(ctx: ApiContext, notOwned: number): Pick<Health, 'cluster'> {
  const c = ctx.cluster?.()
  if (!c) return {}
  return {
    cluster: {
      gateway: c.gateway,
      partitions: c.partitions,
      held: c.held,
      characteristics: c.characteristics,
      notOwned,
    },
  }
}

const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) })

/**
 * The gateway's health, as GET /api/health answers it (and `Gateway.health()` for a program that
 * embeds the gateway): degraded while errors are recent, not for ever after one.
 */
function createHealth(ctx: ApiContext): () => Health {
  const { pipeline, store } = ctx
  const recentErrors = ctx.recentErrors ?? new RecentCounter()
  let seenErrors = 0
  return () => {
    const now = Date.now()
    const sources = ctx.sources().map((s) => s.status())
    const storeStatus = store.status()
    const counters = pipeline.counters()
    if (!ctx.recentErrors && counters.errors > seenErrors) {
      recentErrors.add(now, counters.errors - seenErrors)
      seenErrors = counters.errors
    }
    const recent = recentErrors.count(now)
    const redis = ctx.live?.redis() ?? null
    return {
      status:
        storeStatus.healthy && sources.every((s) => s.connected) && recent === 0 && redis !== false
          ? 'ok'
          : 'degraded',
      version: ctx.version,
      bootId: ctx.bootId,
      startedAt: new Date(ctx.startedAt).toISOString(),
      sources,
      store: storeStatus,
      ...(ctx.records ? { records: ctx.records() } : {}),
      counters: {
        readings: counters.readings,
        rejected: counters.rejected,
        prunedDeadLetters: pipeline.deadLetters.pruned(),
      },
      errors: { total: recentErrors.total(), recent, windowMs: recentErrors.windowMs },
      ...(ctx.live
        ? {
            live: {
              clients: ctx.live.clients(),
              dropped: ctx.live.dropped(),
              ...(redis === null ? {} : { redis }),
            },
          }
        : {}),
      ...clusterHealth(ctx, counters.notOwned),
    }
  }
}

/** The routes; returns the health report's function (the route's, for `Gateway.health()`). */
export async function registerApi(
  app: FastifyInstance,
  ctx: ApiContext,
): Promise<{ health: () => Health }> {
  const { pipeline, nc, store } = ctx
  // First: the OpenAPI document lists the routes declared after it (GET /api/openapi.json).
  await registerOpenApi(app, {
    title: ctx.title,
    version: ctx.version,
    metricsAnonymous: ctx.config.metrics.anonymous,
  })

  app.decorateRequest('principal', null)
  app.addHook('onRequest', async (request) => {
    request.principal = ctx.auth.resolve(bearerToken(request.headers.authorization))
  })
  app.addHook('onSend', async (_request, reply, payload) => {
    // Defence in depth for the dashboard: no inline scripts, no framing by other sites.
    // A route may set a stricter policy of its own (attachments: sandboxed downloads).
    if (!reply.hasHeader('content-security-policy'))
      reply.header(
        'content-security-policy',
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'self'; base-uri 'none'; form-action 'self'",
      )
    reply.header('x-content-type-options', 'nosniff')
    reply.header('referrer-policy', 'no-referrer')
    return payload
  })

  const health = createHealth(ctx)
  app.get(
    '/api/health',
    { schema: { response: { 200: HealthSchema } } },
    async (): Promise<Health> => health(),
  )

  app.get(
    '/api/session',
    { preValidation: need('viewer'), schema: { response: { 200: SessionSchema } } },
    async (request): Promise<Session> => {
      const p = request.principal as Principal
      return {
        title: ctx.title,
        bootId: ctx.bootId,
        role: p.role,
        tokenId: p.tokenId,
        user: p.user,
        maxShelveMinutes: ctx.config.alarms.maxShelveMinutes,
        shiftStarts: ctx.config.shifts.starts.map(hoursOf),
        kiosk: kioskOf(ctx.config, p.tokenId),
      }
    },
  )

  app.get(
    '/api/characteristics',
    { preValidation: need('viewer'), schema: { response: { 200: CharacteristicsSchema } } },
    async () =>
      [...pipeline.runtimes()].map((rt) => characteristicView(rt, nc.openCount(rt.config.id))),
  )

  app.get(
    '/api/characteristics/:id',
    {
      preValidation: need('viewer'),
      schema: { params: IdParams, response: { 200: CharacteristicSchema } },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string }
      const rt = pipeline.runtime(id)
      if (!rt) return notFound(reply, `no characteristic "${id}"`)
      return characteristicView(rt, nc.openCount(id))
    },
  )

  // Readings and chart points over a range, downsampled on request (chart history): charts.ts.
  registerChartRoutes(app, ctx)

  app.get(
    '/api/dead-letters',
    {
      preValidation: need('quality-engineer'),
      schema: {
        querystring: Type.Object(
          {
            reason: Type.Optional(Type.Union(REJECT_REASONS.map((r) => Type.Literal(r)))),
            limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 100 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: DeadLettersSchema },
      },
    },
    async (request) => {
      const q = request.query as { reason?: RejectReason; limit: number }
      return pipeline.deadLetters.list(q)
    },
  )

  app.get(
    '/api/characteristics/:id/limit-changes',
    {
      preValidation: need('viewer'),
      schema: {
        params: IdParams,
        querystring: Type.Object(
          { limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 100 }) },
          { additionalProperties: false },
        ),
        response: { 200: LimitChangesSchema },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string }
      if (!pipeline.runtime(id)) return notFound(reply, `no characteristic "${id}"`)
      return pipeline.limitChanges.list(id, (request.query as { limit: number }).limit)
    },
  )

  // Limits change only by an explicit, recorded act: who (the token), when, why, before and after.
  app.post(
    '/api/characteristics/:id/baseline',
    {
      preValidation: need('quality-manager', 'changing control limits'),
      schema: {
        params: IdParams,
        body: Type.Object(
          {
            action: Type.Union([Type.Literal('restart'), Type.Literal('end-baseline')]),
            reason: Type.String({
              minLength: 3,
              maxLength: 2000,
              description: 'Why the limits change: kept in the record.',
            }),
          },
          { additionalProperties: false },
        ),
        response: { 200: LimitChangeSchema },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string }
      const { action, reason } = request.body as {
        action: 'restart' | 'end-baseline'
        reason: string
      }
      if (!pipeline.runtime(id)) return notFound(reply, `no characteristic "${id}"`)
      const by = principalName(request.principal)
      const result = pipeline.changeBaseline(id, action, reason, by)
      if (typeof result === 'string') {
        return conflict(reply, result)
      }
      ctx.quality?.audit.append({
        at: result.ts,
        actor: by,
        action: `limits: ${action}`,
        entity: 'limits',
        entityId: id,
        reason,
        before: result.before,
        after: result.after,
      })
      return result
    },
  )

  registerAlarmRoutes(app, ctx.alarms)
  if (ctx.quality)
    registerQualityRoutes(app, { ...ctx.quality, config: ctx.config, title: ctx.title, nc })
  registerCleanroomRoutes(app, ctx.config, store)
  registerSparkplugRoutes(app, ctx.sources)
  registerReportRoutes(app, ctx)
  registerMetricsRoute(app, {
    version: ctx.version,
    bootId: ctx.bootId,
    anonymous: ctx.config.metrics.anonymous,
    pipeline,
    nc,
    alarms: ctx.alarms,
    store,
    sources: ctx.sources,
    live: ctx.live,
    records: ctx.records,
  })
  registerDeviationRoutes(app, ctx.deviations)

  app.setNotFoundHandler((request, reply) =>
    notFound(reply, `no route ${request.method} ${request.url.split('?')[0]}`),
  )

  if (existsSync(ctx.dashboardDir)) {
    await app.register(fastifyStatic, {
      root: ctx.dashboardDir,
      index: 'index.html',
      wildcard: false,
    })
  } else {
    app.get('/', async (_request, reply) =>
      reply
        .code(503)
        .type('text/plain')
        .send('The dashboard is not built: run `npm run build` (npm install does it).\n'),
    )
  }
  return { health }
}

/** A display token's kiosk settings (area or rotation imply kiosk mode), or null. */
function kioskOf(config: Config, tokenId: string | null): Session['kiosk'] {
  const t = tokenId === null ? undefined : config.auth.tokens.find((k) => k.id === tokenId)
  if (!t || (!t.kiosk && t.area === undefined && t.rotateSeconds === undefined)) return null
  return { area: t.area ?? null, rotateSeconds: t.rotateSeconds ?? null }
}

/** "06:30" as hours after midnight (6.5). */
function hoursOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number]
  return h + m / 60
}

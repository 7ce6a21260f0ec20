import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import Type from 'typebox'
import { parseDailyFileName } from '../../rules/reports/schedule.ts'
import {
  REPORT_FORMATS,
  REPORT_KINDS,
  REPORT_ROLES,
  type ReportFormat,
  type ReportKind,
} from '../../rules/reports/shapes.ts'
import { reportCsv } from '../../rules/reports/tables.ts'
import {
  createReportService,
  dailyFilePath,
  dailyFolder,
  ReportUnavailable,
  reportPdfOffThread,
} from '../reports/index.ts'
import type { ApiContext } from './index.ts'
import { badRequest, need, notFound, withRole } from './replies.ts'
import { timeRange } from './time.ts'

/**
 * The reports (issue 11, docs/reports.md): GET /api/reports/:kind as JSON, CSV or PDF, and the
 * files of the daily report. Roles: the capability summary and the alarm KPIs are a viewer's
 * (the live capability and GET /api/alarm-kpis are); the NC Pareto, the CAPA status and the
 * audit trail a quality engineer's (as GET /api/quality/kpis and GET /api/audit), and so are the
 * daily files (they hold both).
 */

const HOUR_MS = 3_600_000
/** The range when `from` is not given: the day before `to`, or 30 days for the quality records. */
export const REPORT_DEFAULT_WINDOW_MS: Readonly<Record<ReportKind, number>> = {
  capability: 24 * HOUR_MS,
  'alarm-kpis': 24 * HOUR_MS,
  'nc-pareto': 30 * 24 * HOUR_MS,
  'capa-status': 30 * 24 * HOUR_MS,
  'audit-trail': 30 * 24 * HOUR_MS,
}

const KindParams = Type.Object({
  kind: Type.Union(
    REPORT_KINDS.map((k) => Type.Literal(k)),
    { description: 'capability, nc-pareto, alarm-kpis, capa-status or audit-trail' },
  ),
})

const ReportQuery = Type.Object(
  {
    from: Type.Optional(
      Type.String({
        description:
          'ISO 8601 with a zone, or epoch ms (default: to − 24 h; 30 days for nc-pareto, capa-status and audit-trail)',
      }),
    ),
    to: Type.Optional(
      Type.String({ description: 'ISO 8601 with a zone, or epoch ms (default: now)' }),
    ),
    area: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 400,
        description:
          'capability: characteristics whose ISA-95 path is or starts with it; alarm-kpis: the operator position (area)',
      }),
    ),
    entity: Type.Optional(
      Type.String({
        pattern: '^[a-z][a-z-]{0,39}$',
        description:
          'audit-trail: only the entries about this (config, user, limits, alarm, nc, capa, signature)',
      }),
    ),
    format: Type.Union(
      REPORT_FORMATS.map((f) => Type.Literal(f)),
      { default: 'json' },
    ),
  },
  { additionalProperties: false },
)

const DailyFileParams = Type.Object({
  name: Type.String({ pattern: '^daily-\\d{4}-\\d{2}-\\d{2}-[a-z-]+\\.(pdf|csv)$', maxLength: 80 }),
})

/** "2026-12-06T06:00:00.000Z" → "20261206T0600Z", for file names. */
const compact = (ts: number) =>
  new Date(ts).toISOString().slice(0, 16).replace(/[-:]/g, '').concat('Z')

export function registerReportRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const reports = createReportService({
    title: ctx.title,
    pipeline: ctx.pipeline,
    store: ctx.store,
    alarms: ctx.alarms,
    quality: ctx.quality?.quality,
    audit: ctx.quality?.audit,
  })
  const folder = dailyFolder(resolve(ctx.config.dataDir), ctx.config.reports?.daily)

  app.get(
    '/api/reports/:kind',
    {
      // The role is the report's (REPORT_ROLES); the document names the lowest, viewer. A kind
      // there is not is any signed-in principal's to ask for: the validation refuses it (400).
      preValidation: withRole('viewer', async (request: FastifyRequest, reply: FastifyReply) => {
        const { kind } = request.params as { kind: ReportKind }
        const role = Object.hasOwn(REPORT_ROLES, kind) ? REPORT_ROLES[kind] : 'viewer'
        await need(role, `the ${kind} report`)(request, reply)
      }),
      schema: {
        params: KindParams,
        querystring: ReportQuery,
        response: {
          200: {
            description:
              'The report (Report in gateway/contract.ts) as JSON; with format=csv text/csv, with format=pdf application/pdf (a download).',
            type: 'object',
            additionalProperties: true,
          },
        },
      },
    },
    async (request, reply) => {
      const { kind } = request.params as { kind: ReportKind }
      const q = request.query as {
        from?: string
        to?: string
        area?: string
        entity?: string
        format: ReportFormat
      }
      const range = timeRange(q, REPORT_DEFAULT_WINDOW_MS[kind])
      if (typeof range === 'string') return badRequest(reply, range)
      if (range.from === range.to)
        return badRequest(reply, 'the range is empty: from must be before to')
      let report: Awaited<ReturnType<typeof reports.build>>
      try {
        report = await reports.build(kind, { ...range, area: q.area, entity: q.entity })
      } catch (e) {
        if (e instanceof ReportUnavailable)
          return (reply as FastifyReply)
            .code(503)
            .send({ statusCode: 503, error: 'Service Unavailable', message: e.message })
        throw e
      }
      if (q.format === 'json') return report
      const file = `linewatch-${kind}-${compact(range.from)}-${compact(range.to)}.${q.format}`
      reply.header('content-disposition', `attachment; filename="${file}"`)
      if (q.format === 'csv') return reply.type('text/csv; charset=utf-8').send(reportCsv(report))
      return reply.type('application/pdf').send(await reportPdfOffThread(report))
    },
  )

  app.get(
    '/api/reports/daily',
    {
      preValidation: need('quality-engineer', 'reading the daily reports'),
      schema: {
        response: {
          200: {
            description: 'The daily report files in the folder, newest first.',
            type: 'array',
            items: {
              type: 'object',
              properties: {
                name: { type: 'string' },
                date: { type: 'string' },
                kind: { type: 'string' },
                format: { type: 'string' },
                bytes: { type: 'integer' },
                path: { type: 'string' },
              },
            },
          },
        },
      },
    },
    async () => {
      let names: string[]
      try {
        names = readdirSync(folder)
      } catch {
        return []
      }
      return names
        .flatMap((name) => {
          const file = parseDailyFileName(name)
          if (!file) return []
          try {
            const bytes = statSync(join(folder, name)).size
            return [{ name, ...file, bytes, path: dailyFilePath(name) }]
          } catch {
            return []
          }
        })
        .sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0))
    },
  )

  app.get(
    '/api/reports/daily/:name',
    {
      preValidation: need('quality-engineer', 'reading the daily reports'),
      schema: {
        params: DailyFileParams,
        response: {
          200: {
            description: 'The file: application/pdf or text/csv (a download).',
            type: 'string',
          },
        },
      },
    },
    async (request, reply) => {
      const { name } = request.params as { name: string }
      const file = parseDailyFileName(name)
      if (!file) return notFound(reply, `no daily report file "${name}"`)
      let data: Buffer
      try {
        data = readFileSync(join(folder, name))
      } catch {
        return notFound(reply, `no daily report file "${name}"`)
      }
      return reply
        .type(file.format === 'pdf' ? 'application/pdf' : 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${name}"`)
        .send(data)
    },
  )
}

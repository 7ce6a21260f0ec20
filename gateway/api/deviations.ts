import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import type { RecentDeviationView } from '../contract.ts'
import { RECENT_DEVIATIONS, type RecentDeviations } from '../live/recent-deviations.ts'
import { badRequest, need } from './replies.ts'
import { timeRange } from './time.ts'

/** The shape of RecentDeviationView (contract.ts), for the response's schema. */
const RecentDeviation = Type.Object(
  {
    characteristic: Type.String(),
    cause: Type.String({ description: 'A limit zone (action-high, …) or a rule (N1…, CUSUM)' }),
    kind: Type.Union([Type.Literal('limit'), Type.Literal('rule')]),
    ts: Type.Number({ description: 'The onset, UTC ms' }),
    value: Type.Number(),
    limit: Type.Union([Type.Number(), Type.Null()]),
    pane: Type.Union([Type.String(), Type.Null()]),
    count: Type.Integer({ minimum: 1 }),
    lastTs: Type.Number(),
    lastValue: Type.Union([Type.Number(), Type.Null()]),
    endedAt: Type.Union([Type.Number(), Type.Null()]),
  },
  { additionalProperties: false },
)

/**
 * `GET /api/deviations?from=&to=&limit=`: the plant's latest deviations (limit excursions and
 * run-rule signals), newest onset first, each once with its count so far: what the wall
 * display's strip shows after a reload. From a bounded ring (RECENT_DEVIATIONS entries, read
 * back from the store after a restart): see gateway/live/recent-deviations.ts.
 */
export function registerDeviationRoutes(
  app: FastifyInstance,
  deviations: RecentDeviations | undefined,
): void {
  app.get(
    '/api/deviations',
    {
      preValidation: need('viewer'),
      schema: {
        querystring: Type.Object(
          {
            from: Type.Optional(
              Type.String({ description: 'ISO 8601 with a zone, or epoch ms (default: all held)' }),
            ),
            to: Type.Optional(
              Type.String({ description: 'ISO 8601 with a zone, or epoch ms (default: all held)' }),
            ),
            limit: Type.Integer({ minimum: 1, maximum: RECENT_DEVIATIONS, default: 40 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(RecentDeviation) },
      },
    },
    async (request, reply) => {
      const q = request.query as { from?: string; to?: string; limit: number }
      // Onsets at any time by default: a device whose clock runs ahead is not left out.
      const range = timeRange({ from: q.from ?? '0', to: q.to ?? String(Number.MAX_SAFE_INTEGER) })
      if (typeof range === 'string') return badRequest(reply, range)
      if (!deviations) return []
      // Just after a start the ring is being read back from the store: wait for it, briefly.
      await deviations.seeded(2000)
      const list: RecentDeviationView[] = deviations.list({ ...range, limit: q.limit })
      return list
    },
  )
}

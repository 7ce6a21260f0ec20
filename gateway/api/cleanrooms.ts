import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import { annex1ActionLimit, classifyRoom, type ParticleSample } from '../../rules/index.ts'
import type { Config } from '../config/index.ts'
import type { CleanroomClassificationView, CleanroomView } from '../contract.ts'
import type { TimeSeriesStore } from '../store/types.ts'
import { badRequest, need, notFound } from './replies.ts'
import { ClassificationSchema, CleanroomsSchema } from './responses.ts'
import { timeRange } from './time.ts'

/**
 * The cleanrooms of the GMP profile: each room with its particle counters and their Annex 1
 * action limits, and a room's ISO 14644-1 classification from the counts its locations stored
 * in a time range (each location's mean per size, ISO 14644-1:2015 A.6; rules/cleanroom.ts).
 */

const DAY_MS = 86_400_000
/** Readings per counter a classification reads at most (a day of one-second counts is 86,400). */
const MAX_READINGS = 100_000

export function cleanroomViews(config: Config): CleanroomView[] {
  return config.cleanrooms.map((room) => ({
    id: room.id,
    name: room.name,
    grade: room.grade as CleanroomView['grade'],
    state: room.state,
    areaM2: room.areaM2,
    counters: config.characteristics.flatMap((c) =>
      c.cleanroom?.room === room.id
        ? [
            {
              characteristic: c.id,
              location: c.cleanroom.location,
              particleSize: c.cleanroom.particleSize,
              actionLimit: c.limits.actionHigh ?? null,
              annex1ActionLimit: annex1ActionLimit(
                room.grade as CleanroomView['grade'],
                room.state,
                c.cleanroom.particleSize,
              ),
            },
          ]
        : [],
    ),
  }))
}

export function registerCleanroomRoutes(
  app: FastifyInstance,
  config: Config,
  store: TimeSeriesStore,
): void {
  const rooms = cleanroomViews(config)

  app.get(
    '/api/cleanrooms',
    { preValidation: need('viewer'), schema: { response: { 200: CleanroomsSchema } } },
    async () => rooms,
  )

  app.get(
    '/api/cleanrooms/:id/classification',
    {
      preValidation: need('viewer'),
      schema: {
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }),
        querystring: Type.Object(
          {
            from: Type.Optional(
              Type.String({ description: 'ISO 8601 or epoch ms (default: to − 24 h)' }),
            ),
            to: Type.Optional(Type.String({ description: 'ISO 8601 or epoch ms (default: now)' })),
            class: Type.Optional(
              Type.Integer({ minimum: 1, maximum: 9, description: 'Also check this ISO class.' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: ClassificationSchema },
      },
    },
    async (request, reply): Promise<CleanroomClassificationView | undefined> => {
      const { id } = request.params as { id: string }
      const q = request.query as { from?: string; to?: string; class?: number }
      const room = rooms.find((r) => r.id === id)
      if (!room) return notFound(reply, `no cleanroom "${id}"`) as never
      const range = timeRange(q, DAY_MS)
      if (typeof range === 'string') return badRequest(reply, range) as never
      const samples: ParticleSample[] = []
      for (const counter of room.counters) {
        const readings = await store.readings({
          characteristic: counter.characteristic,
          ...range,
          limit: MAX_READINGS,
        })
        for (const r of readings)
          samples.push({
            location: counter.location,
            sizeUm: counter.particleSize,
            concentration: r.value,
          })
      }
      return {
        room,
        ...range,
        samples: samples.length,
        classification: classifyRoom(samples, {
          targetClass: q.class,
          annex1: { grade: room.grade, state: room.state },
          areaM2: room.areaM2,
        }),
      }
    },
  )
}

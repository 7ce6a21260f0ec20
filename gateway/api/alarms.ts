import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import Type from 'typebox'
import { ALARM_PRIORITIES, ALARM_STATES, type AlarmState } from '../../rules/index.ts'
import type { AlarmAct, AlarmService, AlarmSettingsChange } from '../alarms/index.ts'
import type { AlarmView } from '../contract.ts'
import { principalName } from './auth.ts'
import { badRequest, conflict, need, notFound } from './replies.ts'
import {
  AcknowledgedSchema,
  AlarmAreasSchema,
  AlarmCountsSchema,
  AlarmHistorySchema,
  AlarmKpisSchema,
  AlarmSchema,
  AlarmsSchema,
  PlantStateSchema,
  PlantStatesSchema,
} from './responses.ts'
import { timeRange } from './time.ts'

/**
 * The alarm routes (ISA-18.2). Viewers see; operators acknowledge, shelve (within
 * alarms.maxShelveMinutes) and set plant states; engineers put alarms out of service and back
 * and change their settings (priority, deadband, delays, re-alarm).
 * Every act is recorded in the alarm's history with the token that did it.
 */

const AlarmId = Type.Object({ id: Type.String({ minLength: 3, maxLength: 160 }) })
const Reason = (description: string) => Type.String({ minLength: 3, maxLength: 2000, description })
const DAY_MS = 86_400_000

/** Who acted: the token's id, or the role of an anonymous request. */
const actor = (request: FastifyRequest): string => principalName(request.principal)

/**
 * 503: in a cluster, the gateway that judges the alarm did not answer (its partition is being
 * taken over); the act was not done and may be asked again.
 */
function unavailable(reply: FastifyReply, message: string): FastifyReply {
  return reply
    .code(503)
    .header('retry-after', '5')
    .send({ statusCode: 503, error: 'Service Unavailable', message })
}

export function registerAlarmRoutes(app: FastifyInstance, alarms: AlarmService): void {
  /** An act is answered once its transition is on disk (an operator is told what is kept). */
  const committed = () => new Promise<void>((resolve) => alarms.whenDurable(resolve))
  /**
   * An act on one alarm: the alarm after it; 404, 400 (not allowed as asked), 409 (not in this
   * state) or 503 (in a cluster, the gateway that judges it did not answer).
   */
  const act = async (reply: FastifyReply, id: string, a: AlarmAct, by: string) => {
    const result = await alarms.act(id, a, by)
    if (!result) return notFound(reply, `no alarm "${id}"`)
    if ('refused' in result) {
      const message = `cannot ${a.kind.replace(/-/g, ' ')}: ${result.refused}`
      if (result.unavailable) return unavailable(reply, message)
      return result.invalid ? badRequest(reply, message) : conflict(reply, message)
    }
    await committed()
    return result
  }

  app.get(
    '/api/alarms',
    {
      preValidation: need('viewer'),
      schema: {
        querystring: Type.Object(
          {
            state: Type.Optional(
              Type.String({
                pattern: `^(${ALARM_STATES.join('|')})(,(${ALARM_STATES.join('|')}))*$`,
                description:
                  'One state or several, comma-separated (default: every state but normal).',
              }),
            ),
            priority: Type.Optional(Type.Union(ALARM_PRIORITIES.map((p) => Type.Literal(p)))),
            area: Type.Optional(Type.String({ maxLength: 400 })),
            characteristic: Type.Optional(Type.String({ maxLength: 128 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: AlarmsSchema },
      },
    },
    async (request): Promise<AlarmView[]> => {
      const { state, ...rest } = request.query as {
        state?: string
        priority?: string
        area?: string
      }
      return alarms.list({
        ...rest,
        state: state?.split(',') as AlarmState[] | undefined,
        plant: true,
      })
    },
  )

  app.get(
    '/api/alarms/counts',
    { preValidation: need('viewer'), schema: { response: { 200: AlarmCountsSchema } } },
    async () => alarms.counts(true),
  )

  app.get(
    '/api/alarms/areas',
    { preValidation: need('viewer'), schema: { response: { 200: AlarmAreasSchema } } },
    async () => alarms.areas(),
  )

  app.get(
    '/api/alarms/:id',
    { preValidation: need('viewer'), schema: { params: AlarmId, response: { 200: AlarmSchema } } },
    async (request, reply) => {
      const { id } = request.params as { id: string }
      return alarms.get(id) ?? notFound(reply, `no alarm "${id}"`)
    },
  )

  app.get(
    '/api/alarms/:id/history',
    {
      preValidation: need('viewer'),
      schema: {
        params: AlarmId,
        querystring: Type.Object(
          { limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 200 }) },
          { additionalProperties: false },
        ),
        response: { 200: AlarmHistorySchema },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string }
      if (!alarms.get(id)) return notFound(reply, `no alarm "${id}"`)
      return alarms.history(id, (request.query as { limit: number }).limit)
    },
  )

  app.post(
    '/api/alarms/:id/acknowledge',
    {
      preValidation: need('operator', 'acknowledging an alarm'),
      schema: {
        params: AlarmId,
        body: Type.Optional(
          Type.Object(
            { comment: Type.Optional(Type.String({ maxLength: 2000 })) },
            { additionalProperties: false },
          ),
        ),
        response: { 200: AlarmSchema },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string }
      const comment = (request.body as { comment?: string } | undefined)?.comment
      return act(reply, id, { kind: 'acknowledge', comment }, actor(request))
    },
  )

  app.post(
    '/api/alarms/acknowledge',
    {
      preValidation: need('operator', 'acknowledging alarms'),
      schema: {
        body: Type.Object(
          {
            ids: Type.Array(Type.String({ minLength: 3, maxLength: 160 }), {
              minItems: 1,
              maxItems: 10_000,
              uniqueItems: true,
            }),
            comment: Type.Optional(Type.String({ maxLength: 2000 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: AcknowledgedSchema },
      },
    },
    async (request) => {
      const { ids, comment } = request.body as { ids: string[]; comment?: string }
      const by = actor(request)
      const acknowledged: AlarmView[] = []
      const refused: { id: string; reason: string }[] = []
      const results = await alarms.actMany(ids, { kind: 'acknowledge', comment }, by)
      for (const id of ids) {
        const result = results.get(id)
        if (!result) refused.push({ id, reason: 'no such alarm' })
        else if ('refused' in result) refused.push({ id, reason: result.refused })
        else acknowledged.push(result)
      }
      await committed()
      return { acknowledged, refused }
    },
  )

  app.post(
    '/api/alarms/:id/shelve',
    {
      preValidation: need('operator', 'shelving an alarm'),
      schema: {
        params: AlarmId,
        body: Type.Object(
          {
            reason: Reason('Why it is shelved: kept in its history.'),
            minutes: Type.Number({
              exclusiveMinimum: 0,
              description:
                'How long; it unshelves by itself after this (at most alarms.maxShelveMinutes).',
            }),
          },
          { additionalProperties: false },
        ),
        response: { 200: AlarmSchema },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string }
      const { reason, minutes } = request.body as { reason: string; minutes: number }
      return act(reply, id, { kind: 'shelve', reason, minutes }, actor(request))
    },
  )

  app.post(
    '/api/alarms/:id/unshelve',
    {
      preValidation: need('operator', 'unshelving an alarm'),
      schema: {
        params: AlarmId,
        response: { 200: AlarmSchema },
        body: Type.Optional(
          Type.Object(
            { reason: Type.Optional(Type.String({ maxLength: 2000 })) },
            { additionalProperties: false },
          ),
        ),
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string }
      const reason = (request.body as { reason?: string } | undefined)?.reason
      return act(reply, id, { kind: 'unshelve', reason }, actor(request))
    },
  )

  app.post(
    '/api/alarms/:id/out-of-service',
    {
      preValidation: need('quality-engineer', 'putting an alarm out of service'),
      schema: {
        params: AlarmId,
        response: { 200: AlarmSchema },
        body: Type.Object(
          { reason: Reason('Why (maintenance, a faulty instrument): kept in its history.') },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string }
      const { reason } = request.body as { reason: string }
      return act(reply, id, { kind: 'remove-from-service', reason }, actor(request))
    },
  )

  app.post(
    '/api/alarms/:id/return-to-service',
    {
      preValidation: need('quality-engineer', 'returning an alarm to service'),
      schema: {
        params: AlarmId,
        response: { 200: AlarmSchema },
        body: Type.Optional(
          Type.Object(
            { reason: Type.Optional(Type.String({ maxLength: 2000 })) },
            { additionalProperties: false },
          ),
        ),
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string }
      const reason = (request.body as { reason?: string } | undefined)?.reason
      return act(reply, id, { kind: 'return-to-service', reason }, actor(request))
    },
  )

  const Delay = Type.Union([
    Type.Object({ ms: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
    Type.Object(
      { readings: Type.Integer({ minimum: 1, maximum: 1000 }) },
      { additionalProperties: false },
    ),
    Type.Null(),
  ])
  app.put(
    '/api/alarms/:id/settings',
    {
      preValidation: need('quality-engineer', 'changing alarm settings'),
      schema: {
        params: AlarmId,
        response: { 200: AlarmSchema },
        body: Type.Object(
          {
            priority: Type.Optional(Type.Union(ALARM_PRIORITIES.map((p) => Type.Literal(p)))),
            deadband: Type.Optional(
              Type.Union([
                Type.Object(
                  { units: Type.Number({ minimum: 0 }) },
                  { additionalProperties: false },
                ),
                Type.Object(
                  { percent: Type.Number({ minimum: 0, maximum: 100 }) },
                  { additionalProperties: false },
                ),
                Type.Null(),
              ]),
            ),
            onDelay: Type.Optional(Delay),
            offDelay: Type.Optional(Delay),
            reAlarmMinutes: Type.Optional(
              Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.Null()]),
            ),
            reason: Reason('Why the settings change (alarm rationalisation): kept in its history.'),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string }
      const { reason, ...change } = request.body as AlarmSettingsChange & { reason: string }
      const result = await alarms.changeSettings(id, change, actor(request), reason)
      if (!result) return notFound(reply, `no alarm "${id}"`)
      if ('refused' in result) {
        const message = `cannot change the settings: ${result.refused}`
        return result.unavailable ? unavailable(reply, message) : badRequest(reply, message)
      }
      await committed()
      return result
    },
  )

  app.get(
    '/api/alarm-kpis',
    {
      preValidation: need('viewer'),
      schema: {
        querystring: Type.Object(
          {
            from: Type.Optional(
              Type.String({ description: 'ISO 8601 or epoch ms (default: to − 24 h)' }),
            ),
            to: Type.Optional(Type.String({ description: 'ISO 8601 or epoch ms (default: now)' })),
            area: Type.Optional(Type.String({ maxLength: 400 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: AlarmKpisSchema },
      },
    },
    async (request, reply) => {
      const q = request.query as { from?: string; to?: string; area?: string }
      const range = timeRange(q, DAY_MS)
      if (typeof range === 'string') return badRequest(reply, range)
      return alarms.kpis({ ...range, area: q.area })
    },
  )

  app.get(
    '/api/plant-states',
    { preValidation: need('viewer'), schema: { response: { 200: PlantStatesSchema } } },
    async () => alarms.plantStates(),
  )

  app.put(
    '/api/plant-states/:id',
    {
      preValidation: need('operator', 'setting a plant state'),
      schema: {
        response: { 200: PlantStateSchema },
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) }),
        body: Type.Object(
          { active: Type.Boolean(), reason: Reason('Why: kept with the state.') },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string }
      const { active, reason } = request.body as { active: boolean; reason: string }
      const result = alarms.setPlantState(id, active, actor(request), reason)
      if (!result) return notFound(reply, `no plant state "${id}"`)
      if ('refused' in result) return conflict(reply, result.refused)
      await committed()
      return result
    },
  )
}

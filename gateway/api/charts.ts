import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import { chartM4Options, M4, readingValues } from '../../rules/downsample.ts'
import type { ChartView, ReadingsView } from '../contract.ts'
import type { Pipeline } from '../pipeline/index.ts'
import type {
  StoredChartPoint,
  StoredReading,
  RangeQuery as StoreRangeQuery,
  TimeSeriesStore,
} from '../store/types.ts'
import { badRequest, need, notFound } from './replies.ts'
import { ChartSchema, ReadingsSchema } from './responses.ts'
import { timeRange } from './time.ts'

/**
 * A characteristic's stored readings and chart points over a time range (issue 11, chart
 * history). Without `buckets`, the latest `limit` of them. With `buckets` (the chart's width in
 * pixels), the whole range is read, page by page (PAGE_ROWS at a time, newest first, so memory
 * stays bounded however long the range), and downsampled with M4 (rules/downsample.ts): per
 * bucket the first, the last and the extremes of every pane (or of the readings' values), and
 * every chart point that completed a rule. A week of 1 Hz data (605,000 points) comes back as a
 * few thousand points that draw as the whole would.
 */

const MAX_LIMIT = 100_000
/** The most buckets a request may ask for: wider than any screen. */
export const MAX_BUCKETS = 10_000
/** Rows read from the store at a time for a downsampled answer. */
export const PAGE_ROWS = 50_000
/**
 * Rows a downsampled answer reads at most (five weeks at 1 Hz): beyond, the oldest part of the
 * range is left unread and the answer's `from` says where reading stopped.
 */
export const MAX_SCANNED_ROWS = 3_000_000

const RangeQuery = Type.Object(
  {
    from: Type.Optional(
      Type.String({ description: 'ISO 8601 with a zone, or epoch ms (default: to − 1 h)' }),
    ),
    to: Type.Optional(
      Type.String({ description: 'ISO 8601 with a zone, or epoch ms (default: now)' }),
    ),
    limit: Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: 1000 }),
    buckets: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_BUCKETS,
        description:
          'Downsample the whole range for a chart this many pixels wide (M4: per bucket the first, last, smallest and largest, and every point that completed a rule); `limit` then does not apply',
      }),
    ),
  },
  { additionalProperties: false },
)
const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) })

/** What `buckets` adds to an answer (DownsampledView in contract.ts). */
const Downsampled = {
  downsampled: Type.Optional(
    Type.Boolean({ description: 'With buckets: whether points were left out.' }),
  ),
  total: Type.Optional(
    Type.Integer({ description: 'With buckets: the readings or points in the range read.' }),
  ),
  buckets: Type.Optional(Type.Integer({ description: 'With buckets: the buckets asked for.' })),
  from: Type.Optional(
    Type.Number({
      description:
        'The start of the range read (UTC ms): later than asked when the range held more than 3,000,000 rows',
    }),
  ),
  to: Type.Optional(Type.Number({ description: 'The end of the range (UTC ms).' })),
}
const ReadingsAnswer = Type.Object(
  { ...ReadingsSchema.properties, ...Downsampled, from: ReadingsSchema.properties.from },
  { description: ReadingsSchema.description },
)
const ChartAnswer = Type.Object(
  { ...ChartSchema.properties, ...Downsampled },
  { description: ChartSchema.description },
)

interface Query {
  from?: string
  to?: string
  limit: number
  buckets?: number
}

/**
 * Reads every row of [from, to] from a store that answers "the latest `limit` rows of a range,
 * oldest first", newest page first, handing each page to `each`; at most `maxRows` rows. Rows of
 * one time stamp are never split between pages (those at a page's oldest time stamp are left to
 * the next page, which holds them all), unless a whole page has one time stamp: then it is taken
 * and the rest of that millisecond is skipped (a page's worth of rows in one millisecond).
 * Returns the rows read and the oldest time stamp read up to (`from` when the whole range was).
 */
export async function readPages<T extends { ts: number }>(
  read: (q: { from: number; to: number; limit: number }) => Promise<T[]>,
  range: { from: number; to: number },
  each: (page: readonly T[]) => void,
  { pageRows = PAGE_ROWS, maxRows = MAX_SCANNED_ROWS } = {},
): Promise<{ rows: number; from: number }> {
  let to = range.to
  let rows = 0
  for (;;) {
    const page = await read({ from: range.from, to, limit: pageRows })
    if (page.length < pageRows) {
      each(page)
      return { rows: rows + page.length, from: range.from }
    }
    const oldest = (page[0] as T).ts
    let cut = 0
    while (cut < page.length && (page[cut] as T).ts === oldest) cut++
    if (cut === page.length) cut = 0
    const taken = cut === 0 ? page : page.slice(cut)
    each(taken)
    rows += taken.length
    // With a split time stamp the next page starts at it; else before it.
    const next = cut === 0 ? oldest - 1 : oldest
    if (next < range.from) return { rows, from: range.from }
    if (rows >= maxRows) return { rows, from: cut === 0 ? oldest : oldest + 1 }
    to = next
  }
}

/** A range read whole and downsampled to `buckets` (see readPages and rules/downsample.ts). */
async function downsampled<T extends { ts: number }>(
  read: (q: StoreRangeQuery) => Promise<T[]>,
  characteristic: string,
  range: { from: number; to: number },
  m4: M4<T>,
): Promise<{ points: T[]; total: number; from: number }> {
  const { rows, from } = await readPages(
    (q) => read({ characteristic, ...q }),
    range,
    (page) => {
      for (const row of page) m4.add(row)
    },
  )
  return { points: m4.result(), total: rows, from }
}

export function registerChartRoutes(
  app: FastifyInstance,
  ctx: { pipeline: Pipeline; store: TimeSeriesStore },
): void {
  const { pipeline, store } = ctx

  app.get(
    '/api/characteristics/:id/readings',
    {
      preValidation: need('viewer'),
      schema: { params: IdParams, querystring: RangeQuery, response: { 200: ReadingsAnswer } },
    },
    async (request, reply): Promise<ReadingsView> => {
      const { id } = request.params as { id: string }
      const query = request.query as Query
      if (!pipeline.runtime(id)) return notFound(reply, `no characteristic "${id}"`)
      const range = timeRange(query)
      if (typeof range === 'string') return badRequest(reply, range)
      if (query.buckets === undefined) {
        const readings = await store.readings({ characteristic: id, ...range, limit: query.limit })
        return { characteristic: id, from: range.from, to: range.to, readings }
      }
      const m4 = new M4<StoredReading>({ buckets: query.buckets, ...range, values: readingValues })
      const got = await downsampled((q) => store.readings(q), id, range, m4)
      return {
        characteristic: id,
        from: got.from,
        to: range.to,
        readings: got.points,
        downsampled: got.points.length < got.total,
        total: got.total,
        buckets: query.buckets,
      }
    },
  )

  app.get(
    '/api/characteristics/:id/chart',
    {
      preValidation: need('viewer'),
      schema: { params: IdParams, querystring: RangeQuery, response: { 200: ChartAnswer } },
    },
    async (request, reply): Promise<ChartView> => {
      const { id } = request.params as { id: string }
      const query = request.query as Query
      if (!pipeline.runtime(id)) return notFound(reply, `no characteristic "${id}"`)
      if (query.buckets === undefined) {
        // A chart shows the latest points whatever their age, unless a range is asked for.
        const range = timeRange({
          from: query.from ?? '0',
          to: query.to ?? String(Number.MAX_SAFE_INTEGER),
        })
        if (typeof range === 'string') return badRequest(reply, range)
        const points = await store.chartPoints({ characteristic: id, ...range, limit: query.limit })
        return { characteristic: id, points }
      }
      // Buckets divide a range of time: the last hour unless one is given.
      const range = timeRange(query)
      if (typeof range === 'string') return badRequest(reply, range)
      const m4 = new M4(chartM4Options<StoredChartPoint>(query.buckets, range))
      const got = await downsampled((q) => store.chartPoints(q), id, range, m4)
      return {
        characteristic: id,
        points: got.points,
        from: got.from,
        to: range.to,
        downsampled: got.points.length < got.total,
        total: got.total,
        buckets: query.buckets,
      }
    },
  )
}

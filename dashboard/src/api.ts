import type {
  AlarmCounts,
  AlarmEventView,
  AlarmKpisView,
  AlarmView,
  ApiError,
  AttachmentView,
  AuditEntryView,
  CapaView,
  CharacteristicView,
  ChartView,
  LimitChangeView,
  NonconformanceView,
  PlantStateView,
  QualityKpisView,
  ReadingsView,
  RecentDeviationView,
  Session,
  SignInView,
} from '../../gateway/contract.ts'
import type { TimeRange } from './data/chart-range.ts'
import { problemText } from './data/problem.ts'
import type {
  CapaActionBody,
  CapaPlanBody,
  NcActionBody,
  NcDetail,
  NcListItem,
} from './data/quality.ts'
import { bearer } from './data/token.ts'
import { currentToken } from './token-store.ts'

/** A request that failed: `status` 0 when the gateway was not reached. */
export class ApiFailure extends Error {
  readonly status: number
  /** Seconds to wait before trying again (the Retry-After of a 429), or null. */
  readonly retryAfter: number | null
  constructor(status: number, message: string, retryAfter: number | null = null) {
    super(message)
    this.name = 'ApiFailure'
    this.status = status
    this.retryAfter = retryAfter
  }

  /** What to tell the person looking at the screen. */
  get text(): string {
    return problemText(this.status, this.message)
  }
}

/** Listeners told when a request is refused for want of a (valid) token. */
const unauthorised = new Set<() => void>()

export function onUnauthorised(listener: () => void): () => void {
  unauthorised.add(listener)
  return () => unauthorised.delete(listener)
}

type Query = Record<string, string | number | undefined>

interface RequestOptions {
  /** A 401 here is not the session's (a sign-in or a password refused): listeners are not told. */
  quiet?: boolean
  /** A raw body and its content type instead of JSON. */
  raw?: { body: Blob; type: string }
  /** The answer is not JSON (204, a file). */
  expect?: 'json' | 'none' | 'blob'
}

/** The address of an API path with a query (relative to the page, as every request). */
export function apiUrl(path: string, query: Query = {}): URL {
  const url = new URL(`api/${path}`, document.baseURI)
  for (const [k, v] of Object.entries(query))
    if (v !== undefined) url.searchParams.set(k, String(v))
  return url
}

/**
 * GET a JSON resource of the gateway's REST API. URLs are relative to the page (the gateway serves
 * the dashboard, the API and socket.io on one origin); the token goes in the Authorization header.
 */
export async function get<T>(path: string, query: Query = {}, signal?: AbortSignal): Promise<T> {
  return request<T>('GET', path, query, undefined, signal)
}

/** POST a JSON body to the REST API; the answer is parsed as JSON. */
export async function post<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  return request<T>('POST', path, {}, body, signal)
}

async function request<T>(
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  query: Query,
  body: unknown,
  signal: AbortSignal | undefined,
  options: RequestOptions = {},
): Promise<T> {
  const url = apiUrl(path, query)
  const expect = options.expect ?? 'json'
  const headers: Record<string, string> = { accept: expect === 'blob' ? '*/*' : 'application/json' }
  const auth = bearer(currentToken())
  if (auth) headers.authorization = auth
  let payload: BodyInit | undefined
  if (options.raw) {
    headers['content-type'] = options.raw.type || 'application/octet-stream'
    payload = options.raw.body
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json'
    payload = JSON.stringify(body)
  }
  let response: Response
  try {
    response = await fetch(url, {
      method,
      headers,
      signal: signal ?? null,
      cache: 'no-store',
      ...(payload !== undefined ? { body: payload } : {}),
    })
  } catch (e) {
    if (signal?.aborted) throw e
    throw new ApiFailure(0, (e as Error).message)
  }
  if (!response.ok) {
    let message = response.statusText
    try {
      message = ((await response.json()) as ApiError).message ?? message
    } catch {}
    if (response.status === 401 && !options.quiet) for (const l of unauthorised) l()
    const retry = Number(response.headers.get('retry-after'))
    throw new ApiFailure(
      response.status,
      message,
      response.headers.has('retry-after') && Number.isFinite(retry) ? retry : null,
    )
  }
  if (expect === 'none') return undefined as T
  if (expect === 'blob') return (await response.blob()) as T
  return (await response.json()) as T
}

/**
 * Downloads an API file (an export, an attachment) with the token in force, and hands it to the
 * browser as `name`: a plain link cannot carry the Authorization header.
 */
export async function download(path: string, name: string, query: Query = {}): Promise<void> {
  const blob = await request<Blob>('GET', path, query, undefined, undefined, { expect: 'blob' })
  const href = URL.createObjectURL(blob)
  try {
    const a = document.createElement('a')
    a.href = href
    a.download = name
    a.rel = 'noopener'
    document.body.append(a)
    a.click()
    a.remove()
  } finally {
    setTimeout(() => URL.revokeObjectURL(href), 60_000)
  }
}

export const api = {
  session: (signal?: AbortSignal) => get<Session>('session', {}, signal),
  signIn: (user: string, password: string) =>
    request<SignInView>('POST', 'auth/sign-in', {}, { user, password }, undefined, {
      quiet: true,
    }),
  signOut: () =>
    request<void>('POST', 'auth/sign-out', {}, {}, undefined, { quiet: true, expect: 'none' }),
  changePassword: (current: string, next: string) =>
    request<void>('POST', 'auth/password', {}, { current, next }, undefined, {
      quiet: true,
      expect: 'none',
    }),
  /** NCs by a filter's query (data/quality.ts ncListQuery). */
  ncList: (query: Query, signal?: AbortSignal) =>
    get<NcListItem[]>('nonconformances', query, signal),
  ncDetail: (id: number, signal?: AbortSignal) =>
    get<NcDetail>(`nonconformances/${id}`, {}, signal),
  /** An NC action; a 401 with a signature is the signature's password, not the session. */
  ncAction: (id: number, body: NcActionBody) =>
    request<NcDetail>('POST', `nonconformances/${id}/actions`, {}, body, undefined, {
      quiet: 'signature' in body,
    }),
  uploadAttachment: (id: number, file: File) =>
    request<AttachmentView>(
      'PUT',
      `nonconformances/${id}/attachments/${encodeURIComponent(file.name)}`,
      {},
      undefined,
      undefined,
      { raw: { body: file, type: file.type } },
    ),
  capas: (query: Query, signal?: AbortSignal) => get<CapaView[]>('capas', query, signal),
  capa: (id: string, signal?: AbortSignal) =>
    get<CapaView>(`capas/${encodeURIComponent(id)}`, {}, signal),
  createCapa: (body: CapaPlanBody) => post<CapaView>('capas', body),
  capaAction: (id: string, body: CapaActionBody) =>
    request<CapaView>('POST', `capas/${encodeURIComponent(id)}/actions`, {}, body, undefined, {
      quiet: 'signature' in body,
    }),
  qualityKpis: (from: number, to: number, signal?: AbortSignal) =>
    get<QualityKpisView>('quality/kpis', { from, to }, signal),
  audit: (entity: 'nc' | 'capa' | 'signature', id: string, signal?: AbortSignal) =>
    get<AuditEntryView[]>('audit', { entity, id }, signal),
  characteristics: (signal?: AbortSignal) =>
    get<CharacteristicView[]>('characteristics', {}, signal),
  characteristic: (id: string, signal?: AbortSignal) =>
    get<CharacteristicView>(`characteristics/${encodeURIComponent(id)}`, {}, signal),
  chart: (id: string, limit: number, signal?: AbortSignal) =>
    get<ChartView>(`characteristics/${encodeURIComponent(id)}/chart`, { limit }, signal),
  /** The chart's points between two times (UTC ms, inclusive), the latest `limit` of them. */
  chartBetween: (id: string, from: number, to: number, limit: number, signal?: AbortSignal) =>
    get<ChartView>(`characteristics/${encodeURIComponent(id)}/chart`, { from, to, limit }, signal),
  /** The latest `limit` readings, whatever their age. */
  readings: (id: string, limit: number, signal?: AbortSignal) =>
    get<ReadingsView>(
      `characteristics/${encodeURIComponent(id)}/readings`,
      { limit, from: 0 },
      signal,
    ),
  /** Readings from a time on (UTC ms), the latest `limit` of them. */
  readingsSince: (id: string, from: number, limit: number, signal?: AbortSignal) =>
    get<ReadingsView>(
      `characteristics/${encodeURIComponent(id)}/readings`,
      { limit, from },
      signal,
    ),
  /** Chart history: every chart point of a range, downsampled for a plot `buckets` pixels wide (M4). */
  chartHistory: (id: string, range: TimeRange, buckets: number, signal?: AbortSignal) =>
    get<ChartView>(
      `characteristics/${encodeURIComponent(id)}/chart`,
      { from: range.from, to: range.to, buckets },
      signal,
    ),
  /** Chart history: the readings of a range, downsampled for a plot `buckets` pixels wide (M4). */
  readingsHistory: (id: string, range: TimeRange, buckets: number, signal?: AbortSignal) =>
    get<ReadingsView>(
      `characteristics/${encodeURIComponent(id)}/readings`,
      { from: range.from, to: range.to, buckets },
      signal,
    ),
  limitChanges: (id: string, signal?: AbortSignal) =>
    get<LimitChangeView[]>(`characteristics/${encodeURIComponent(id)}/limit-changes`, {}, signal),
  changeBaseline: (id: string, action: 'restart' | 'end-baseline', reason: string) =>
    post<LimitChangeView>(`characteristics/${encodeURIComponent(id)}/baseline`, {
      action,
      reason,
    }),
  nonconformance: (id: number, signal?: AbortSignal) =>
    get<NonconformanceView>(`nonconformances/${id}`, {}, signal),
  /** Alarms (without `state`: every alarm not normal), highest priority first. */
  alarms: (query: Query, signal?: AbortSignal) => get<AlarmView[]>('alarms', query, signal),
  alarmCounts: (signal?: AbortSignal) => get<AlarmCounts>('alarms/counts', {}, signal),
  /** The plant's latest deviations, newest onset first (the strip's history). */
  recentDeviations: (limit: number, signal?: AbortSignal) =>
    get<RecentDeviationView[]>('deviations', { limit }, signal),
  /** The operator positions every alarm belongs to. */
  alarmAreas: (signal?: AbortSignal) => get<string[]>('alarms/areas', {}, signal),
  /** An alarm's transitions, newest first. */
  alarmHistory: (id: string, limit: number, signal?: AbortSignal) =>
    get<AlarmEventView[]>(`alarms/${encodeURIComponent(id)}/history`, { limit }, signal),
  acknowledgeAlarm: (id: string, comment?: string) =>
    post<AlarmView>(`alarms/${encodeURIComponent(id)}/acknowledge`, comment ? { comment } : {}),
  acknowledgeAlarms: (ids: readonly string[], comment?: string) =>
    post<{ acknowledged: AlarmView[]; refused: { id: string; reason: string }[] }>(
      'alarms/acknowledge',
      comment ? { ids, comment } : { ids },
    ),
  shelveAlarm: (id: string, reason: string, minutes: number) =>
    post<AlarmView>(`alarms/${encodeURIComponent(id)}/shelve`, { reason, minutes }),
  unshelveAlarm: (id: string, reason?: string) =>
    post<AlarmView>(`alarms/${encodeURIComponent(id)}/unshelve`, reason ? { reason } : {}),
  removeAlarmFromService: (id: string, reason: string) =>
    post<AlarmView>(`alarms/${encodeURIComponent(id)}/out-of-service`, { reason }),
  returnAlarmToService: (id: string, reason?: string) =>
    post<AlarmView>(`alarms/${encodeURIComponent(id)}/return-to-service`, reason ? { reason } : {}),
  alarmKpis: (from: number, to: number, area: string | undefined, signal?: AbortSignal) =>
    get<AlarmKpisView>('alarm-kpis', { from, to, area }, signal),
  plantStates: (signal?: AbortSignal) => get<PlantStateView[]>('plant-states', {}, signal),
}

/** The failure text of anything thrown by a request. */
export function failureText(e: unknown): string {
  return e instanceof ApiFailure ? e.text : `Unexpected error: ${String(e)}`
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'AbortError'
}

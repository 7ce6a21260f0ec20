import type {
  AlarmCounts,
  AlarmEventView,
  AlarmKpisView,
  AlarmView,
  ApiError,
  CharacteristicView,
  ChartView,
  LimitChangeView,
  NonconformanceSummary,
  NonconformanceView,
  PlantStateView,
  ReadingsView,
  Session,
} from '../../gateway/contract.ts'
import { problemText } from './data/problem.ts'
import { bearer } from './data/token.ts'
import { currentToken } from './token-store.ts'

/** A request that failed: `status` 0 when the gateway was not reached. */
export class ApiFailure extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.name = 'ApiFailure'
    this.status = status
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
  method: 'GET' | 'POST',
  path: string,
  query: Query,
  body: unknown,
  signal: AbortSignal | undefined,
): Promise<T> {
  const url = new URL(`api/${path}`, document.baseURI)
  for (const [k, v] of Object.entries(query))
    if (v !== undefined) url.searchParams.set(k, String(v))
  const headers: Record<string, string> = { accept: 'application/json' }
  const auth = bearer(currentToken())
  if (auth) headers.authorization = auth
  if (body !== undefined) headers['content-type'] = 'application/json'
  let response: Response
  try {
    response = await fetch(url, {
      method,
      headers,
      signal: signal ?? null,
      cache: 'no-store',
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
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
    if (response.status === 401) for (const l of unauthorised) l()
    throw new ApiFailure(response.status, message)
  }
  return (await response.json()) as T
}

export const api = {
  session: (signal?: AbortSignal) => get<Session>('session', {}, signal),
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
  limitChanges: (id: string, signal?: AbortSignal) =>
    get<LimitChangeView[]>(`characteristics/${encodeURIComponent(id)}/limit-changes`, {}, signal),
  changeBaseline: (id: string, action: 'restart' | 'end-baseline', reason: string) =>
    post<LimitChangeView>(`characteristics/${encodeURIComponent(id)}/baseline`, {
      action,
      reason,
    }),
  nonconformances: (status: 'open' | undefined, signal?: AbortSignal) =>
    get<NonconformanceSummary[]>('nonconformances', { status, limit: 500 }, signal),
  nonconformance: (id: number, signal?: AbortSignal) =>
    get<NonconformanceView>(`nonconformances/${id}`, {}, signal),
  /** Alarms (without `state`: every alarm not normal), highest priority first. */
  alarms: (query: Query, signal?: AbortSignal) => get<AlarmView[]>('alarms', query, signal),
  alarmCounts: (signal?: AbortSignal) => get<AlarmCounts>('alarms/counts', {}, signal),
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

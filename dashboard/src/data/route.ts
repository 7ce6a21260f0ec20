import { isReportKind, type ReportKind } from './reports.ts'

/**
 * Hash routes of the dashboard (`#/`, `#/c/<id>`, `#/nc`, `#/nc?characteristic=<id>`,
 * `#/nc/<id>`, `#/alarms`, `#/alarm-kpis`, `#/capa`, `#/capa/<id>`, `#/quality-kpis`, `#/reports/<kind>`,
 * `#/sign-in?next=<path>`, `#/password`). Hash routing needs no fallback on the server: the gateway serves one
 * index.html at `/` and everything after `#` stays in the browser.
 */
export type Route =
  | { page: 'overview' }
  | { page: 'characteristic'; id: string }
  /** `characteristic`: the list of that characteristic's NCs only (absent: every NC). */
  | { page: 'ncs'; characteristic?: string }
  | { page: 'nc'; id: number }
  | { page: 'alarms' }
  | { page: 'alarm-kpis' }
  | { page: 'capas' }
  | { page: 'capa'; id: string }
  | { page: 'quality-kpis' }
  /** `#/reports` (the capability summary) or `#/reports/<kind>`. */
  | { page: 'reports'; kind: ReportKind }
  /** `next`: the hash path to return to once signed in (e.g. "/nc/3"), or null. */
  | { page: 'sign-in'; next: string | null }
  | { page: 'password' }
  | { page: 'not-found'; hash: string }

/** The route of a location hash such as `#/c/fill-weight` (an empty hash is the overview). */
export function parseRoute(hash: string): Route {
  const bare = hash.replace(/^#/, '')
  const path = bare.replace(/\?.*$/, '')
  const query = new URLSearchParams(bare.includes('?') ? bare.slice(bare.indexOf('?') + 1) : '')
  const parts = path.split('/').filter((p) => p !== '')
  const [first, second, ...rest] = parts
  if (rest.length > 0) return { page: 'not-found', hash }
  if (first === undefined) return { page: 'overview' }
  if (first === 'c' && second !== undefined) {
    const id = safeDecode(second)
    return id === null ? { page: 'not-found', hash } : { page: 'characteristic', id }
  }
  if (first === 'nc' && second === undefined) {
    const characteristic = query.get('characteristic')
    return characteristic && characteristic.length <= 128
      ? { page: 'ncs', characteristic }
      : { page: 'ncs' }
  }
  if (first === 'alarms' && second === undefined) return { page: 'alarms' }
  if (first === 'alarm-kpis' && second === undefined) return { page: 'alarm-kpis' }
  if (first === 'capa' && second === undefined) return { page: 'capas' }
  if (first === 'capa' && second !== undefined && /^[A-Za-z0-9-]{1,40}$/.test(second)) {
    return { page: 'capa', id: second }
  }
  if (first === 'quality-kpis' && second === undefined) return { page: 'quality-kpis' }
  if (first === 'reports' && (second === undefined || isReportKind(second))) {
    return { page: 'reports', kind: second ?? 'capability' }
  }
  if (first === 'password' && second === undefined) return { page: 'password' }
  if (first === 'sign-in' && second === undefined) {
    return { page: 'sign-in', next: safeNext(query.get('next')) }
  }
  if (first === 'nc' && second !== undefined && /^[1-9][0-9]{0,15}$/.test(second)) {
    return { page: 'nc', id: Number(second) }
  }
  return { page: 'not-found', hash }
}

/** The hash that leads to a route (the inverse of parseRoute). */
export function routeHash(route: Route): string {
  switch (route.page) {
    case 'not-found':
      return route.hash
    case 'overview':
      return '#/'
    case 'characteristic':
      return `#/c/${encodeURIComponent(route.id)}`
    case 'ncs':
      return route.characteristic
        ? `#/nc?characteristic=${encodeURIComponent(route.characteristic)}`
        : '#/nc'
    case 'nc':
      return `#/nc/${route.id}`
    case 'alarms':
      return '#/alarms'
    case 'alarm-kpis':
      return '#/alarm-kpis'
    case 'capas':
      return '#/capa'
    case 'capa':
      return `#/capa/${encodeURIComponent(route.id)}`
    case 'quality-kpis':
      return '#/quality-kpis'
    case 'reports':
      return `#/reports/${route.kind}`
    case 'password':
      return '#/password'
    case 'sign-in':
      return route.next === null ? '#/sign-in' : `#/sign-in?next=${encodeURIComponent(route.next)}`
  }
}

/**
 * Where sign-in returns to: a path of this dashboard ("/nc/3"), never the sign-in page itself nor
 * anything that is not a path here (an address elsewhere); null for none.
 */
export function safeNext(next: string | null | undefined): string | null {
  if (!next?.startsWith('/') || next.startsWith('//')) return null
  if (/^\/sign-in(\/|\?|$)/.test(next)) return null
  return /^[\x21-\x7e]{1,500}$/.test(next) ? next : null
}

/** The sign-in route that comes back to the page at `hash` ("#/nc/3" → next "/nc/3"). */
export function signInRoute(hash: string): Route {
  return { page: 'sign-in', next: safeNext(hash.replace(/^#/, '') || '/') }
}

function safeDecode(segment: string): string | null {
  try {
    return decodeURIComponent(segment)
  } catch {
    return null
  }
}

/**
 * Hash routes of the dashboard (`#/`, `#/c/<id>`, `#/nc`, `#/nc/<id>`, `#/alarms`,
 * `#/alarm-kpis`). Hash routing needs no fallback on the server: the gateway serves one
 * index.html at `/` and everything after `#` stays in the browser.
 */
export type Route =
  | { page: 'overview' }
  | { page: 'characteristic'; id: string }
  | { page: 'ncs' }
  | { page: 'nc'; id: number }
  | { page: 'alarms' }
  | { page: 'alarm-kpis' }
  | { page: 'not-found'; hash: string }

/** The route of a location hash such as `#/c/fill-weight` (an empty hash is the overview). */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/\?.*$/, '')
  const parts = path.split('/').filter((p) => p !== '')
  const [first, second, ...rest] = parts
  if (rest.length > 0) return { page: 'not-found', hash }
  if (first === undefined) return { page: 'overview' }
  if (first === 'c' && second !== undefined) {
    const id = safeDecode(second)
    return id === null ? { page: 'not-found', hash } : { page: 'characteristic', id }
  }
  if (first === 'nc' && second === undefined) return { page: 'ncs' }
  if (first === 'alarms' && second === undefined) return { page: 'alarms' }
  if (first === 'alarm-kpis' && second === undefined) return { page: 'alarm-kpis' }
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
      return '#/nc'
    case 'nc':
      return `#/nc/${route.id}`
    case 'alarms':
      return '#/alarms'
    case 'alarm-kpis':
      return '#/alarm-kpis'
  }
}

function safeDecode(segment: string): string | null {
  try {
    return decodeURIComponent(segment)
  } catch {
    return null
  }
}

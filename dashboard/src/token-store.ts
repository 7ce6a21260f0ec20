import { takeTokenFromUrl } from './data/token.ts'

/** Where the access token is kept between visits (a kiosk keeps it across reboots). */
const KEY = 'linewatch.token'

export function loadToken(): string | null {
  try {
    return localStorage.getItem(KEY)
  } catch {
    return null
  }
}

export function saveToken(token: string | null): void {
  try {
    if (token) localStorage.setItem(KEY, token)
    else localStorage.removeItem(KEY)
  } catch {
    // Storage may be unavailable (private mode): the token then lasts as long as the page.
  }
  memory = token
}

let memory: string | null = null

/** The token in force: the stored one, or the one kept in memory when storage is unavailable. */
export function currentToken(): string | null {
  return loadToken() ?? memory
}

/**
 * Takes `?token=…` out of the address bar (kiosk wall displays are started with it), stores it,
 * and rewrites the address without it so it is not left on screen or in the history.
 */
export function adoptTokenFromAddress(): void {
  const { token, url } = takeTokenFromUrl(location.href)
  if (url !== location.href) history.replaceState(history.state, '', url)
  if (token) saveToken(token)
}

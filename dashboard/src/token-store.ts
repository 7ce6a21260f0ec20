import { takeTokenFromUrl } from './data/token.ts'

/** Where the access token is kept between visits (a kiosk keeps it across reboots). */
const KEY = 'linewatch.token'
/**
 * Where a signed-in user's session token is kept: this tab only, gone when it closes (a session
 * of a person, unlike a wall display's access token). It takes precedence over an access token.
 */
const SESSION_KEY = 'linewatch.session'

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
let sessionMemory: string | null = null

/** The session token of a signed-in user (this tab), or null. */
export function loadSessionToken(): string | null {
  try {
    return sessionStorage.getItem(SESSION_KEY) ?? sessionMemory
  } catch {
    return sessionMemory
  }
}

export function saveSessionToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(SESSION_KEY, token)
    else sessionStorage.removeItem(SESSION_KEY)
  } catch {
    // As above: the session then lasts as long as the page.
  }
  sessionMemory = token
}

/**
 * The token in force: a signed-in user's session token, else the stored access token, or the one
 * kept in memory when storage is unavailable.
 */
export function currentToken(): string | null {
  return loadSessionToken() ?? loadToken() ?? memory
}

/**
 * Takes `?token=…` out of the address bar (kiosk wall displays are started with it), stores it,
 * and rewrites the address without it so it is not left on screen or in the history.
 */
export function adoptTokenFromAddress(): void {
  const { token, url } = takeTokenFromUrl(location.href)
  if (url !== location.href) history.replaceState(history.state, '', url)
  if (token) {
    // A wall display started with its token shows what that token may see, not a person's session.
    saveSessionToken(null)
    saveToken(token)
  }
}

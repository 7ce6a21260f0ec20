/**
 * Access tokens arriving in the address (`?token=…`, for kiosk wall displays that cannot type).
 * The token is taken out of the address so that it is neither bookmarked, shown on screen nor
 * sent onward in a Referer.
 */
export interface TakenToken {
  /** The token found in the query, or null when there was none (an empty value counts as none). */
  token: string | null
  /** The address without the token parameter; equal to the input when there was none. */
  url: string
}

export function takeTokenFromUrl(href: string): TakenToken {
  const url = new URL(href)
  if (!url.searchParams.has('token')) return { token: null, url: href }
  const token = url.searchParams.get('token')?.trim() ?? ''
  url.searchParams.delete('token')
  return { token: token === '' ? null : token, url: url.toString() }
}

/** The Authorization header value for a token, or undefined for anonymous access. */
export function bearer(token: string | null): string | undefined {
  return token ? `Bearer ${token}` : undefined
}

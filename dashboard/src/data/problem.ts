/** What a person is told when a request fails, by HTTP status (0: the gateway was not reached). */
export function problemText(status: number, message?: string): string {
  if (status === 0) return 'The gateway cannot be reached. Retrying…'
  if (status === 401) return 'Sign in with an access token to see this.'
  if (status === 403) return 'Your role may not see this.'
  if (status === 404) return 'Not found: it may have been removed from the configuration.'
  if (status >= 500) return `The gateway failed (${status}). Retrying…`
  return message ? `Request refused (${status}): ${message}` : `Request refused (${status}).`
}

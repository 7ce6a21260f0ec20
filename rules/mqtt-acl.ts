/**
 * Per-client MQTT permissions with the semantics of Mosquitto's `acl_file` (mosquitto.conf(5),
 * and `mosquitto_acl_check_default` in Mosquitto 2.0's src/security_default.c), pure.
 *
 * Entries name whom they apply to: one user, the clients without a user name (`anonymous`:
 * Mosquitto's lines before the first `user` line), or every client (`everyone`: Mosquitto's
 * `pattern` lines, where `%u` and `%c` stand for the client's user name and client id). Each
 * grants `publish` (Mosquitto's write) and `subscribe` (read) on topic filters, or `deny`s them.
 *
 * Which rule wins, for a topic and an access (Mosquitto's order):
 *   1. a `deny` of the client's own entries (its user's, or the anonymous ones) that matches;
 *   2. else a grant of its own entries that matches and gives the access;
 *   3. else a `deny` of the `everyone` entries;
 *   4. else a grant of the `everyone` entries;
 *   5. else refused: with permissions configured, what is not granted is refused.
 * So a user's own grant outranks an `everyone` deny, and its own deny outranks everything.
 * An `everyone` entry with `%u` does not apply to a client without a user name. When there are
 * `everyone` entries, a client whose user name or client id holds `+` or `#` is refused
 * everything (Mosquitto's guard against CVE-2017-7650); here also one whose substituted value
 * holds `/`, which would reach into another client's levels (Mosquitto lets it).
 *
 * Publishing is checked against the topic, receiving against each message delivered
 * (retained ones too), as Mosquitto does. Mosquitto's default ACL grants every SUBSCRIBE and
 * only filters what is delivered; here a subscription is answered with 0x80 (failure) when no
 * topic it matches could ever be delivered to the client, and granted otherwise, deliveries
 * still filtered one by one. The messages a client receives are thus the same as Mosquitto's.
 */

export type PermissionSubject =
  | { user: string; anonymous?: undefined; everyone?: undefined }
  | { anonymous: true; user?: undefined; everyone?: undefined }
  | { everyone: true; user?: undefined; anonymous?: undefined }

/** One entry of `mqtt.broker.permissions`. */
export type PermissionEntry = PermissionSubject & {
  publish?: readonly string[] | undefined
  subscribe?: readonly string[] | undefined
  deny?: readonly string[] | undefined
}

export interface ClientIdentity {
  /** The user name it signed in with (or its certificate's); null when anonymous. */
  username: string | null
  clientId: string
}

export interface ClientPermissions {
  /** May publish to this topic (a will included). */
  canPublish(topic: string): boolean
  /** May receive a message on this topic. */
  canReceive(topic: string): boolean
  /** Whether a subscription to this filter could ever deliver a message to the client. */
  canSubscribe(filter: string): boolean
}

// ------------------------------------------------------------------------------ topic filters

/**
 * What is wrong with a topic filter, or null ([MQTT-4.7.1]: `#` alone and last, `+` alone in
 * its level, not empty, no U+0000). Mosquitto refuses such a line in its acl_file.
 */
export function filterProblem(filter: string): string | null {
  if (filter.length === 0) return 'a topic filter cannot be empty'
  if (filter.includes('\u0000')) return 'a topic filter cannot hold U+0000'
  if (new TextEncoder().encode(filter).length > 65535)
    return 'a topic filter is at most 65,535 bytes'
  const levels = filter.split('/')
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1))
      return `"#" must be a whole level and the last one (${filter})`
    if (level.includes('+') && level !== '+') return `"+" must be a whole level (${filter})`
  }
  return null
}

/** A filter split once: its levels before a trailing `#`, and whether it ends with `#`. */
interface Filter {
  levels: readonly string[]
  hash: boolean
}

function compileFilter(filter: string): Filter {
  const levels = filter.split('/')
  const hash = levels[levels.length - 1] === '#'
  return { levels: hash ? levels.slice(0, -1) : levels, hash }
}

/**
 * Whether a filter matches a topic (given by its levels), MQTT's rules: `+` one level (an empty
 * one too), `#` the rest (the parent level included: `a/#` matches `a`), and a filter that
 * starts with a wildcard does not match a topic starting with `$` [MQTT-4.7.2-1].
 */
function matches(f: Filter, topic: readonly string[]): boolean {
  const first = topic[0] as string
  if (first.startsWith('$') && (f.levels.length === 0 || f.levels[0] === '+')) return false
  const n = f.levels.length
  if (topic.length < n || (!f.hash && topic.length !== n)) return false
  for (let i = 0; i < n; i++) {
    const level = f.levels[i]
    if (level !== '+' && level !== topic[i]) return false
  }
  return true
}

/** Whether an MQTT topic filter matches a topic. */
export function topicMatchesFilter(filter: string, topic: string): boolean {
  return matches(compileFilter(filter), topic.split('/'))
}

// ---------------------------------------------------------------------------- the decision

const READ = 1
const WRITE = 2

interface Rule {
  filter: Filter
  access: number
}

/** A client's rules in the order they are tried (see the module comment). */
interface Compiled {
  ownDeny: Rule[]
  ownGrant: Rule[]
  everyoneDeny: Rule[]
  everyoneGrant: Rule[]
}

const SUBSTITUTION = /^%[uc]$/

/** Whether an `everyone` filter uses `%u` or `%c` (as a whole level). */
function substitutes(filter: string, which: '%u' | '%c'): boolean {
  return filter.split('/').includes(which)
}

function entryFilters(entry: PermissionEntry): { filter: string; access: number }[] {
  const out: { filter: string; access: number }[] = []
  for (const f of entry.publish ?? []) out.push({ filter: f, access: WRITE })
  for (const f of entry.subscribe ?? []) out.push({ filter: f, access: READ })
  for (const f of entry.deny ?? []) out.push({ filter: f, access: 0 })
  return out
}

/**
 * The client's rules: its own entries, and the `everyone` entries with `%u` and `%c`
 * substituted; or null when it is refused everything (a dangerous user name or client id).
 */
function compile(entries: readonly PermissionEntry[], who: ClientIdentity): Compiled | null {
  const compiled: Compiled = { ownDeny: [], ownGrant: [], everyoneDeny: [], everyoneGrant: [] }
  const everyone = entries.filter((e) => e.everyone === true)
  if (everyone.length > 0) {
    const wild = (s: string) => s.includes('+') || s.includes('#')
    if ((who.username !== null && wild(who.username)) || wild(who.clientId)) return null
    const filters = everyone.flatMap(entryFilters).map((r) => r.filter)
    if (
      (who.username?.includes('/') && filters.some((f) => substitutes(f, '%u'))) ||
      (who.clientId.includes('/') && filters.some((f) => substitutes(f, '%c')))
    )
      return null
  }
  for (const entry of entries) {
    const own =
      entry.everyone !== true &&
      (entry.anonymous === true ? who.username === null : entry.user === who.username)
    if (!own && entry.everyone !== true) continue
    for (const { filter, access } of entryFilters(entry)) {
      let text = filter
      if (entry.everyone === true) {
        const levels = filter.split('/')
        // An `everyone` rule with %u is not for a client without a user name (Mosquitto).
        if (who.username === null && levels.includes('%u')) continue
        text = levels
          .map((l) =>
            SUBSTITUTION.test(l) ? (l === '%u' ? (who.username as string) : who.clientId) : l,
          )
          .join('/')
      }
      const rule = { filter: compileFilter(text), access }
      if (entry.everyone === true)
        (access === 0 ? compiled.everyoneDeny : compiled.everyoneGrant).push(rule)
      else (access === 0 ? compiled.ownDeny : compiled.ownGrant).push(rule)
    }
  }
  return compiled
}

/** The verdict for an access, given which rules match (the order of the module comment). */
function decideWith(c: Compiled, access: number, hit: (rule: Rule) => boolean): boolean {
  if (c.ownDeny.some(hit)) return false
  if (c.ownGrant.some((r) => (r.access & access) !== 0 && hit(r))) return true
  if (c.everyoneDeny.some(hit)) return false
  return c.everyoneGrant.some((r) => (r.access & access) !== 0 && hit(r))
}

function decide(c: Compiled, access: number, topic: readonly string[]): boolean {
  return decideWith(c, access, (r) => matches(r.filter, topic))
}

// -------------------------------------------------- could a subscription deliver anything?

/** A level value that equals no level of any filter (U+0000 cannot be in a topic). */
const FRESH = '\u0000'
const DEAD = -1
/** Matched through its `#`: matches whatever follows. */
const ALL = -2
/** Work allowed for one subscription decision; beyond it the subscription is granted (deliveries are still checked one by one). */
const MAX_STATES = 20_000

/** A filter's state after one more topic level, at `depth` (0: the first level). */
function advance(f: Filter, state: number, value: string, depth: number): number {
  if (state === DEAD || state === ALL) return state
  const dollar = depth === 0 && value.startsWith('$')
  if (state < f.levels.length) {
    const level = f.levels[state]
    if (level === '+') return dollar ? DEAD : state + 1
    return level === value ? state + 1 : DEAD
  }
  return f.hash && !dollar ? ALL : DEAD
}

/** Whether a filter in `state` matches the topic ending here (`a/#` matches `a`). */
function endsMatching(f: Filter, state: number): boolean {
  return state === ALL || state === f.levels.length
}

/**
 * Whether some topic that `subscription` matches may be received: a search over topics level by
 * level, where a level is either a literal of some rule at that position or a value equal to
 * none (which only `+` and `#` match): every outcome the rules can give is reached by one of
 * these. States already seen are not searched again.
 */
function anyReceivable(c: Compiled, subscription: Filter): boolean {
  const rules = [...c.ownDeny, ...c.ownGrant, ...c.everyoneDeny, ...c.everyoneGrant]
  // The subscription is filter 0, rule i is filter i + 1.
  const filters = [subscription, ...rules.map((r) => r.filter)]
  const index = new Map(rules.map((r, i) => [r, i + 1]))
  const decideAtEnd = (states: number[]): boolean =>
    decideWith(c, READ, (r) => {
      const i = index.get(r) as number
      return endsMatching(filters[i] as Filter, states[i] as number)
    })
  const seen = new Set<string>()
  let budget = MAX_STATES
  const search = (states: number[], depth: number): boolean => {
    const key = `${depth === 0 ? 'r' : ''}${states.join(',')}`
    if (seen.has(key)) return false
    seen.add(key)
    if (--budget < 0) return true
    const values = new Set<string>([FRESH])
    for (let i = 0; i < filters.length; i++) {
      const f = filters[i] as Filter
      const s = states[i] as number
      if (s >= 0 && s < f.levels.length && f.levels[s] !== '+') values.add(f.levels[s] as string)
    }
    for (const value of values) {
      const next = states.map((s, i) => advance(filters[i] as Filter, s, value, depth))
      if (next[0] === DEAD) continue
      if (endsMatching(subscription, next[0] as number) && decideAtEnd(next)) return true
      // Deeper levels can change an outcome only while some filter is still counting levels.
      if (next.some((s) => s >= 0) && search(next, depth + 1)) return true
    }
    return false
  }
  return search(
    filters.map(() => 0),
    0,
  )
}

// ------------------------------------------------------------------------------ the client

/** Verdicts remembered per client (devices publish to a few topics, over and over). */
const CACHE_ENTRIES = 1024

function cached(decide: (topic: string) => boolean): (topic: string) => boolean {
  const cache = new Map<string, boolean>()
  return (topic) => {
    let verdict = cache.get(topic)
    if (verdict === undefined) {
      verdict = decide(topic)
      if (cache.size >= CACHE_ENTRIES) cache.clear()
      cache.set(topic, verdict)
    }
    return verdict
  }
}

const NOTHING: ClientPermissions = {
  canPublish: () => false,
  canReceive: () => false,
  canSubscribe: () => false,
}

/** A client's permissions under the configured entries. */
export function permissionsFor(
  entries: readonly PermissionEntry[],
  who: ClientIdentity,
): ClientPermissions {
  const c = compile(entries, who)
  if (!c) return NOTHING
  return {
    canPublish: cached((topic) => decide(c, WRITE, topic.split('/'))),
    canReceive: cached((topic) => decide(c, READ, topic.split('/'))),
    canSubscribe: (filter) => anyReceivable(c, compileFilter(filter)),
  }
}

// ------------------------------------------------------------- Mosquitto's acl_file format

export interface AclFileProblem {
  line: number
  message: string
}

/**
 * Reads a Mosquitto acl_file into permission entries (same semantics), or the problems found.
 * `topic [read|write|readwrite|deny] <filter>` lines belong to the anonymous clients until the
 * first `user <name>` line, then to that user; `pattern …` lines to everyone. A line starting
 * with `#` is a comment. As Mosquitto: the access may be left out (readwrite), a filter may hold
 * spaces only after an access, a repeated `user` adds to the same user. Stricter than Mosquitto:
 * `%u` and `%c` only in `pattern` lines and only as a whole level, as its manual says.
 */
export function parseMosquittoAcl(
  text: string,
): { entries: PermissionEntry[] } | { problems: AclFileProblem[] } {
  const entries: PermissionEntry[] = []
  const problems: AclFileProblem[] = []
  let current: PermissionEntry = { anonymous: true }
  const byUser = new Map<string, PermissionEntry>()
  const everyone: PermissionEntry = { everyone: true }
  const add = (entry: PermissionEntry, key: 'publish' | 'subscribe' | 'deny', filter: string) => {
    ;(entry[key] as string[] | undefined) ??= []
    ;(entry[key] as string[]).push(filter)
  }
  entries.push(current)
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1
    const text = raw.trimEnd()
    if (text.startsWith('#')) return
    const words = text.split(' ').filter((w) => w !== '')
    const keyword = words[0]
    if (keyword === undefined) return
    if (keyword === 'user') {
      const name = text.slice(text.indexOf('user') + 4).trim()
      if (name === '') {
        problems.push({ line, message: 'missing user name' })
        return
      }
      let entry = byUser.get(name)
      if (!entry) {
        entry = { user: name }
        byUser.set(name, entry)
        entries.push(entry)
      }
      current = entry
      return
    }
    if (keyword !== 'topic' && keyword !== 'pattern') {
      problems.push({ line, message: `expected topic, pattern or user, not "${keyword}"` })
      return
    }
    const rest = text.slice(text.indexOf(keyword) + keyword.length).replace(/^ +/, '')
    if (rest === '') {
      problems.push({ line, message: 'missing topic' })
      return
    }
    const space = rest.indexOf(' ')
    let access = 'readwrite'
    let filter = rest
    if (space >= 0) {
      access = rest.slice(0, space)
      filter = rest.slice(space + 1).trim()
      if (!['read', 'write', 'readwrite', 'deny'].includes(access)) {
        problems.push({
          line,
          message: `access must be read, write, readwrite or deny, not "${access}"`,
        })
        return
      }
    }
    const problem = filterProblem(filter) ?? substitutionProblem(filter, keyword === 'pattern')
    if (problem) {
      problems.push({ line, message: problem })
      return
    }
    const entry = keyword === 'pattern' ? everyone : current
    if (access === 'deny') add(entry, 'deny', filter)
    if (access === 'write' || access === 'readwrite') add(entry, 'publish', filter)
    if (access === 'read' || access === 'readwrite') add(entry, 'subscribe', filter)
  })
  if (problems.length > 0) return { problems }
  if (everyone.publish || everyone.subscribe || everyone.deny) entries.push(everyone)
  return {
    entries: entries.filter((e) => e.everyone === true || e.publish || e.subscribe || e.deny),
  }
}

/**
 * What is wrong with `%u` / `%c` in a filter: outside `everyone` entries (Mosquitto takes them
 * literally there, surely not what was meant), or inside a level (`dev-%u`).
 */
export function substitutionProblem(filter: string, substituted: boolean): string | null {
  if (!filter.includes('%')) return null
  const levels = filter.split('/')
  if (levels.some((l) => /%[uc]/.test(l) && !SUBSTITUTION.test(l)))
    return `%u and %c must be a whole level (${filter})`
  if (!substituted && levels.some((l) => SUBSTITUTION.test(l)))
    return `%u and %c are substituted only for everyone (Mosquitto: pattern lines), not here (${filter})`
  return null
}

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type ClientIdentity,
  filterProblem,
  type PermissionEntry,
  parseMosquittoAcl,
  permissionsFor,
  substitutionProblem,
  topicMatchesFilter,
} from '../rules/mqtt-acl.ts'

/**
 * The permission rules against what Mosquitto documents (mosquitto.conf(5), acl_file) and
 * does (mosquitto_acl_check_default in src/security_default.c of Mosquitto 2.0), and the topic
 * filter examples of the MQTT 3.1.1 specification, section 4.7. test/mqtt-acl-mosquitto.test.ts
 * compares the same rules with a running Mosquitto.
 */

const user = (username: string, clientId = `${username}-client`): ClientIdentity => ({
  username,
  clientId,
})
const anonymous = (clientId = 'anon-client'): ClientIdentity => ({ username: null, clientId })

describe('topic filters (MQTT 3.1.1, 4.7)', () => {
  it('the examples of 4.7.1.2, 4.7.1.3 and 4.7.2', () => {
    // 4.7.1.2: "sport/tennis/player1/#" matches these three.
    for (const t of [
      'sport/tennis/player1',
      'sport/tennis/player1/ranking',
      'sport/tennis/player1/score/wimbledon',
    ])
      expect(topicMatchesFilter('sport/tennis/player1/#', t)).toBe(true)
    // "sport/#" also matches the singular "sport", since # includes the parent level.
    expect(topicMatchesFilter('sport/#', 'sport')).toBe(true)
    expect(topicMatchesFilter('#', 'sport/tennis')).toBe(true)
    // 4.7.1.3: "sport/tennis/+" matches "sport/tennis/player1" but not "sport/tennis/player1/ranking".
    expect(topicMatchesFilter('sport/tennis/+', 'sport/tennis/player1')).toBe(true)
    expect(topicMatchesFilter('sport/tennis/+', 'sport/tennis/player1/ranking')).toBe(false)
    // "sport/+" does not match "sport" but does match "sport/".
    expect(topicMatchesFilter('sport/+', 'sport')).toBe(false)
    expect(topicMatchesFilter('sport/+', 'sport/')).toBe(true)
    // "+/+" and "/+" match "/finance"; "+" does not.
    expect(topicMatchesFilter('+/+', '/finance')).toBe(true)
    expect(topicMatchesFilter('/+', '/finance')).toBe(true)
    expect(topicMatchesFilter('+', '/finance')).toBe(false)
    // 4.7.2: a filter starting with a wildcard does not match a topic starting with $.
    expect(topicMatchesFilter('#', '$SYS/broker/clients')).toBe(false)
    expect(topicMatchesFilter('+/monitor/Clients', '$SYS/monitor/Clients')).toBe(false)
    expect(topicMatchesFilter('$SYS/#', '$SYS/monitor/Clients')).toBe(true)
    expect(topicMatchesFilter('$SYS/monitor/+', '$SYS/monitor/Clients')).toBe(true)
  })

  it('refuses malformed filters (4.7.1)', () => {
    expect(filterProblem('sport/tennis/#')).toBeNull()
    expect(filterProblem('+/tennis/#')).toBeNull()
    expect(filterProblem('sport/tennis#')).toMatch(/"#" must be a whole level/)
    expect(filterProblem('sport/tennis/#/ranking')).toMatch(/"#" must be a whole level/)
    expect(filterProblem('sport+')).toMatch(/"\+" must be a whole level/)
    expect(filterProblem('')).toMatch(/empty/)
    expect(filterProblem('a\u0000b')).toMatch(/U\+0000/)
  })
})

describe('which rule wins (Mosquitto acl_file)', () => {
  it('a grant gives only its access: publish is write, subscribe is read', () => {
    const p = permissionsFor(
      [{ user: 'filler', publish: ['line/1/#'], subscribe: ['cmd/#'] }],
      user('filler'),
    )
    expect(p.canPublish('line/1/weight')).toBe(true)
    expect(p.canReceive('line/1/weight')).toBe(false)
    expect(p.canReceive('cmd/stop')).toBe(true)
    expect(p.canPublish('cmd/stop')).toBe(false)
    // With permissions configured, anything not granted is refused.
    expect(p.canPublish('line/2/weight')).toBe(false)
  })

  it("a user's own deny outranks its own grants, whatever their order", () => {
    const entries: PermissionEntry[] = [
      { user: 'u', publish: ['a/#'] },
      { user: 'u', deny: ['a/secret'] },
    ]
    const p = permissionsFor(entries, user('u'))
    expect(p.canPublish('a/b')).toBe(true)
    expect(p.canPublish('a/secret')).toBe(false)
    // Repeated entries for one user add up, as repeated `user` lines do in Mosquitto.
    expect(
      permissionsFor(
        [
          { user: 'u', publish: ['x'] },
          { user: 'u', publish: ['y'] },
        ],
        user('u'),
      ).canPublish('y'),
    ).toBe(true)
  })

  it("a user's own grant outranks a deny for everyone (own rules are tried first)", () => {
    const entries: PermissionEntry[] = [
      { user: 'admin', publish: ['#'] },
      { everyone: true, publish: ['#'], deny: ['plant/secret/#'] },
    ]
    expect(permissionsFor(entries, user('admin')).canPublish('plant/secret/x')).toBe(true)
    expect(permissionsFor(entries, user('other')).canPublish('plant/secret/x')).toBe(false)
    expect(permissionsFor(entries, user('other')).canPublish('plant/open')).toBe(true)
  })

  it("a deny for everyone outranks a grant for everyone; a user's own deny outranks a grant for everyone", () => {
    const entries: PermissionEntry[] = [
      { everyone: true, subscribe: ['#'] },
      { everyone: true, deny: ['private/%u/#'] },
      { user: 'u', deny: ['noisy/#'] },
    ]
    const p = permissionsFor(entries, user('u'))
    expect(p.canReceive('line/1')).toBe(true)
    expect(p.canReceive('private/u/x')).toBe(false)
    expect(p.canReceive('private/v/x')).toBe(true)
    expect(p.canReceive('noisy/1')).toBe(false)
  })

  it('anonymous entries are for clients without a user name only', () => {
    const entries: PermissionEntry[] = [{ anonymous: true, subscribe: ['public/#'] }]
    expect(permissionsFor(entries, anonymous()).canReceive('public/x')).toBe(true)
    expect(permissionsFor(entries, user('u')).canReceive('public/x')).toBe(false)
  })

  it('%u and %c are substituted in entries for everyone; %u entries do not apply to anonymous clients', () => {
    const entries: PermissionEntry[] = [
      { everyone: true, publish: ['devices/%u/#', 'clients/%c/status'] },
    ]
    const f1 = permissionsFor(entries, user('f1', 'f1-plc'))
    expect(f1.canPublish('devices/f1/weight')).toBe(true)
    expect(f1.canPublish('devices/f1')).toBe(true)
    expect(f1.canPublish('devices/f2/weight')).toBe(false)
    expect(f1.canPublish('clients/f1-plc/status')).toBe(true)
    expect(f1.canPublish('clients/f2-plc/status')).toBe(false)
    const anon = permissionsFor(entries, anonymous('sensor-9'))
    expect(anon.canPublish('devices/%u/weight')).toBe(false)
    expect(anon.canPublish('clients/sensor-9/status')).toBe(true)
  })

  it('with entries for everyone, a user name or client id holding + or # is refused everything (CVE-2017-7650)', () => {
    const entries: PermissionEntry[] = [
      { user: 'a+b', publish: ['#'] },
      { everyone: true, publish: ['devices/%u/#'] },
    ]
    expect(permissionsFor(entries, user('a+b')).canPublish('x')).toBe(false)
    expect(permissionsFor(entries, user('ok', 'id#1')).canPublish('devices/ok/x')).toBe(false)
    // Without entries for everyone there is nothing to substitute: own entries hold.
    expect(permissionsFor([{ user: 'a+b', publish: ['#'] }], user('a+b')).canPublish('x')).toBe(
      true,
    )
  })

  it('a substituted user name or client id holding / is refused everything (it would reach into other levels)', () => {
    const entries: PermissionEntry[] = [{ everyone: true, publish: ['devices/%u/#'] }]
    // "f1/f2" would otherwise publish to devices/f1/f2/…, inside f1's devices/f1/#.
    expect(permissionsFor(entries, user('f1/f2')).canPublish('devices/f1/f2/x')).toBe(false)
    // A client id with / is fine when no rule substitutes %c.
    expect(permissionsFor(entries, user('f1', 'line/1')).canPublish('devices/f1/x')).toBe(true)
  })

  it('topics starting with $ are granted only by filters starting with $', () => {
    const p = permissionsFor([{ user: 'u', subscribe: ['#', '$SYS/broker/#'] }], user('u'))
    expect(p.canReceive('$SYS/broker/uptime')).toBe(true)
    expect(p.canReceive('$SYS/other')).toBe(false)
    expect(
      permissionsFor([{ user: 'u', subscribe: ['+/broker/#'] }], user('u')).canReceive(
        '$SYS/broker/x',
      ),
    ).toBe(false)
  })

  it('no entry for a user: only the entries for everyone; none at all: refused', () => {
    expect(permissionsFor([{ user: 'x', publish: ['#'] }], user('u')).canPublish('a')).toBe(false)
    expect(permissionsFor([], user('u')).canPublish('a')).toBe(false)
    expect(permissionsFor([{ everyone: true, publish: ['a'] }], user('u')).canPublish('a')).toBe(
      true,
    )
  })
})

describe('a subscription is refused (SUBACK 0x80) when nothing it matches could be delivered', () => {
  const sub = (entries: PermissionEntry[], filter: string, who = user('u')) =>
    permissionsFor(entries, who).canSubscribe(filter)

  it('granted when it overlaps a read grant; deliveries outside the grant are still withheld', () => {
    const entries: PermissionEntry[] = [{ user: 'u', subscribe: ['plant/line-1/#'] }]
    expect(sub(entries, 'plant/line-1/#')).toBe(true)
    expect(sub(entries, 'plant/#')).toBe(true)
    expect(sub(entries, '#')).toBe(true)
    expect(sub(entries, '+/+/weight')).toBe(true)
    expect(sub(entries, 'plant/line-2/#')).toBe(false)
    // "plant/+" matches two-level topics, and plant/line-1/# matches plant/line-1 itself.
    expect(sub(entries, 'plant/+')).toBe(true)
    expect(sub(entries, '+')).toBe(false)
    const p = permissionsFor(entries, user('u'))
    expect(p.canReceive('plant/line-2/weight')).toBe(false)
  })

  it('refused when a deny covers all of it (the interoperability suite forbids test/nosubscribe)', () => {
    const entries: PermissionEntry[] = [
      { anonymous: true, publish: ['#'], subscribe: ['#'], deny: ['test/nosubscribe'] },
    ]
    const who = anonymous()
    expect(sub(entries, 'test/nosubscribe', who)).toBe(false)
    expect(sub(entries, 'test/+', who)).toBe(true)
    expect(sub(entries, 'test/#', who)).toBe(true)
    expect(sub(entries, 'TopicA', who)).toBe(true)
  })

  it('deny and grant overlapping in wildcards', () => {
    // Every topic a/+ matches is under a/#.
    expect(sub([{ user: 'u', subscribe: ['a/+'], deny: ['a/#'] }], 'a/+')).toBe(false)
    // '#' still reaches single-level and three-level topics past a deny of +/+.
    expect(sub([{ user: 'u', subscribe: ['#'], deny: ['+/+'] }], '#')).toBe(true)
    expect(sub([{ user: 'u', subscribe: ['#'], deny: ['+/+'] }], 'x/+')).toBe(false)
    expect(sub([{ user: 'u', subscribe: ['#'], deny: ['+/+', '+', '+/+/#'] }], '#')).toBe(false)
    // Own grant outranks a deny for everyone.
    expect(
      sub(
        [
          { user: 'u', subscribe: ['a/b'] },
          { everyone: true, deny: ['a/#'] },
        ],
        'a/#',
      ),
    ).toBe(true)
    expect(
      sub(
        [
          { user: 'u', subscribe: ['a/b'] },
          { everyone: true, deny: ['a/#'] },
        ],
        'a/#',
        user('v'),
      ),
    ).toBe(false)
  })

  it('write-only grants, $ topics and %u', () => {
    expect(sub([{ user: 'u', publish: ['#'] }], '#')).toBe(false)
    expect(sub([{ user: 'u', subscribe: ['#'] }], '$SYS/#')).toBe(false)
    expect(sub([{ user: 'u', subscribe: ['$SYS/#'] }], '#')).toBe(false)
    expect(sub([{ user: 'u', subscribe: ['$SYS/#'] }], '$SYS/+')).toBe(true)
    const mine: PermissionEntry[] = [{ everyone: true, subscribe: ['cmd/%u'] }]
    expect(sub(mine, 'cmd/+')).toBe(true)
    expect(sub(mine, 'cmd/v')).toBe(false)
    expect(sub(mine, 'cmd/+', anonymous())).toBe(false)
  })

  it('agrees with trying every topic, for random rules (property)', () => {
    // Levels of rules and subscriptions come from {a, b, $s, +}; topics from those and one level
    // that no filter names (c) and the empty one: up to one level longer than any filter, every
    // verdict the rules can give is reached.
    const level = fc.constantFrom('a', 'b', '$s', '+', '')
    const filter = fc
      .tuple(fc.array(level, { minLength: 0, maxLength: 3 }), fc.boolean())
      .filter(([levels, hash]) => levels.length > 0 || hash)
      .map(([levels, hash]) => [...levels, ...(hash ? ['#'] : [])].join('/'))
    const filters = fc.array(filter, { maxLength: 3 })
    const entry = fc
      .tuple(
        fc.constantFrom<PermissionEntry>({ user: 'u' }, { everyone: true }, { user: 'v' }),
        filters,
        filters,
        filters,
      )
      .map(
        ([who, publish, subscribe, deny]) =>
          ({ ...who, publish, subscribe, deny }) as PermissionEntry,
      )
    const topicLevels = ['a', 'b', '$s', 'c', '']
    const topics: string[] = []
    const grow = (prefix: string[]) => {
      if (prefix.length > 0) topics.push(prefix.join('/'))
      if (prefix.length < 5) for (const l of topicLevels) grow([...prefix, l])
    }
    grow([])
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 4 }), filter, (entries, subscription) => {
        const p = permissionsFor(entries, user('u'))
        const brute = topics.some((t) => topicMatchesFilter(subscription, t) && p.canReceive(t))
        expect(p.canSubscribe(subscription)).toBe(brute)
      }),
      { numRuns: 300 },
    )
  })
})

describe("Mosquitto's acl_file format", () => {
  it('reads the example shipped with Mosquitto', () => {
    // /usr/share/doc/mosquitto/examples/aclfile.example (Mosquitto 2.0)
    const file = `# This affects access control for clients with no username.
topic read $SYS/#

# This only affects clients with username "roger".
user roger
topic foo/bar

# This affects all clients.
pattern write $SYS/broker/connection/%c/state
`
    expect(parseMosquittoAcl(file)).toEqual({
      entries: [
        { anonymous: true, subscribe: ['$SYS/#'] },
        { user: 'roger', publish: ['foo/bar'], subscribe: ['foo/bar'] },
        { everyone: true, publish: ['$SYS/broker/connection/%c/state'] },
      ],
    })
  })

  it('deny, repeated users, spaces in a topic after an access, a topic named like an access', () => {
    const file = [
      'user u',
      'topic deny a/secret',
      'topic readwrite a/with space',
      'user v',
      'topic read',
      'user u',
      'topic write b',
    ].join('\n')
    expect(parseMosquittoAcl(file)).toEqual({
      entries: [
        {
          user: 'u',
          deny: ['a/secret'],
          publish: ['a/with space', 'b'],
          subscribe: ['a/with space'],
        },
        // Mosquitto reads "topic read" as read and write on the topic "read".
        { user: 'v', publish: ['read'], subscribe: ['read'] },
      ],
    })
  })

  it('refuses what Mosquitto refuses, and substitution outside pattern lines, with line numbers', () => {
    const file = [
      'topic sometimes a/b',
      'topic read a/#/b',
      'user',
      'acl a',
      '  # not a comment for Mosquitto: only a # in the first column is',
      'topic read devices/%u',
      'pattern read devices/x%u',
    ].join('\n')
    expect(parseMosquittoAcl(file)).toEqual({
      problems: [
        { line: 1, message: 'access must be read, write, readwrite or deny, not "sometimes"' },
        { line: 2, message: '"#" must be a whole level and the last one (a/#/b)' },
        { line: 3, message: 'missing user name' },
        { line: 4, message: 'expected topic, pattern or user, not "acl"' },
        { line: 5, message: 'expected topic, pattern or user, not "#"' },
        {
          line: 6,
          message:
            '%u and %c are substituted only for everyone (Mosquitto: pattern lines), not here (devices/%u)',
        },
        { line: 7, message: '%u and %c must be a whole level (devices/x%u)' },
      ],
    })
    expect(substitutionProblem('devices/%u/#', true)).toBeNull()
  })
})

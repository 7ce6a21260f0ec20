import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { auditChangeLines } from '../rules/quality/audit-changes.ts'
import {
  type AuditEntry,
  type AuditFields,
  applyNcAction,
  auditEntry,
  auditValues,
  bindSignature,
  canonicalJson,
  GENESIS_HASH,
  type NcAction,
  newNcCase,
  recordHash,
  type Signature,
  sha256Hex,
  signatureHolds,
  signatureManifest,
  signatureProblems,
  signedNcContent,
  utcWords,
  verifyAudit,
} from '../rules/quality/index.ts'

/**
 * The canonical form, the hash-chained audit trail and the electronic signatures. Expected
 * values come from published vectors (FIPS 180-2 / NIST for SHA-256; RFC 8785 and its
 * reference implementation's test data for JCS), from canonical texts written out by hand, or
 * from chains built and then damaged here, one way at a time.
 */

describe('sha256Hex against the NIST / FIPS 180-2 examples', () => {
  it('"abc" hashes to ba7816bf…', () => {
    expect(sha256Hex('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    )
  })

  it('the empty string hashes to e3b0c442…', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })

  it('the two-block message "abcdbcde…nopq" hashes to 248d6a61…', () => {
    expect(sha256Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    )
  })

  it('hashes the UTF-8 bytes of the text: "€" is hashed as E2 82 AC', () => {
    expect(sha256Hex('€')).toBe(sha256Hex('\u20ac'))
    expect(sha256Hex('€')).not.toBe(sha256Hex('\u00e2\u0082\u00ac')) // not Latin-1 code units
  })
})

/** The IEEE 754 double with these 16 hexadecimal digits. */
function double(hex: string): number {
  const view = new DataView(new ArrayBuffer(8))
  view.setBigUint64(0, BigInt(`0x${hex}`))
  return view.getFloat64(0)
}

describe('canonicalJson against RFC 8785', () => {
  // RFC 8785 Appendix B: IEEE 754 bit patterns and their JSON form.
  it.each([
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ])('Appendix B: the double %s is written %s', (hex, text) => {
    expect(canonicalJson(double(hex))).toBe(text)
  })

  it('Appendix B: NaN (7fffffffffffffff) and Infinity (7ff0000000000000) are refused', () => {
    expect(() => canonicalJson(double('7fffffffffffffff'))).toThrow(/finite/)
    expect(() => canonicalJson(double('7ff0000000000000'))).toThrow(/finite/)
    expect(() => canonicalJson({ a: [1, -Infinity] })).toThrow(/\$\.a\[1\]/)
    // The place is named however deep (the path is made only for the error).
    expect(() => canonicalJson({ a: { b: [0, { c: Number.NaN }] } })).toThrow(
      /^\$\.a\.b\[1\]\.c: NaN/,
    )
    expect(() => canonicalJson([{ k: '\udead' }])).toThrow(
      /^\$\[0\]\.k: a string holds a lone surrogate/,
    )
  })

  it('§3.2.3: members are sorted by their names’ UTF-16 code units (the RFC’s example)', () => {
    const input = JSON.parse(`{
      "\\u20ac": "Euro Sign",
      "\\r": "Carriage Return",
      "\\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\\ud83d\\ude00": "Emoji: Grinning Face",
      "\\u0080": "Control",
      "\\u00f6": "Latin Small Letter O With Diaeresis"
    }`)
    // Read the order from the text: parsing it again would put "1" first on its own.
    const order = [...canonicalJson(input).matchAll(/:"([^"]*)"/g)].map((m) => m[1])
    expect(order).toEqual([
      'Carriage Return',
      'One',
      'Control',
      'Latin Small Letter O With Diaeresis',
      'Euro Sign',
      'Emoji: Grinning Face',
      'Hebrew Letter Dalet With Dagesh',
    ])
  })

  // The input and output files of the RFC's reference implementation
  // (github.com/cyberphone/json-canonicalization, testdata/).
  it('values.json (the RFC §3.2.4 example): numbers, escapes and literals', () => {
    const input = `{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\"\\/",
      "literals": [null, true, false]
    }`
    expect(canonicalJson(JSON.parse(input))).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    )
  })

  it('weird.json: control characters, "</script>", and names outside the BMP', () => {
    const input = `{
      "\\u20ac": "Euro Sign",
      "\\r": "Carriage Return",
      "\\u000a": "Newline",
      "1": "One",
      "\\u0080": "Control\\u007f",
      "\\ud83d\\ude02": "Smiley",
      "\\u00f6": "Latin Small Letter O With Diaeresis",
      "\\ufb33": "Hebrew Letter Dalet With Dagesh",
      "</script>": "Browser Challenge"
    }`
    const text = canonicalJson(JSON.parse(input))
    expect(text).toBe(
      '{"\\n":"Newline","\\r":"Carriage Return","1":"One","</script>":"Browser Challenge",' +
        '"\u0080":"Control\u007f","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude02":"Smiley","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    )
    // testdata/outhex/weird.txt: the UTF-8 bytes of the canonical text.
    const outhex = `
      7b 22 5c 6e 22 3a 22 4e 65 77 6c 69 6e 65 22 2c 22 5c 72 22 3a 22 43 61 72 72 69 61 67 65 20 52
      65 74 75 72 6e 22 2c 22 31 22 3a 22 4f 6e 65 22 2c 22 3c 2f 73 63 72 69 70 74 3e 22 3a 22 42 72
      6f 77 73 65 72 20 43 68 61 6c 6c 65 6e 67 65 22 2c 22 c2 80 22 3a 22 43 6f 6e 74 72 6f 6c 7f 22
      2c 22 c3 b6 22 3a 22 4c 61 74 69 6e 20 53 6d 61 6c 6c 20 4c 65 74 74 65 72 20 4f 20 57 69 74 68
      20 44 69 61 65 72 65 73 69 73 22 2c 22 e2 82 ac 22 3a 22 45 75 72 6f 20 53 69 67 6e 22 2c 22 f0
      9f 98 82 22 3a 22 53 6d 69 6c 65 79 22 2c 22 ef ac b3 22 3a 22 48 65 62 72 65 77 20 4c 65 74 74
      65 72 20 44 61 6c 65 74 20 57 69 74 68 20 44 61 67 65 73 68 22 7d`
    expect(Buffer.from(text, 'utf8').toString('hex')).toBe(outhex.replace(/\s+/g, ''))
  })

  it('structures.json and arrays.json: nesting, empty objects, numeric-looking names', () => {
    const structures = `{
      "1": {"f": {"f": "hi","F": 5} ,"\\n": 56.0},
      "10": { },
      "": "empty",
      "a": { },
      "111": [ {"e": "yes","E": "no" } ],
      "A": { }
    }`
    expect(canonicalJson(JSON.parse(structures))).toBe(
      '{"":"empty","1":{"\\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{"E":"no","e":"yes"}],"A":{},"a":{}}',
    )
    expect(canonicalJson(JSON.parse('[56, {"d": true, "10": null, "1": [ ]}]'))).toBe(
      '[56,{"1":[],"10":null,"d":true}]',
    )
  })

  it('§3.2.2.2: a lone surrogate, in a value or a member name, ends canonicalization with an error', () => {
    expect(() => canonicalJson('\udead')).toThrow(/lone surrogate/)
    expect(() => canonicalJson({ note: 'ok \ud83d' })).toThrow(/lone surrogate/)
    expect(() => canonicalJson({ '\ude00': 1 })).toThrow(/lone surrogate/)
    expect(canonicalJson('\ud83d\ude00')).toBe('"😀"') // a pair is fine
  })

  it('leaves out undefined members, writes an undefined array element as null, -0 as 0', () => {
    expect(canonicalJson({ b: undefined, a: [undefined, -0] })).toBe('{"a":[null,0]}')
  })

  it('writes the holes of a sparse array as null, as JSON.stringify does (valid JSON)', () => {
    const sparse: unknown[] = new Array(3)
    sparse[1] = 2
    expect(canonicalJson(sparse)).toBe('[null,2,null]')
    expect(canonicalJson(sparse)).toBe(canonicalJson(JSON.parse(JSON.stringify(sparse))))
  })

  it('refuses what JSON cannot hold rather than writing it lossily', () => {
    expect(() => canonicalJson(undefined)).toThrow(/undefined/)
    expect(() => canonicalJson({ n: 1n })).toThrow(/bigint/)
    expect(() => canonicalJson({ f: () => 1 })).toThrow(/function/)
    expect(() => canonicalJson({ s: Symbol('s') })).toThrow(/symbol/)
    expect(() => canonicalJson({ at: new Date(0) })).toThrow(/Date is not plain/)
    expect(() => canonicalJson(new Map())).toThrow(/Map is not plain/)
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic.self = { back: cyclic }
    expect(() => canonicalJson(cyclic)).toThrow(/cycle/)
  })

  it('accepts the same object twice when it is not a cycle, and null-prototype objects', () => {
    const shared = { x: 1 }
    expect(canonicalJson({ a: shared, b: [shared] })).toBe('{"a":{"x":1},"b":[{"x":1}]}')
    const bare = Object.assign(Object.create(null) as object, { b: 2, a: 1 })
    expect(canonicalJson(bare)).toBe('{"a":1,"b":2}')
  })
})

/** The same value with every object's members in a shuffled order. */
function reordered(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((item, i) => reordered(item, seed + i))
  if (value === null || typeof value !== 'object') return value
  const entries = Object.entries(value)
  // A deterministic shuffle (rotate, then reverse on odd seeds) is enough to break the order.
  const k = entries.length === 0 ? 0 : seed % entries.length
  const rotated = [...entries.slice(k), ...entries.slice(0, k)]
  if (seed % 2 === 1) rotated.reverse()
  return Object.fromEntries(rotated.map(([key, v], i) => [key, reordered(v, seed + i + 1)]))
}

describe('canonicalJson properties', () => {
  it('is invariant under the order of object members, so the hash is too', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(1000), (value, seed) => {
        const shuffled = reordered(value, seed)
        expect(canonicalJson(shuffled)).toBe(canonicalJson(value))
        expect(recordHash(shuffled)).toBe(recordHash(value))
      }),
    )
  })

  it('survives a JSON round trip: the text, and so the hash, are the same after a store', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const stored = JSON.parse(JSON.stringify(value)) as unknown
        expect(canonicalJson(stored)).toBe(canonicalJson(value))
      }),
    )
  })

  it('is a fixed point: the canonical text of the parsed canonical text is itself', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value)
        expect(canonicalJson(JSON.parse(text))).toBe(text)
      }),
    )
  })
})

// ---------------------------------------------------------------------------------------------
// The audit trail

const T0 = Date.UTC(2026, 2, 1, 8, 0, 0)

/** What entry `seq` says: distinct content per entry. */
function fields(seq: number): AuditFields {
  return {
    at: T0 + seq * 60_000,
    actor: seq % 2 === 0 ? 'aweber' : 'jlopez',
    action: seq === 1 ? 'open' : 'comment',
    entity: 'nc',
    entityId: 'NC-7',
    reason: `step ${seq} of the investigation`,
    before: seq === 1 ? null : { note: `note ${seq - 1}` },
    after: { note: `note ${seq}` },
  }
}

/** A trail of `count` entries, 1…count. */
function chain(count: number): AuditEntry[] {
  const entries: AuditEntry[] = []
  for (let seq = 1; seq <= count; seq++) {
    entries.push(auditEntry(entries.at(-1) ?? null, fields(seq)))
  }
  return entries
}

const headOf = (entries: readonly AuditEntry[]) => {
  const last = entries.at(-1)!
  return { seq: last.seq, hash: last.hash }
}

describe('auditEntry', () => {
  it('hashes the canonical JSON of every field but the hash (written out here by hand)', () => {
    const first = auditEntry(null, {
      at: 1_700_000_000_000,
      actor: 'aweber',
      action: 'open',
      entity: 'nc',
      entityId: 'NC-1',
      reason: 'raised from an alarm',
      before: null,
      after: { status: 'open', severity: 'major' },
    })
    const text =
      '{"action":"open","actor":"aweber","after":{"severity":"major","status":"open"},' +
      '"at":1700000000000,"before":null,"entity":"nc","entityId":"NC-1",' +
      `"prevHash":"${'0'.repeat(64)}","reason":"raised from an alarm","seq":1}`
    expect(first.seq).toBe(1)
    expect(first.prevHash).toBe(GENESIS_HASH)
    expect(GENESIS_HASH).toBe('0'.repeat(64))
    expect(first.hash).toBe(sha256Hex(text))
  })

  it('links each entry to the one before and numbers them 1, 2, 3, …', () => {
    const entries = chain(5)
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5])
    for (let i = 1; i < entries.length; i++) {
      expect(entries[i]!.prevHash).toBe(entries[i - 1]!.hash)
    }
  })

  it('stores before/after as JSON reads them back (undefined → null, undefined members dropped)', () => {
    const entry = auditEntry(null, {
      ...fields(1),
      before: undefined,
      after: { a: 1, b: undefined },
    })
    expect(entry.before).toBeNull()
    expect(entry.after).toEqual({ a: 1 })
    expect(Object.keys(entry.after as object)).toEqual(['a'])
  })

  it('does not keep a reference to the caller’s before/after objects', () => {
    const after = { note: 'first' }
    const entry = auditEntry(null, { ...fields(1), after })
    after.note = 'changed afterwards'
    expect(verifyAudit([entry]).ok).toBe(true)
  })

  it('refuses an entry without a finite time, or with a value JSON cannot hold', () => {
    expect(() => auditEntry(null, { ...fields(1), at: Number.NaN })).toThrow(/time/)
    expect(() => auditEntry(null, { ...fields(1), after: { at: new Date(0) } })).toThrow()
  })
})

describe('verifyAudit on a chain of 5 entries', () => {
  it('an intact chain verifies, with its count and head', () => {
    const entries = chain(5)
    expect(verifyAudit(entries)).toEqual({ ok: true, count: 5, head: headOf(entries) })
    expect(verifyAudit(entries, headOf(entries)).ok).toBe(true)
  })

  it('an intact chain still verifies after a JSON round trip (stored and read back)', () => {
    const entries = chain(5)
    const stored = JSON.parse(JSON.stringify(entries)) as AuditEntry[]
    expect(verifyAudit(stored, headOf(entries)).ok).toBe(true)
  })

  it('an edited entry is named by its sequence number, and why', () => {
    const entries = chain(5)
    entries[2] = { ...entries[2]!, reason: 'a kinder reason, written afterwards' }
    expect(verifyAudit(entries)).toEqual({
      ok: false,
      seq: 3,
      why: 'entry 3: its content does not match its hash (edited)',
    })
  })

  it('an edit anywhere in an entry is found: actor, time, before and after, even prevHash', () => {
    const edits: ((e: AuditEntry) => AuditEntry)[] = [
      (e) => ({ ...e, actor: 'someone-else' }),
      (e) => ({ ...e, at: e.at + 1 }),
      (e) => ({ ...e, before: { note: 'rewritten' } }),
      (e) => ({ ...e, after: null }),
      (e) => ({ ...e, entityId: 'NC-8' }),
      (e) => ({ ...e, prevHash: GENESIS_HASH }),
    ]
    for (const edit of edits) {
      const entries = chain(5)
      entries[2] = edit(entries[2]!)
      const verdict = verifyAudit(entries)
      expect(verdict).toMatchObject({ ok: false, seq: 3 })
    }
  })

  it('a deleted entry leaves a gap that is named', () => {
    const entries = chain(5)
    entries.splice(1, 1)
    expect(verifyAudit(entries)).toEqual({
      ok: false,
      seq: 2,
      why: 'entry 2 is missing: seq 1 is followed by 3',
    })
  })

  it('a deleted first entry is named', () => {
    expect(verifyAudit(chain(5).slice(1))).toEqual({
      ok: false,
      seq: 1,
      why: 'entry 1 is missing: the trail begins at seq 2',
    })
  })

  it('an edited entry re-hashed to hide the edit breaks the next entry’s link, which is named', () => {
    const entries = chain(5)
    const { hash: _old, ...edited } = { ...entries[2]!, reason: 'rewritten' }
    const rehashed = auditEntry({ seq: 2, hash: entries[1]!.hash }, edited)
    expect(rehashed.seq).toBe(3)
    entries[2] = rehashed
    expect(verifyAudit(entries)).toEqual({
      ok: false,
      seq: 4,
      why: "entry 4: prevHash does not match entry 3's hash",
    })
  })

  it('truncating the last 2 entries leaves a chain intact as far as it goes; the head shows it', () => {
    const entries = chain(5)
    const head = headOf(entries)
    const truncated = entries.slice(0, 3)
    expect(verifyAudit(truncated)).toEqual({ ok: true, count: 3, head: headOf(truncated) })
    expect(verifyAudit(truncated, head)).toEqual({
      ok: false,
      seq: 4,
      why: 'the trail ends at entry 3 but the head kept outside names entry 5 (truncated)',
    })
  })

  it('a forged tail, fully re-chained, passes alone but not against the head kept outside', () => {
    const entries = chain(5)
    const head = headOf(entries)
    const forged = entries.slice(0, 3)
    forged.push(auditEntry(forged.at(-1)!, { ...fields(4), reason: 'forged' }))
    forged.push(auditEntry(forged.at(-1)!, fields(5)))
    expect(verifyAudit(forged).ok).toBe(true)
    expect(verifyAudit(forged, head)).toEqual({
      ok: false,
      seq: 5,
      why: "entry 5's hash differs from the head kept outside",
    })
  })

  it('a trail longer than the head is fine (the head is written after the entries)', () => {
    const entries = chain(5)
    expect(verifyAudit(entries, headOf(entries.slice(0, 4))).ok).toBe(true)
  })

  it('entries out of order and duplicated entries are named', () => {
    const entries = chain(5)
    const swapped = [entries[0]!, entries[2]!, entries[1]!, entries[3]!, entries[4]!]
    expect(verifyAudit(swapped)).toMatchObject({ ok: false, seq: 2 })
    const doubled = [entries[0]!, entries[1]!, entries[1]!, entries[2]!]
    expect(verifyAudit(doubled)).toEqual({
      ok: false,
      seq: 3,
      why: 'entry 3: seq 2 is followed by 2 (duplicated or out of order)',
    })
  })

  it('a first entry that does not link to the genesis hash is named', () => {
    const entries = chain(5)
    const { hash: _h, ...first } = entries[0]!
    const relinked = { ...first, prevHash: 'f'.repeat(64) }
    entries[0] = { ...relinked, hash: sha256Hex(canonicalJson(relinked)) }
    expect(verifyAudit(entries.slice(0, 1))).toEqual({
      ok: false,
      seq: 1,
      why: 'entry 1: prevHash is not the genesis hash (64 zeros)',
    })
  })

  it('a row without a valid seq is named by the seq expected there', () => {
    const entries = chain(3)
    entries[1] = { ...entries[1]!, seq: Number.NaN }
    expect(verifyAudit(entries)).toMatchObject({ ok: false, seq: 2 })
  })

  it('an empty trail verifies, unless the head kept outside names an entry', () => {
    expect(verifyAudit([])).toEqual({ ok: true, count: 0, head: { seq: 0, hash: GENESIS_HASH } })
    expect(verifyAudit([], { seq: 0, hash: GENESIS_HASH }).ok).toBe(true)
    expect(verifyAudit([], { seq: 3, hash: 'a'.repeat(64) })).toEqual({
      ok: false,
      seq: 1,
      why: 'the trail is empty but the head kept outside names entry 3 (truncated)',
    })
  })

  it('verifies a long trail chunk by chunk, each chunk after the head of the one before', () => {
    const entries = chain(5)
    const first = verifyAudit(entries.slice(0, 2))
    if (!first.ok) throw new Error(first.why)
    expect(verifyAudit(entries.slice(2), headOf(entries), first.head)).toEqual({
      ok: true,
      count: 3,
      head: headOf(entries),
    })
  })

  it('a gap or a broken link at a chunk boundary is named as in the whole trail', () => {
    const entries = chain(5)
    const afterTwo = headOf(entries.slice(0, 2))
    expect(verifyAudit(entries.slice(3), undefined, afterTwo)).toEqual({
      ok: false,
      seq: 3,
      why: 'entry 3 is missing: seq 2 is followed by 4',
    })
    const forgedTwo = { seq: 2, hash: 'b'.repeat(64) }
    expect(verifyAudit(entries.slice(2), undefined, forgedTwo)).toEqual({
      ok: false,
      seq: 3,
      why: "entry 3: prevHash does not match entry 2's hash",
    })
  })

  it('finds any single edited reason in any chain, and names that entry', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 8 })
          .chain((n) =>
            fc.tuple(fc.constant(n), fc.integer({ min: 1, max: n }), fc.string({ minLength: 1 })),
          ),
        ([n, target, suffix]) => {
          const entries = chain(n)
          const victim = entries[target - 1]!
          entries[target - 1] = { ...victim, reason: `${victim.reason}${suffix}` }
          expect(verifyAudit(entries)).toMatchObject({ ok: false, seq: target })
        },
      ),
    )
  })
})

describe('auditValues', () => {
  it('gathers the changed fields into one before and one after', () => {
    expect(
      auditValues([
        { field: 'status', before: 'open', after: 'investigating' },
        { field: 'owner', before: null, after: 'aweber' },
      ]),
    ).toEqual({
      before: { status: 'open', owner: null },
      after: { status: 'investigating', owner: 'aweber' },
    })
    expect(auditValues([])).toEqual({ before: {}, after: {} })
  })
})

// ---------------------------------------------------------------------------------------------
// Electronic signatures

const SIGNED_AT = Date.UTC(2026, 11, 6, 14, 3, 11)

const anna = (meaning: Signature['meaning'], record: unknown, at = SIGNED_AT) =>
  bindSignature({ user: 'aweber', printedName: 'Dr. Anna Weber', meaning, at, record })

describe('electronic signatures (21 CFR Part 11)', () => {
  const record = { record: 'nc', id: 'NC-7', disposition: 'scrap', lots: ['L1', 'L2'] }

  it('binds the SHA-256 of the record’s canonical JSON (written out here by hand)', () => {
    const signature = anna('approved', record)
    const text = '{"disposition":"scrap","id":"NC-7","lots":["L1","L2"],"record":"nc"}'
    expect(signature).toEqual({
      user: 'aweber',
      printedName: 'Dr. Anna Weber',
      meaning: 'approved',
      at: SIGNED_AT,
      recordHash: sha256Hex(text),
    })
  })

  it('holds for the record it signed, whatever the key order or a JSON round trip', () => {
    const signature = anna('approved', record)
    expect(signatureHolds(signature, record)).toBe(true)
    const reordered = { lots: ['L1', 'L2'], id: 'NC-7', record: 'nc', disposition: 'scrap' }
    expect(signatureHolds(signature, reordered)).toBe(true)
    expect(signatureHolds(signature, JSON.parse(JSON.stringify(record)))).toBe(true)
  })

  it('is not transferable to another record with the same content but another id', () => {
    const signature = anna('approved', record)
    expect(signatureHolds(signature, { ...record, id: 'NC-8' })).toBe(false)
  })

  it('no longer holds once the record is edited (even the order of an array)', () => {
    const signature = anna('approved', record)
    expect(signatureHolds(signature, { ...record, disposition: 'rework' })).toBe(false)
    expect(signatureHolds(signature, { ...record, lots: ['L2', 'L1'] })).toBe(false)
  })

  it('does not hold for a record that has no JSON form, rather than throwing', () => {
    const signature = anna('approved', record)
    expect(signatureHolds(signature, { ...record, at: new Date(0) })).toBe(false)
  })

  it('refuses a signature with a blank name, an unknown meaning or no time', () => {
    const request = { user: 'aweber', printedName: 'Dr. Anna Weber', at: SIGNED_AT, record }
    expect(() => bindSignature({ ...request, meaning: 'approved', user: '  ' })).toThrow(RangeError)
    expect(() => bindSignature({ ...request, meaning: 'approved', printedName: '' })).toThrow(
      /printed name/,
    )
    expect(() =>
      bindSignature({ ...request, meaning: 'authored' as Signature['meaning'] }),
    ).toThrow(/meaning/)
    expect(() => bindSignature({ ...request, meaning: 'approved', at: Number.NaN })).toThrow(
      /time of signing/,
    )
    expect(() =>
      bindSignature({ ...request, meaning: 'approved', record: { at: new Date(0) } }),
    ).toThrow(/not plain JSON data/)
  })

  it('refuses the same user signing the same content with the same meaning twice', () => {
    const first = anna('approved', record)
    const again = anna('approved', record, SIGNED_AT + 60_000)
    expect(signatureProblems([first], again)).toEqual([
      'aweber has already signed this record with the meaning approved (2026-12-06 14:03:11 UTC)',
    ])
  })

  it('allows the same user to sign with a different meaning (reviewed, then approved)', () => {
    expect(signatureProblems([anna('reviewed', record)], anna('approved', record))).toEqual([])
  })

  it('allows another user the same meaning, and the same meaning on changed content', () => {
    const first = anna('approved', record)
    const other = bindSignature({
      user: 'jlopez',
      printedName: 'J. López',
      meaning: 'approved',
      at: SIGNED_AT,
      record,
    })
    expect(signatureProblems([first], other)).toEqual([])
    expect(signatureProblems([first], anna('approved', { ...record, lots: ['L1'] }))).toEqual([])
  })

  it('prints who, when (UTC, to the second), the meaning and the hash (§11.50)', () => {
    const signature = anna('approved', record)
    expect(signatureManifest(signature)).toEqual([
      'Signed by Dr. Anna Weber (aweber) on 2026-12-06 14:03:11 UTC — meaning: approved',
      `Signed content SHA-256: ${signature.recordHash}`,
    ])
    expect(utcWords(Date.UTC(2027, 0, 2, 3, 4, 5, 999))).toBe('2027-01-02 03:04:05 UTC')
  })
})

describe('a closing signature on an NC', () => {
  const manager = { user: 'aweber', role: 'quality-manager' } as const
  const at = Date.UTC(2026, 2, 1)

  /** An NC taken to dispositioned, ready to close. */
  function dispositioned() {
    let nc = newNcCase()
    const steps: NcAction[] = [
      { action: 'investigate', owner: 'jlopez', dueAt: at + 86_400_000 },
      { action: 'root-cause', whys: ['worn fixture'], fishbone: {} },
      { action: 'disposition', decision: 'scrap', justification: 'dimension out of tolerance' },
    ]
    for (const action of steps) {
      const result = applyNcAction(nc, action, manager, at)
      if ('refused' in result) throw new Error(result.refused)
      nc = result.nc
    }
    return nc
  }

  it('still holds after the close it authorised (status and closing time are not attested)', () => {
    const nc = dispositioned()
    const signature = anna('closed', signedNcContent('NC-7', nc))
    const closed = applyNcAction(nc, { action: 'close' }, manager, at + 1000)
    if ('refused' in closed) throw new Error(closed.refused)
    expect(closed.nc.status).toBe('closed')
    expect(signatureHolds(signature, signedNcContent('NC-7', closed.nc))).toBe(true)
  })

  it('does not hold for another NC with the same findings, nor after a reopen', () => {
    const nc = dispositioned()
    const signature = anna('closed', signedNcContent('NC-7', nc))
    expect(signatureHolds(signature, signedNcContent('NC-8', nc))).toBe(false)
    const closed = applyNcAction(nc, { action: 'close' }, manager, at + 1000)
    if ('refused' in closed) throw new Error(closed.refused)
    const reopened = applyNcAction(
      closed.nc,
      { action: 'reopen', reason: 'the customer found more' },
      manager,
      at + 2000,
    )
    if ('refused' in reopened) throw new Error(reopened.refused)
    expect(signatureHolds(signature, signedNcContent('NC-7', reopened.nc))).toBe(false)
  })
})

describe('what an audit entry changed, as the audit-trail report lists it (auditChangeLines)', () => {
  it('one line per field that differs, times in UTC, nothing cut', () => {
    const long = 'y'.repeat(300)
    expect(
      auditChangeLines({
        before: { owner: null, status: 'open', dueAt: null, note: 'short' },
        after: { owner: 'qe', status: 'open', dueAt: Date.UTC(2026, 11, 20, 17), note: long },
      }),
    ).toEqual([
      'owner: null → qe',
      'dueAt: null → 2026-12-20 17:00:00 UTC',
      `note: short → ${long}`,
    ])
  })

  it('a text of several lines that appeared (a configuration diff): its name, then its lines', () => {
    const diff = [
      '@ characteristics[id="fill"].limits',
      '-   "actionHigh": 505,',
      '+   "actionHigh": 506,',
    ].join('\n')
    expect(auditChangeLines({ before: { sha256: 'a1' }, after: { sha256: 'b2', diff } })).toEqual([
      'sha256: a1 → b2',
      'diff:',
      '@ characteristics[id="fill"].limits',
      '-   "actionHigh": 505,',
      '+   "actionHigh": 506,',
    ])
  })

  it('cut at maxLength when asked (the dashboard’s panels)', () => {
    expect(auditChangeLines({ before: null, after: 'x'.repeat(20) }, { maxLength: 10 })).toEqual([
      `null → ${'x'.repeat(9)}…`,
    ])
    expect(auditChangeLines({ before: null, after: null })).toEqual([])
  })
})

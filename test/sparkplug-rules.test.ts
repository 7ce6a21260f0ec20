import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  engineeringUnit,
  initialSparkplugNode,
  parseSparkplugTopic,
  type SparkplugEvent,
  type SparkplugInput,
  type SparkplugMessageType,
  type SparkplugMetric,
  type SparkplugNodeState,
  type SparkplugPolicy,
  sparkplugDeadline,
  sparkplugNumber,
  stepSparkplugNode,
} from '../rules/index.ts'

// A primary host's view of one edge node (rules/sparkplug.ts), driven message by message with
// the time given in each input. Expected values are written out from the Sparkplug 3.0 text.

const POLICY: SparkplugPolicy = {
  reorderTimeoutMs: 2000,
  rebirth: {
    onGap: true,
    onDataBeforeBirth: true,
    onUnknownAlias: true,
    onMalformed: true,
    minIntervalMs: 5000,
  },
}

const metric = (m: Partial<SparkplugMetric>): SparkplugMetric => ({
  name: null,
  alias: null,
  datatype: null,
  timestamp: null,
  value: null,
  isNull: false,
  properties: {},
  ...m,
})

function msg(
  type: SparkplugMessageType,
  at: number,
  seq: number | null,
  metrics: SparkplugMetric[] = [],
  device: string | null = null,
  timestamp: number | null = at,
): SparkplugInput<string> {
  return {
    kind: 'message',
    type,
    device,
    at,
    ref: `${type}#${seq}`,
    payload: { timestamp, seq, metrics },
  }
}

const BIRTH_METRICS = [
  metric({ name: 'Node Control/Rebirth', datatype: 11, value: false }),
  metric({ name: 'bdSeq', datatype: 8, value: 3n }),
  metric({
    name: 'Fill weight',
    alias: 1,
    datatype: 10,
    value: 500.1,
    properties: { engUnit: 'g' },
  }),
  metric({ name: 'Torque', alias: 2, datatype: 9, value: 2.5 }),
]
const nbirth = (at: number, bdSeq = 3) =>
  msg('NBIRTH', at, 0, [
    ...BIRTH_METRICS.filter((m) => m.name !== 'bdSeq'),
    metric({ name: 'bdSeq', datatype: 8, value: BigInt(bdSeq) }),
  ])
const ndata = (at: number, seq: number, value = 500 + seq) =>
  msg('NDATA', at, seq, [metric({ alias: 1, value })])
const ndeath = (at: number, bdSeq: number) =>
  msg('NDEATH', at, null, [metric({ name: 'bdSeq', datatype: 8, value: BigInt(bdSeq) })])

/** The values the events delivered, in order, as `name=value`. */
const values = (events: SparkplugEvent<string>[]) =>
  events.flatMap((e) =>
    e.type === 'values' && !e.birth
      ? e.metrics.map((m) => `${m.def.name}=${String(m.metric.value)}`)
      : [],
  )
const kinds = (events: SparkplugEvent<string>[]) => events.map((e) => e.type)
const rebirths = (events: SparkplugEvent<string>[]) =>
  events.flatMap((e) => (e.type === 'rebirth' ? [e.reason] : []))

function born(at = 0): SparkplugNodeState<string> {
  const s = initialSparkplugNode<string>()
  stepSparkplugNode(POLICY, s, nbirth(at))
  return s
}

describe('Sparkplug topics', () => {
  it('names the host STATE, node and device messages; anything else is not Sparkplug', () => {
    expect(parseSparkplugTopic('spBv1.0/STATE/scada-1')).toEqual({
      kind: 'state',
      hostId: 'scada-1',
    })
    expect(parseSparkplugTopic('spBv1.0/Plant1/NDATA/Filler')).toEqual({
      kind: 'node',
      group: 'Plant1',
      type: 'NDATA',
      node: 'Filler',
      device: null,
    })
    expect(parseSparkplugTopic('spBv1.0/Plant1/DDATA/Filler/Scale')).toEqual({
      kind: 'node',
      group: 'Plant1',
      type: 'DDATA',
      node: 'Filler',
      device: 'Scale',
    })
    for (const t of [
      'spBv1.0/Plant1/DDATA/Filler',
      'spBv1.0/Plant1/NDATA/Filler/Scale',
      'spBv1.0/Plant1/XDATA/Filler',
      'spBv1.0/STATE/a/b',
      'spAv1.0/Plant1/NDATA/Filler',
      'spBv1.0/Plant1//Filler',
    ])
      expect(parseSparkplugTopic(t), t).toBeNull()
  })
})

describe('Sparkplug values', () => {
  it('integers take their sign from the data type; 64-bit ones are exact', () => {
    expect(sparkplugNumber(0xffffffff, 3)).toBe(-1) // Int32 −1 travels as uint32
    expect(sparkplugNumber(0xffffff85, 1)).toBe(-123) // Int8
    expect(sparkplugNumber(0xffffffff, 7)).toBe(4294967295) // UInt32
    expect(sparkplugNumber(2n ** 64n - 5n, 4)).toBe(-5) // Int64
    expect(sparkplugNumber(2n ** 53n, 8)).toBe(9007199254740992) // UInt64
    expect(sparkplugNumber(true, 11)).toBe(1)
    expect(sparkplugNumber('12.5', 12)).toBeNull()
    expect(sparkplugNumber(null, 10)).toBeNull()
  })

  it('engineering units from the usual property names', () => {
    expect(engineeringUnit({ engUnit: 'g' })).toBe('g')
    expect(engineeringUnit({ EngUnits: 'N·m' })).toBe('N·m')
    expect(engineeringUnit({ 'Engineering Units': '°C' })).toBe('°C')
    expect(engineeringUnit({ Quality: 192 })).toBeNull()
  })
})

describe('edge node session', () => {
  it('NBIRTH learns metrics and aliases; NDATA by name and by alias; seq 255 wraps to 0', () => {
    const s = initialSparkplugNode<string>()
    const birth = stepSparkplugNode(POLICY, s, nbirth(0))
    expect(kinds(birth)).toEqual(['birth', 'values'])
    expect(s.bdSeq).toBe(3)
    expect(s.nextSeq).toBe(1)
    expect(s.metrics.get('Fill weight')?.alias).toBe(1)
    const out: string[] = []
    for (let i = 1; i <= 300; i++) {
      const seq = i % 256
      const m = i % 2 === 0 ? metric({ name: 'Torque', value: i }) : metric({ alias: 1, value: i })
      const events = stepSparkplugNode(POLICY, s, msg('NDATA', i, seq, [m]))
      expect(kinds(events)).toEqual(['values'])
      out.push(...values(events))
    }
    expect(out[0]).toBe('Fill weight=1')
    expect(out[1]).toBe('Torque=2')
    expect(out).toHaveLength(300)
    expect(s.nextSeq).toBe(301 % 256)
  })

  it('seq 0 after 255 is in order, not a gap (the Long 0 of a payload arrives as the number 0)', () => {
    const s = born()
    for (let seq = 1; seq <= 255; seq++) stepSparkplugNode(POLICY, s, ndata(seq, seq))
    const events = stepSparkplugNode(POLICY, s, ndata(256, 0))
    expect(values(events)).toEqual(['Fill weight=500'])
    expect(s.reorderSince).toBeNull()
    expect(s.counters.gaps).toBe(0)
  })

  it('[tck-id-operational-behavior-host-reordering-start] [tck-id-operational-behavior-host-reordering-success] a message ahead waits; the missing one arriving in time releases both in order, no rebirth', () => {
    const s = born()
    stepSparkplugNode(POLICY, s, ndata(10, 1))
    const ahead = stepSparkplugNode(POLICY, s, ndata(20, 3))
    expect(ahead).toEqual([])
    expect(s.reorderSince).toBe(20)
    expect(sparkplugDeadline(POLICY, s)).toBe(2020)
    const late = stepSparkplugNode(POLICY, s, ndata(1500, 2))
    expect(values(late)).toEqual(['Fill weight=502', 'Fill weight=503'])
    expect(s.reorderSince).toBeNull()
    expect(sparkplugDeadline(POLICY, s)).toBeNull()
    expect(rebirths(stepSparkplugNode(POLICY, s, { kind: 'tick', at: 5000 }))).toEqual([])
  })

  it('[tck-id-operational-behavior-host-reordering-param] [tck-id-operational-behavior-host-reordering-rebirth] the reorder timeout elapses: what waited is taken in order and a rebirth is asked for', () => {
    const s = born()
    stepSparkplugNode(POLICY, s, ndata(10, 1))
    stepSparkplugNode(POLICY, s, ndata(100, 4))
    stepSparkplugNode(POLICY, s, ndata(200, 3))
    expect(stepSparkplugNode(POLICY, s, { kind: 'tick', at: 2099 })).toEqual([])
    const timeout = stepSparkplugNode(POLICY, s, { kind: 'tick', at: 2100 })
    expect(values(timeout)).toEqual(['Fill weight=503', 'Fill weight=504'])
    expect(rebirths(timeout)).toEqual(['gap'])
    expect(s.counters.gaps).toBe(1)
    expect(s.nextSeq).toBe(5)
    // A shorter timeout is honoured as configured.
    const quick = { ...POLICY, reorderTimeoutMs: 50 }
    const q = born()
    stepSparkplugNode(quick, q, ndata(10, 2))
    expect(rebirths(stepSparkplugNode(quick, q, { kind: 'tick', at: 60 }))).toEqual(['gap'])
  })

  it('a message behind the expected seq, or one that came twice, is refused as out-of-order', () => {
    const s = born()
    stepSparkplugNode(POLICY, s, ndata(1, 1))
    stepSparkplugNode(POLICY, s, ndata(2, 2))
    const behind = stepSparkplugNode(POLICY, s, ndata(3, 1))
    expect(behind).toEqual([
      {
        type: 'refused',
        reason: 'out-of-order',
        detail: 'NDATA seq 1 is behind (expected 3)',
        device: null,
        at: 3,
        ref: 'NDATA#1',
      },
    ])
    stepSparkplugNode(POLICY, s, ndata(4, 5))
    const twice = stepSparkplugNode(POLICY, s, ndata(5, 5))
    expect(twice[0]).toMatchObject({
      reason: 'out-of-order',
      detail: 'NDATA seq 5 came twice (expected 3)',
    })
    expect(s.counters.outOfOrder).toBe(2)
  })

  it('data before a birth is refused and a rebirth asked for (unless switched off)', () => {
    const s = initialSparkplugNode<string>()
    const events = stepSparkplugNode(POLICY, s, ndata(0, 7))
    expect(events.map((e) => (e.type === 'refused' ? e.reason : e.type))).toEqual([
      'before-birth',
      'rebirth',
    ])
    const off = { ...POLICY, rebirth: { ...POLICY.rebirth, onDataBeforeBirth: false } }
    expect(rebirths(stepSparkplugNode(off, initialSparkplugNode(), ndata(0, 7)))).toEqual([])
  })

  it('an alias the birth did not give: the known metrics are taken, the rest refused, a rebirth asked for', () => {
    const s = born()
    const events = stepSparkplugNode(
      POLICY,
      s,
      msg('NDATA', 10, 1, [metric({ alias: 2, value: 3 }), metric({ alias: 9, value: 1 })]),
    )
    expect(values(events)).toEqual(['Torque=3'])
    expect(events[1]).toMatchObject({
      type: 'refused',
      reason: 'unknown-metric',
      detail: 'NDATA names alias 9, which the NBIRTH did not announce',
    })
    expect(rebirths(events)).toEqual(['unknown-metric'])
  })

  it('a malformed payload is refused and a rebirth asked for; a birth without metric names is malformed', () => {
    const s = born()
    const events = stepSparkplugNode(POLICY, s, {
      kind: 'malformed',
      type: 'NDATA',
      device: null,
      detail: 'index out of range',
      at: 10,
    })
    expect(events.map((e) => (e.type === 'refused' ? e.reason : e.type))).toEqual([
      'malformed-sparkplug',
      'rebirth',
    ])
    const nameless = stepSparkplugNode(
      POLICY,
      initialSparkplugNode(),
      msg('NBIRTH', 0, 0, [metric({ alias: 1 })]),
    )
    expect(nameless[0]).toMatchObject({
      reason: 'malformed-sparkplug',
      detail: 'NBIRTH metric 0 has no name',
    })
  })

  it('rebirth requests: at most one per minIntervalMs; those in between merge into one sent when it has passed', () => {
    const s = initialSparkplugNode<string>()
    const sent: number[] = []
    for (let at = 0; at < 12_000; at += 100) {
      for (const e of stepSparkplugNode(POLICY, s, ndata(at, 1)))
        if (e.type === 'rebirth') sent.push(e.at)
    }
    expect(sent).toEqual([0, 5000, 10000])
    // A held-back request is sent by a tick at its deadline, with no further message.
    const t = initialSparkplugNode<string>()
    stepSparkplugNode(POLICY, t, ndata(0, 1))
    stepSparkplugNode(POLICY, t, ndata(100, 2))
    expect(t.pendingRebirth).toBe('before-birth')
    expect(sparkplugDeadline(POLICY, t)).toBe(5000)
    expect(rebirths(stepSparkplugNode(POLICY, t, { kind: 'tick', at: 4999 }))).toEqual([])
    expect(rebirths(stepSparkplugNode(POLICY, t, { kind: 'tick', at: 5000 }))).toEqual([
      'before-birth',
    ])
    expect(t.counters).toMatchObject({ rebirths: 2, rebirthsSuppressed: 1 })
    // A birth answers what was held back: nothing more goes.
    stepSparkplugNode(POLICY, t, ndata(5100, 3))
    stepSparkplugNode(POLICY, t, nbirth(5200))
    expect(t.pendingRebirth).toBeNull()
  })

  it('[tck-id-operational-behavior-edge-node-termination-host-action-ndeath-node-offline] [tck-id-operational-behavior-edge-node-termination-host-action-ndeath-node-tags-stale] NDEATH with the birth’s bdSeq: node and devices offline, their metrics stale at the host’s time', () => {
    const s = born(0)
    stepSparkplugNode(
      POLICY,
      s,
      msg('DBIRTH', 5, 1, [metric({ name: 'Level', datatype: 10, value: 1 })], 'Tank'),
    )
    const death = stepSparkplugNode(POLICY, s, ndeath(1000, 3))
    expect(death).toEqual([{ type: 'death', device: null, at: 1000, why: 'NDEATH (bdSeq 3)' }])
    expect(s.online).toBe(false)
    expect(s.metrics.get('Torque')?.staleSince).toBe(1000)
    expect(s.devices.get('Tank')?.online).toBe(false)
    expect(s.devices.get('Tank')?.metrics.get('Level')?.staleSince).toBe(1000)
    // Data after the death is data before a birth.
    expect(rebirths(stepSparkplugNode(POLICY, s, ndata(1100, 2)))).toEqual(['before-birth'])
  })

  it('[tck-id-payloads-ndeath-bdseq] an NDEATH whose bdSeq is not the current birth’s is ignored', () => {
    const s = born(0)
    const events = stepSparkplugNode(POLICY, s, ndeath(1000, 2))
    expect(events).toEqual([{ type: 'ignored-death', bdSeq: 2, at: 1000 }])
    expect(s.online).toBe(true)
    expect(values(stepSparkplugNode(POLICY, s, ndata(1100, 1)))).toEqual(['Fill weight=501'])
    expect(s.counters.ignoredDeaths).toBe(1)
  })

  it('[tck-id-operational-behavior-edge-node-termination-host-action-ddeath-devices-tags-stale] DDEATH: that device offline and stale at the DDEATH’s time stamp; DDATA before a DBIRTH is refused', () => {
    const s = born(0)
    const ddata = stepSparkplugNode(
      POLICY,
      s,
      msg('DDATA', 5, 1, [metric({ name: 'Level', value: 1 })], 'Tank'),
    )
    expect(ddata[0]).toMatchObject({
      reason: 'before-birth',
      detail: 'DDATA of device "Tank" before its DBIRTH',
    })
    stepSparkplugNode(
      POLICY,
      s,
      msg('DBIRTH', 10, 2, [metric({ name: 'Level', datatype: 10, value: 1 })], 'Tank'),
    )
    const death = stepSparkplugNode(POLICY, s, msg('DDEATH', 900, 3, [], 'Tank', 850))
    expect(death).toEqual([
      { type: 'death', device: 'Tank', at: 850, why: 'DDEATH of device "Tank"' },
    ])
    expect(s.devices.get('Tank')?.metrics.get('Level')?.staleSince).toBe(850)
    expect(s.online).toBe(true)
  })

  it('a new NBIRTH starts over: seq from the birth, waiting messages and devices dropped', () => {
    const s = born(0)
    stepSparkplugNode(POLICY, s, ndata(10, 5))
    const again = stepSparkplugNode(POLICY, s, nbirth(20))
    expect(s.held.size).toBe(0)
    expect(rebirths(again)).toEqual([])
    expect(values(stepSparkplugNode(POLICY, s, ndata(30, 1)))).toEqual(['Fill weight=501'])
  })

  it('reordering: any order of a burst that arrives within the timeout is taken in seq order, with no rebirth (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 1, max: 40 }).chain((n) =>
          fc.shuffledSubarray(
            Array.from({ length: n }, (_, i) => i),
            { minLength: n, maxLength: n },
          ),
        ),
        (start, order) => {
          const s = initialSparkplugNode<string>()
          stepSparkplugNode(POLICY, s, msg('NBIRTH', 0, start, BIRTH_METRICS))
          const got: string[] = []
          const asked: string[] = []
          order.forEach((k, i) => {
            const events = stepSparkplugNode(POLICY, s, ndata(1 + i, (start + 1 + k) % 256, k))
            got.push(...values(events))
            asked.push(...rebirths(events))
          })
          expect(got).toEqual(order.map((_, k) => `Fill weight=${k}`))
          expect(asked).toEqual([])
          expect(s.held.size).toBe(0)
        },
      ),
    )
  })
})

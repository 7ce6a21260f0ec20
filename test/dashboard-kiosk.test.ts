import { describe, expect, it } from 'vitest'
import { mergeDeviationHistory, pushDeviations } from '../dashboard/src/data/deviations.ts'
import {
  findArea,
  inArea,
  kioskAreas,
  kioskSettings,
  largestFitting,
  rotationIndex,
} from '../dashboard/src/data/kiosk.ts'
import { scaleStrokes, strokeScale } from '../dashboard/src/data/screen.ts'
import type { DeviationView, Hierarchy, RecentDeviationView } from '../gateway/contract.ts'

/** The wall display's pure logic (issue 11): kiosk settings, areas, rotation, fitting, strokes, strip history. */

const at = (
  site: string,
  area: string | null,
  line: string | null = null,
): { hierarchy: Hierarchy } => ({
  hierarchy: { site, area, line, cell: null },
})

describe('kiosk settings', () => {
  it('come from the address, over the display token', () => {
    expect(kioskSettings('', null)).toBeNull()
    expect(kioskSettings('?kiosk=1', null)).toEqual({ area: null, rotateSeconds: null })
    expect(kioskSettings('?kiosk', undefined)).toEqual({ area: null, rotateSeconds: null })
    // area or rotate alone imply kiosk mode.
    expect(kioskSettings('?area=Machining', null)).toEqual({
      area: 'Machining',
      rotateSeconds: null,
    })
    expect(kioskSettings('?rotate=30', null)).toEqual({ area: null, rotateSeconds: 30 })
    // A token's settings, and the address over them.
    const token = { area: 'Dortmund/Filling', rotateSeconds: 20 }
    expect(kioskSettings('', token)).toEqual(token)
    expect(kioskSettings('?area=Aseptic', token)).toEqual({ area: 'Aseptic', rotateSeconds: 20 })
    expect(kioskSettings('?area=&rotate=0', token)).toEqual({ area: null, rotateSeconds: null })
    expect(kioskSettings('?kiosk=0', token)).toBeNull()
    expect(kioskSettings('?kiosk=off&rotate=5', null)).toBeNull()
  })

  it('keep a rotation between 2 s and a day, and ignore what is not a number', () => {
    expect(kioskSettings('?rotate=1', null)?.rotateSeconds).toBe(2)
    expect(kioskSettings('?rotate=999999', null)?.rotateSeconds).toBe(86_400)
    expect(kioskSettings('?kiosk=1&rotate=soon', null)?.rotateSeconds).toBeNull()
    expect(kioskSettings('?kiosk=1&rotate=-5', null)?.rotateSeconds).toBeNull()
  })
})

describe('areas', () => {
  const items = [
    at('Dortmund', 'Filling', 'Line 1'),
    at('Dortmund', 'Aseptic'),
    at('Dortmund', 'Filling', 'Line 2'),
    at('Dortmund', null),
    at('Essen', 'Filling'),
  ]

  it('are listed in the order they first appear, with what sits directly in a site', () => {
    expect(kioskAreas(items)).toEqual([
      { key: 'Dortmund/Filling', site: 'Dortmund', area: 'Filling', name: 'Filling' },
      { key: 'Dortmund/Aseptic', site: 'Dortmund', area: 'Aseptic', name: 'Aseptic' },
      { key: 'Dortmund', site: 'Dortmund', area: null, name: 'Dortmund' },
      { key: 'Essen/Filling', site: 'Essen', area: 'Filling', name: 'Filling' },
    ])
  })

  it('are found by key, then by name ignoring case; the first of a name shared by sites', () => {
    const areas = kioskAreas(items)
    expect(findArea(areas, 'Essen/Filling')?.key).toBe('Essen/Filling')
    expect(findArea(areas, 'essen / filling')?.key).toBe('Essen/Filling')
    expect(findArea(areas, 'filling')?.key).toBe('Dortmund/Filling')
    expect(findArea(areas, 'ASEPTIC')?.key).toBe('Dortmund/Aseptic')
    expect(findArea(areas, 'Dortmund')?.key).toBe('Dortmund')
    expect(findArea(areas, 'Machining')).toBeNull()
  })

  it('hold exactly their characteristics', () => {
    const [filling, , site] = kioskAreas(items)
    expect(items.map((i) => inArea(i, filling as never))).toEqual([true, false, true, false, false])
    expect(items.map((i) => inArea(i, site as never))).toEqual([false, false, false, true, false])
  })

  it('rotate by the clock: every display with the same setting shows the same area', () => {
    expect(
      [0, 29_999, 30_000, 59_999, 60_000, 90_000, 120_000].map((t) => rotationIndex(t, 30, 3)),
    ).toEqual([0, 0, 1, 1, 2, 0, 1])
    expect(rotationIndex(1_700_000_000_000, 30, 1)).toBe(0)
    expect(rotationIndex(5, 30, 0)).toBe(0)
  })
})

describe('fitting', () => {
  it('finds the largest scale that fits, to the precision asked', () => {
    const limit = 1.2345
    const r = largestFitting((s) => s <= limit, 0.25, 2.5, 16)
    expect(r.fits).toBe(true)
    expect(r.scale).toBeLessThanOrEqual(limit)
    expect(limit - r.scale).toBeLessThan((2.5 - 0.25) / 2 ** 16)
  })

  it('takes the largest when it fits, and says when not even the smallest does', () => {
    expect(largestFitting(() => true, 0.25, 2.5)).toEqual({ scale: 2.5, fits: true })
    expect(largestFitting(() => false, 0.25, 2.5)).toEqual({ scale: 0.25, fits: false })
  })
})

describe('lines that grow with the screen', () => {
  it('scale with the type: ×1 at 16 px (1080p), ×2 at 32 px (4K), never under ¾', () => {
    expect(strokeScale(16)).toBe(1)
    expect(strokeScale(32)).toBe(2)
    expect(strokeScale(8)).toBe(0.75)
    expect(strokeScale(400)).toBe(4)
    expect(strokeScale(Number.NaN)).toBe(1)
  })

  it('multiply a chart’s widths, dashes, markers and ticks, without touching shared objects twice', () => {
    const grid = { stroke: '#333', width: 1 }
    const ticks = { stroke: '#333', width: 1, size: 5 }
    const points = { show: true, size: 9, width: 2 }
    const options = {
      series: [
        {},
        { stroke: '#fff', width: 1.5, points },
        { stroke: '#f00', dash: [4, 4], points },
        { label: 'markers only', paths: () => null, points: { size: 5 } },
      ],
      axes: [
        { grid, ticks },
        { grid, ticks },
      ],
    }
    const scaled = scaleStrokes(options, 2)
    expect(scaled.series[0]).toEqual({})
    expect(scaled.series[1]).toMatchObject({ width: 3, points: { size: 18, width: 4 } })
    // A line without a width is uPlot's 1 px: 2 px now.
    expect(scaled.series[2]).toMatchObject({
      width: 2,
      dash: [8, 8],
      points: { size: 18, width: 4 },
    })
    expect(scaled.series[3]).toMatchObject({ points: { size: 10 } })
    expect(scaled.series[3]).not.toHaveProperty('width')
    for (const a of scaled.axes)
      expect(a).toMatchObject({ grid: { width: 2 }, ticks: { width: 2, size: 10 } })
    // The builders' shared objects are left as they were.
    expect(grid.width).toBe(1)
    expect(points).toEqual({ show: true, size: 9, width: 2 })
    expect(scaleStrokes(options, 1)).toBe(options)
  })
})

describe('the deviation strip’s history', () => {
  const live = (
    ts: number,
    value: number,
    onset: boolean,
    characteristic = 'fill',
  ): DeviationView => ({
    characteristic,
    cause: 'action-high',
    kind: 'limit',
    onset,
    ts,
    value,
    limit: 506,
    pane: null,
  })
  const recent = (ts: number, fields: Partial<RecentDeviationView> = {}): RecentDeviationView => ({
    characteristic: 'fill',
    cause: 'action-high',
    kind: 'limit',
    ts,
    value: 507,
    limit: 506,
    pane: null,
    count: 1,
    lastTs: ts,
    lastValue: 507,
    endedAt: null,
    ...fields,
  })

  it('shows what the gateway holds, newest first, within the strip’s length', () => {
    const list = mergeDeviationHistory(
      [],
      [recent(300), recent(100, { count: 4, lastTs: 130, lastValue: null, endedAt: 130 })],
      10,
    )
    expect(list.map((e) => [e.ts, e.count, e.lastValue])).toEqual([
      [300, 1, 507],
      [100, 4, null],
    ])
    expect(
      mergeDeviationHistory([], [recent(1), recent(2), recent(3)], 2).map((e) => e.ts),
    ).toEqual([3, 2])
  })

  it('holds each deviation once: one seen live keeps the larger count and the later reading', () => {
    let list = pushDeviations([], [live(100, 507, true), live(101, 508, false)])
    list = mergeDeviationHistory(list, [recent(100, { count: 5, lastTs: 104, lastValue: null })])
    expect(list).toHaveLength(1)
    expect(list[0]).toMatchObject({ ts: 100, count: 5, lastTs: 104, lastValue: null })
    // Live ones after the history go on counting into the same entry.
    list = pushDeviations(list, [live(105, 509, false)])
    expect(list).toHaveLength(1)
    expect(list[0]).toMatchObject({ count: 6, lastTs: 105, lastValue: 509 })
  })

  it('folds a deviation this screen saw only from its middle into its onset', () => {
    // Opened mid-excursion: a continuation began an entry of its own.
    let list = pushDeviations([], [live(103, 508.5, false), live(50, 511, true, 'other')])
    expect(list.find((e) => e.characteristic === 'fill')).toMatchObject({ partial: true, ts: 103 })
    list = mergeDeviationHistory(list, [recent(100, { count: 3, lastTs: 102, lastValue: null })])
    expect(list.map((e) => [e.characteristic, e.ts, e.count, e.lastTs, e.lastValue])).toEqual([
      ['fill', 100, 3, 103, 508.5],
      ['other', 50, 1, 50, 511],
    ])
    // A partial entry after a deviation that had ended is another deviation: kept.
    const later = pushDeviations([], [live(200, 509, false)])
    expect(mergeDeviationHistory(later, [recent(100, { endedAt: 150 })]).map((e) => e.ts)).toEqual([
      200, 100,
    ])
  })
})

import type uPlot from 'uplot'
import { pointTickLabel } from './data/chart-range.ts'
import { formatTimeTick, formatValue, valueSteps } from './data/format.ts'
import { timeRange, tsAt } from './data/series.ts'

/** Colours of the charts, read from the page's design tokens (canvas cannot use CSS variables). */
export interface ChartColours {
  text: string
  dim: string
  faint: string
  grid: string
  bg: string
  action: string
  alert: string
  spc: string
  link: string
}

export function chartColours(el: Element): ChartColours {
  const s = getComputedStyle(el)
  const v = (name: string, fallback: string) => s.getPropertyValue(name).trim() || fallback
  return {
    text: v('--lw-text', '#eceef1'),
    dim: v('--lw-text-dim', '#a4aab2'),
    faint: v('--lw-text-faint', '#6f767f'),
    grid: v('--lw-surface-2', '#2c3036'),
    bg: v('--lw-bg', '#141619'),
    action: v('--lw-action', '#d92d2d'),
    alert: v('--lw-alert', '#f2b01e'),
    spc: v('--lw-spc', '#7c4dff'),
    link: v('--lw-link', '#9cc3ff'),
  }
}

/** CSS pixels of the chart font, from the element's font size. */
export function fontPx(el: Element): number {
  return Number.parseFloat(getComputedStyle(el).fontSize) || 16
}

/** Axes for an index-based x scale whose ticks are labelled with the time of the nearest point. */
export function axes(
  colours: ChartColours,
  px: number,
  timeline: () => { x: readonly number[]; ts: readonly number[] },
  decimals: number,
  showX: boolean,
): uPlot.Axis[] {
  const font = `${Math.round(px * 0.85)}px system-ui, "Liberation Sans", "DejaVu Sans", sans-serif`
  const common = {
    stroke: colours.dim,
    font,
    grid: { stroke: colours.grid, width: 1 },
    ticks: { stroke: colours.grid, width: 1, size: 5 },
  }
  return [
    {
      // Without labels (an upper pane) the axis still draws its grid and leaves room for the y labels.
      ...common,
      space: px * 7,
      size: showX ? px * 2.2 : px * 0.7,
      // x is the point index: ticks on whole points only, each labelled with its time once.
      incrs: [
        1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000, 100_000, 1_000_000,
      ],
      values: (_u, splits) => {
        let previous = ''
        const { ts: times } = timeline()
        // A day or more of points (chart history): the ticks carry the date too.
        const span = (times[times.length - 1] ?? 0) - (times[0] ?? 0)
        return splits.map((x) => {
          const ts = showX ? tsAt(timeline(), x) : null
          const label = ts === null ? '' : pointTickLabel(ts, span)
          if (label === previous) return ''
          previous = label
          return label
        })
      },
    },
    {
      ...common,
      space: px * 2.5,
      size: px * 5,
      incrs: valueSteps(decimals),
      values: (_u, splits) => splits.map((y) => formatValue(y, decimals)),
    },
  ]
}

/**
 * Axes for a time-proportional x scale (x in UTC milliseconds: the plot needs `ms: 1` and
 * `timeScale`): the ticks are uPlot's time steps, each labelled once (see formatTimeTick).
 */
export function timeAxes(colours: ChartColours, px: number, decimals: number): uPlot.Axis[] {
  const [, y] = axes(colours, px, () => ({ x: [], ts: [] }), decimals, true) as [
    uPlot.Axis,
    uPlot.Axis,
  ]
  const font = `${Math.round(px * 0.85)}px system-ui, "Liberation Sans", "DejaVu Sans", sans-serif`
  return [
    {
      stroke: colours.dim,
      font,
      grid: { stroke: colours.grid, width: 1 },
      ticks: { stroke: colours.grid, width: 1, size: 5 },
      space: px * 7,
      size: px * 2.2,
      values: (_u, splits, _axis, _space, step) => {
        let previous = ''
        return splits.map((ts) => {
          const label = formatTimeTick(ts, step)
          if (label === previous) return ''
          previous = label
          return label
        })
      },
    },
    y,
  ]
}

/** The x scale of a time-proportional chart (milliseconds): the data's span and a little room. */
export const timeScale: uPlot.Scale = {
  time: true,
  range: (_u, min, max) => timeRange(min, max),
}

/**
 * A series drawn as markers only. `always`: drawn however dense the points (else uPlot shows them
 * only when there is room, and the line alone carries the data).
 */
export function markers(
  label: string,
  size: number,
  stroke: string,
  fill: string,
  always = true,
): uPlot.Series {
  const points: uPlot.Series.Points = { size, stroke, fill, width: 2 }
  if (always) points.show = true
  return { label, stroke, paths: () => null, points }
}

/** A horizontal reference line (limit). */
export function line(label: string, stroke: string, width: number, dash: number[]): uPlot.Series {
  return { label, stroke, width, dash, points: { show: false }, spanGaps: false }
}

/**
 * Limits that hold point by point: each value is a level from half a point before its x to half a
 * point after, joined to the next point's level by a vertical step; a null (no limit there) or a
 * gap in x breaks the line. A constant limit draws as one straight line.
 */
export const centredSteps: uPlot.Series.PathBuilder = (u, seriesIdx, idx0, idx1) => {
  const xs = u.data[0]
  const ys = u.data[seriesIdx] as (number | null | undefined)[] | undefined
  const scale = u.series[seriesIdx]?.scale ?? 'y'
  const stroke = new Path2D()
  if (!ys) return { stroke, fill: null }
  let previousX: number | null = null
  for (let i = idx0; i <= idx1; i++) {
    const x = xs[i]
    const y = ys[i]
    if (x === undefined || y === null || y === undefined) {
      previousX = null
      continue
    }
    const left = u.valToPos(x - 0.5, 'x', true)
    const right = u.valToPos(x + 0.5, 'x', true)
    const level = u.valToPos(y, scale, true)
    if (previousX !== null && x - previousX === 1) stroke.lineTo(left, level)
    else stroke.moveTo(left, level)
    stroke.lineTo(right, level)
    previousX = x
  }
  return { stroke, fill: null }
}

/** A limit drawn point by point (see centredSteps). */
export function stepLine(
  label: string,
  stroke: string,
  width: number,
  dash: number[],
): uPlot.Series {
  return { label, stroke, width, dash, points: { show: false }, paths: centredSteps }
}

/** The x scale of an index-based chart: half a point of room on each side for markers and steps. */
export const pointScale: uPlot.Scale = {
  time: false,
  range: (_u, min, max) =>
    min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)
      ? [0, 1]
      : [min - 0.5, max + 0.5],
}

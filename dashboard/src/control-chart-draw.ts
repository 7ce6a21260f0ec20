import type uPlot from 'uplot'
import { type ChartSeries, markLabel, type PaneSeries } from './data/chart-series.ts'
import { strokeScale } from './data/screen.ts'
import { type ChartColours, markers, stepLine } from './uplot-theme.ts'

/**
 * What lw-control-chart draws with uPlot, apart from the element: each pane's series and columns
 * (in drawing order), and the canvas hooks that shade the baseline, mark restarts and name the
 * flagged points.
 */

type Column = (number | null)[]

/** The uPlot series of a pane, in drawing order: limits, then the data, then the markers. */
export function paneSeries(ps: PaneSeries, c: ChartColours, label: string): uPlot.Series[] {
  const ring = (name: string): uPlot.Series => ({
    label: name,
    stroke: c.spc,
    paths: () => null,
    points: { show: true, size: 21, width: 3.5, stroke: c.spc, fill: 'transparent' },
  })
  if (ps.kind === 'cusum') {
    return [
      stepLine('Centre', c.dim, 1.5, []),
      stepLine('+h', c.text, 1.5, [10, 5]),
      stepLine('−h', c.text, 1.5, [10, 5]),
      { label: 'C⁺', stroke: c.text, width: 2, points: { show: true, size: 5, fill: c.text } },
      {
        label: 'C⁻ (downward)',
        stroke: c.dim,
        width: 2,
        dash: [7, 4],
        points: { show: true, size: 5, fill: c.dim },
      },
      ring('Signal up'),
      ring('Signal down'),
    ]
  }
  const series: uPlot.Series[] = [
    stepLine('CL', c.dim, 1.5, []),
    stepLine('UCL', c.text, 1.5, [10, 5]),
    stepLine('LCL', c.text, 1.5, [10, 5]),
  ]
  if (ps.alarm) {
    series.push(
      stepLine('Action high', c.action, 2.5, [4, 4]),
      stepLine('Alert high', c.alert, 2, [4, 4]),
      stepLine('Alert low', c.alert, 2, [4, 4]),
      stepLine('Action low', c.action, 2.5, [4, 4]),
    )
  }
  series.push(
    { label, stroke: c.dim, width: 1.5, points: { show: false } },
    markers('Baseline', 8, c.dim, c.bg),
    markers('Monitor', 5, c.text, c.text, false),
  )
  if (ps.alarm) {
    series.push(
      markers('Beyond an alert limit', 9, c.alert, c.alert),
      markers('Beyond an action limit', 9, c.action, c.action),
    )
  }
  series.push(ring('Violation'))
  return series
}

/** The columns of a pane in the order of paneSeries. */
export function paneColumns(ps: PaneSeries): Column[] {
  if (ps.kind === 'cusum') {
    return [ps.cl, ps.ucl, ps.lcl, ps.value, ps.lower, ps.violation, ps.lowerViolation]
  }
  const a = ps.alarm
  return [
    ps.cl,
    ps.ucl,
    ps.lcl,
    ...(a ? [a.actionHigh, a.alertHigh, a.alertLow, a.actionLow] : []),
    ps.value,
    ps.baseline,
    ps.monitor,
    ...(a ? [a.beyondAlert, a.beyondAction] : []),
    ps.violation,
  ]
}

/** Faint bands behind the baseline (Phase I) points, and a divider where the limits started anew. */
export function shadeBaseline(
  u: uPlot,
  s: ChartSeries,
  c: ChartColours,
  px: number,
  labelled: boolean,
): void {
  const { top, height, left, width } = u.bbox
  const dpr = devicePixelRatio
  const ctx = u.ctx
  ctx.save()
  ctx.font = `600 ${Math.round(px * 0.8 * dpr)}px system-ui, "Liberation Sans", sans-serif`
  // uPlot leaves the context as its axes drew (right-aligned labels): set what is used.
  ctx.textAlign = 'left'
  ctx.textBaseline = 'top'
  for (const [first, lastAt] of s.baselineRuns) {
    const x0 = u.valToPos((s.x[first] as number) - 0.5, 'x', true)
    const x1 = u.valToPos((s.x[lastAt] as number) + 0.5, 'x', true)
    const a = Math.max(left, x0)
    const b = Math.min(left + width, x1)
    if (b <= a) continue
    ctx.fillStyle = 'rgba(255,255,255,0.045)'
    ctx.fillRect(a, top, b - a, height)
    if (labelled && b - a > px * 6 * dpr) {
      ctx.fillStyle = c.faint
      ctx.fillText('BASELINE', a + 6 * dpr, top + 6 * dpr)
    }
  }
  for (const at of s.restarts) {
    const x = u.valToPos((s.x[at] as number) - 0.5, 'x', true)
    if (x < left || x > left + width) continue
    ctx.strokeStyle = c.dim
    const line = dpr * strokeScale(px)
    ctx.lineWidth = 2 * line
    ctx.setLineDash([3 * line, 3 * line])
    ctx.beginPath()
    ctx.moveTo(x, top)
    ctx.lineTo(x, top + height)
    ctx.stroke()
    if (labelled) {
      ctx.fillStyle = c.dim
      ctx.fillText('LIMITS ESTIMATED ANEW', x + 6 * dpr, top + 6 * dpr + px * dpr)
    }
  }
  ctx.restore()
}

/** Names the rules at each flagged point of a pane, and labels CUSUM's two sums. */
export function labelMarks(
  u: uPlot,
  s: ChartSeries,
  pane: string,
  c: ChartColours,
  px: number,
): void {
  const ps = s.panes.find((p) => p.pane === pane)
  if (!ps) return
  const ctx = u.ctx
  const dpr = devicePixelRatio
  const { left, width, top, height } = u.bbox
  ctx.save()
  ctx.font = `700 ${Math.round(px * 0.85 * dpr)}px system-ui, "Liberation Sans", sans-serif`
  ctx.textAlign = 'center'
  const write = (text: string, x: number, y: number) => {
    ctx.lineWidth = 4 * dpr * strokeScale(px)
    ctx.strokeStyle = c.bg
    ctx.strokeText(text, x, y)
    ctx.fillStyle = c.text
    ctx.fillText(text, x, y)
  }
  // Upward marks are named above, downward ones (C⁻) below; labels that would overlap the
  // previous one on the same side are skipped (every marker is still drawn).
  const lastX = { up: Number.NEGATIVE_INFINITY, down: Number.NEGATIVE_INFINITY }
  for (const v of ps.violations) {
    if (!v.onset) continue
    const x = u.valToPos(s.x[v.at] as number, 'x', true)
    if (x < left || x > left + width) continue
    const down = v.rules.every((r) => r === 'cusum-lower')
    const side = down ? 'down' : 'up'
    const text = markLabel(v)
    const room = Math.max(px * 2.5, ctx.measureText(text).width / dpr + px) * dpr
    if (x - lastX[side] < room) continue
    lastX[side] = x
    const y = u.valToPos(v.value, 'y', true)
    if (down) {
      ctx.textBaseline = 'top'
      write(text, x, Math.min(top + height - px * dpr, y + 13 * dpr))
    } else {
      ctx.textBaseline = 'bottom'
      write(text, x, Math.max(top + px * dpr, y - 13 * dpr))
    }
  }
  if (ps.kind === 'cusum') {
    // Name the two sums at their latest point.
    ctx.textAlign = 'left'
    ctx.textBaseline = 'middle'
    ctx.font = `700 ${Math.round(px * 0.9 * dpr)}px system-ui, "Liberation Sans", sans-serif`
    const at = lastIndex(ps.value)
    if (at >= 0) {
      const x = u.valToPos(s.x[at] as number, 'x', true) + 8 * dpr
      const yUp = u.valToPos(ps.value[at] as number, 'y', true)
      const yDown = u.valToPos((ps.lower[at] ?? 0) as number, 'y', true)
      const apart = Math.abs(yUp - yDown) >= px * dpr
      // A sum off the scale (data/cusum-range.ts) is named by its arrow at the edge instead.
      const inside = (y: number) => y >= top && y <= top + height
      if (x < left + width - px * 2 * dpr) {
        if (inside(yUp)) write('C⁺', x + px * 0.6 * dpr, apart ? yUp : yUp - px * 0.5 * dpr)
        if (inside(yDown)) write('C⁻', x + px * 0.6 * dpr, apart ? yDown : yDown + px * 0.5 * dpr)
      }
    }
  }
  ctx.restore()
}

function lastIndex(column: Column): number {
  for (let k = column.length - 1; k >= 0; k--) if (column[k] !== null) return k
  return -1
}

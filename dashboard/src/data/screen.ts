/**
 * Lines and markers that grow with the screen, as the type does. The dashboard's type unit is
 * 16 CSS px on a 1080p wall display and 32 on a 4K one (index.html `--lw-u`); a chart's lines and
 * markers, given in CSS px for 1080p, are multiplied by the same ratio. (uPlot and the canvas
 * drawings multiply CSS px by devicePixelRatio themselves: a line is as thick on a 4K screen at
 * 200 % as at 100 %.)
 */

/** The type size lines are drawn for at scale 1 (CSS px). */
export const REFERENCE_FONT_PX = 16

/** The factor for lines and markers at a type size of `fontPx` CSS px (never thinner than ¾). */
export function strokeScale(fontPx: number): number {
  if (!Number.isFinite(fontPx) || fontPx <= 0) return 1
  return Math.min(4, Math.max(0.75, fontPx / REFERENCE_FONT_PX))
}

/** What scaleStrokes reads and writes of uPlot's options (structurally, to stay free of uPlot). */
interface StrokeOptions {
  series?: ({
    stroke?: unknown
    width?: number
    dash?: number[]
    points?: { size?: number; width?: number }
  } | null)[]
  axes?: ({
    grid?: { width?: number }
    ticks?: { width?: number; size?: number }
  } | null)[]
}

/** uPlot's width of a series line that names none. */
const DEFAULT_WIDTH = 1

/**
 * Multiplies every line width, dash, marker size and tick of a chart's options by `scale` and
 * returns them. Call it once on options built for scale 1. The series and axes are changed in
 * place; the objects inside them (grid, ticks, points) are replaced, as builders share them.
 */
export function scaleStrokes<T extends StrokeOptions>(options: T, scale: number): T {
  if (scale === 1) return options
  const by = <O extends object>(o: O, keys: readonly (keyof O)[]): O => {
    const out = { ...o }
    for (const k of keys) if (typeof out[k] === 'number') (out[k] as number) *= scale
    return out
  }
  for (const s of options.series ?? []) {
    if (!s) continue
    if (s.width !== undefined || s.stroke !== undefined)
      s.width = (s.width ?? DEFAULT_WIDTH) * scale
    if (s.dash) s.dash = s.dash.map((d) => d * scale)
    if (s.points) s.points = by(s.points, ['size', 'width'])
  }
  for (const a of options.axes ?? []) {
    if (!a) continue
    if (a.grid) a.grid = by(a.grid, ['width'])
    if (a.ticks) a.ticks = by(a.ticks, ['width', 'size'])
  }
  return options
}

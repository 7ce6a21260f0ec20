import { sha256Hex } from './canonical.ts'
import { type EditBlock, shortestEdit } from './shortest-edit.ts'

/**
 * Names the place of each block of whole lines of `text`, [from, to) in ascending order; an
 * empty name says nothing (jsonPlaces, for the configuration's JSON text).
 */
export type PlaceNamer = (
  text: string,
  blocks: readonly { from: number; to: number }[],
) => readonly string[]

/**
 * A line diff of two versions of a configuration file, for the audit trail and the history
 * views: what changed, with a little context, in a form a reviewer reads at a glance.
 *
 * The body only (no file names, no @@ line numbers): each line starts with two characters,
 * `'  '` an unchanged line given as context, `'- '` a line only in `before`, `'+ '` a line only
 * in `after`; within a change the removed lines come before the added ones. Each change is
 * shown with up to DIFF_CONTEXT_LINES unchanged lines either side; changes closer than that
 * share one hunk, and hunks are separated by a line `…`. Lines are joined with "\n", with no
 * final newline; equal texts give the empty string.
 *
 * Lines are the text split at "\n"; a final "\n" ends the last line rather than starting an
 * empty one, so a missing final newline is not a difference here. A "\r" stays part of its
 * line: a change from CRLF to LF line endings shows as changed lines.
 *
 * The common first and last lines are set aside on the texts themselves, before anything is
 * split. Up to MAX_DIFF_LINES (5,000) lines on either side from the first change to the last,
 * the edit script is a longest common subsequence by a table, O(n·m). Beyond, it is Myers'
 * shortest edit script on the lines in place (shortest-edit.ts), which finds up to
 * MAX_CHANGED_LINES (1,000) removed and added lines in a file of any length: two changes far
 * apart in the configuration of 100,000 characteristics (2.4 million lines) in about 0.6 s.
 * With more changes than that, the body is two lines, `- N lines, SHA-256 <hex>` and
 * `+ M lines, SHA-256 <hex>` (each whole text's line count and the SHA-256 of its UTF-8 bytes).
 *
 * With `places`, each hunk begins with a line `@ <place>` naming where its changes are (each
 * change in `before`, or in `after` when it only adds lines; several places joined by ` · `),
 * unless every name is empty: two lines of context rarely say which characteristic a changed
 * limit belongs to.
 */
export function lineDiff(
  before: string,
  after: string,
  options: { places?: PlaceNamer } = {},
): string {
  if (before === after) return ''
  const part = differingPart(before, after, DIFF_CONTEXT_LINES)
  const many =
    countLines(before, part.from, part.toA) > MAX_DIFF_LINES ||
    countLines(after, part.from, part.toB) > MAX_DIFF_LINES
  if (many) {
    return (
      longDiff(before, after, part, options.places) ??
      [
        `- ${countLines(before, 0, before.length)} lines, SHA-256 ${sha256Hex(before)}`,
        `+ ${countLines(after, 0, after.length)} lines, SHA-256 ${sha256Hex(after)}`,
      ].join('\n')
    )
  }
  const a = linesOf(before.slice(part.from, part.toA))
  const b = linesOf(after.slice(part.from, part.toB))
  const blocks = tableScript(a, b)
  return render(
    blocks,
    part,
    a.length,
    (i) => a[i] as string,
    (j) => b[j] as string,
    options.places &&
      hunkPlaces(
        blocks,
        options.places,
        before,
        after,
        lineStartsOf(a, part.from),
        lineStartsOf(b, part.from),
      ),
  )
}

/** Where each of `lines` starts in the text they were split from at `from`, and after the last. */
function lineStartsOf(lines: readonly string[], from: number): (i: number) => number {
  const starts = [from]
  for (const line of lines) starts.push((starts.at(-1) as number) + line.length + 1)
  return (i) => starts[i] as number
}

/**
 * The place of each block's change: a block that removes lines is named by its lines in
 * `before`, one that only adds them by its lines in `after`.
 */
function hunkPlaces(
  blocks: readonly EditBlock[],
  places: PlaceNamer,
  before: string,
  after: string,
  startA: (i: number) => number,
  startB: (j: number) => number,
): readonly string[] {
  const inA = blocks.filter((k) => k.aTo > k.aFrom)
  const inB = blocks.filter((k) => k.aTo === k.aFrom)
  const namesA = places(
    before,
    inA.map((k) => ({ from: startA(k.aFrom), to: startA(k.aTo) })),
  )
  const namesB = places(
    after,
    inB.map((k) => ({ from: startB(k.bFrom), to: startB(k.bTo) })),
  )
  let a = 0
  let b = 0
  return blocks.map((k) => (k.aTo > k.aFrom ? namesA[a++] : namesB[b++]) ?? '')
}

/** The most lines on either side of the part that differs that lineDiff compares by a table. */
export const MAX_DIFF_LINES = 5000

/**
 * Beyond MAX_DIFF_LINES, the most changed lines (removed and added) lineDiff finds by Myers'
 * algorithm (its trace takes about 4 bytes per square of this: 4 MB), and the most steps
 * (comparisons and moves) it may take: a bound on its time whatever the texts.
 */
export const MAX_CHANGED_LINES = 1000
const MAX_DIFF_STEPS = 50_000_000

/** Unchanged lines shown either side of a change. */
export const DIFF_CONTEXT_LINES = 2

function linesOf(text: string): string[] {
  if (text === '') return []
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop() // the final newline ends the last line
  return lines
}

/** Lines of text[from, to) as linesOf counts them, without splitting it. */
function countLines(text: string, from: number, to: number): number {
  let n = 0
  for (let at = text.indexOf('\n', from); at !== -1 && at < to; at = text.indexOf('\n', at + 1)) n++
  return from === to || text.charCodeAt(to - 1) === 10 ? n : n + 1
}

/**
 * What differs: before[from, toA) and after[from, toB), whole lines; `head` and `tail` the up
 * to DIFF_CONTEXT_LINES common lines just before and after it.
 */
interface Part {
  head: string[]
  from: number
  toA: number
  toB: number
  tail: string[]
}

/**
 * The lines that differ, found on the texts themselves: the common first lines and the common
 * last lines are set aside before anything is split, all but `context` of them either side
 * (`head`, `tail`: the unchanged lines a hunk may show). A one-line change in a configuration of
 * 2.4 million lines (100,000 characteristics) splits a few lines, not both texts.
 */
function differingPart(before: string, after: string, context: number): Part {
  const shorter = Math.min(before.length, after.length)
  let same = 0
  while (same < shorter && before.charCodeAt(same) === after.charCodeAt(same)) same++
  // The common first lines end at the last line break within what is the same.
  const from = same === 0 ? 0 : before.lastIndexOf('\n', same - 1) + 1
  let back = 0
  while (
    back < shorter - from &&
    before.charCodeAt(before.length - 1 - back) === after.charCodeAt(after.length - 1 - back)
  )
    back++
  // The common last lines begin after a line break inside what is the same at the end (one that
  // is the same character in both texts), and are whole lines in both.
  let toA = before.length
  let toB = after.length
  const breakAt = before.indexOf('\n', before.length - back)
  if (breakAt !== -1) {
    toA = breakAt + 1
    toB = toA - before.length + after.length
  }
  return {
    head: linesBefore(before, from, context),
    from,
    toA,
    toB,
    tail: linesOf(linesFrom(before, toA, context)),
  }
}

/** Up to `n` whole lines that end at `end` (a line start). */
function linesBefore(text: string, end: number, n: number): string[] {
  let start = end
  // lastIndexOf clamps a negative position to 0: a line start of 1 follows an empty first line.
  for (let k = 0; k < n && start > 0; k++)
    start = start < 2 ? 0 : text.lastIndexOf('\n', start - 2) + 1
  return linesOf(text.slice(start, end))
}

/** The text of up to `n` whole lines from `start` (a line start). */
function linesFrom(text: string, start: number, n: number): string {
  let end = start
  for (let k = 0; k < n && end < text.length; k++) {
    const at = text.indexOf('\n', end)
    end = at === -1 ? text.length : at + 1
  }
  return text.slice(start, end)
}

/** The changes that turn `a` into `b`, by a longest common subsequence of the lines (a table). */
function tableScript(a: readonly string[], b: readonly string[]): EditBlock[] {
  // The common first and last lines need no table: most edits touch a few lines.
  let start = 0
  while (start < a.length && start < b.length && a[start] === b[start]) start++
  let endA = a.length
  let endB = b.length
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--
    endB--
  }
  // Lines as numbers, so the table compares integers rather than strings.
  const ids = new Map<string, number>()
  const id = (line: string) => {
    let n = ids.get(line)
    if (n === undefined) {
      n = ids.size
      ids.set(line, n)
    }
    return n
  }
  const x = Int32Array.from(a.slice(start, endA), id)
  const y = Int32Array.from(b.slice(start, endB), id)
  const n = x.length
  const m = y.length
  // lcs[i·(m+1) + j]: the LCS length of x[i…] and y[j…]. At most 5,000 fits 16 bits.
  const width = m + 1
  const lcs = new Uint16Array((n + 1) * width)
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      const here = i * width + j
      lcs[here] =
        x[i] === y[j]
          ? (lcs[here + width + 1] as number) + 1
          : Math.max(lcs[here + width] as number, lcs[here + 1] as number)
    }
  }
  // Walked from the start: a common line ends the block under way.
  const blocks: EditBlock[] = []
  let block: EditBlock | null = null
  let i = 0
  let j = 0
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) {
      block = null
      i++
      j++
      continue
    }
    if (!block) {
      block = { aFrom: start + i, aTo: start + i, bFrom: start + j, bTo: start + j }
      blocks.push(block)
    }
    if (j === m || (i < n && lcs[(i + 1) * width + j]! >= lcs[i * width + j + 1]!)) {
      i++
      block.aTo = start + i
    } else {
      j++
      block.bTo = start + j
    }
  }
  return blocks
}

/**
 * The body from the changes of the part that differs: each block its removed lines, then its
 * added ones, with up to DIFF_CONTEXT_LINES unchanged lines either side, hunks split by '…'.
 * Unchanged lines are found by their place in the first text's part; the common lines set
 * aside before and after it (part.head, part.tail) are places −head.length … −1 and countA … .
 */
function render(
  blocks: readonly EditBlock[],
  part: Part,
  countA: number,
  lineA: (i: number) => string,
  lineB: (j: number) => string,
  /** Per block, the place of its change ('' none); a hunk is headed by its blocks' places. */
  places?: readonly string[],
): string {
  const context = DIFF_CONTEXT_LINES
  const unchanged = (i: number) =>
    i < 0
      ? (part.head[part.head.length + i] as string)
      : i >= countA
        ? (part.tail[i - countA] as string)
        : lineA(i)
  const out: string[] = []
  const show = (from: number, to: number) => {
    for (let i = from; i < to; i++) out.push(`  ${unchanged(i)}`)
  }
  // Blocks closer than twice the context share a hunk.
  const hunks: EditBlock[][] = []
  for (const block of blocks) {
    const last = hunks.at(-1)?.at(-1)
    if (last && block.aFrom - last.aTo <= 2 * context) (hunks.at(-1) as EditBlock[]).push(block)
    else hunks.push([block])
  }
  let k = 0
  for (const [h, hunk] of hunks.entries()) {
    if (h > 0) out.push('…')
    const named = new Set(hunk.map((_, b) => places?.[k + b]).filter((p) => p))
    if (named.size > 0) out.push(`@ ${[...named].join(' · ')}`)
    k += hunk.length
    let previousEnd = Math.max((hunk[0] as EditBlock).aFrom - context, -part.head.length)
    for (const block of hunk) {
      show(previousEnd, block.aFrom)
      for (let i = block.aFrom; i < block.aTo; i++) out.push(`- ${lineA(i)}`)
      for (let j = block.bFrom; j < block.bTo; j++) out.push(`+ ${lineB(j)}`)
      previousEnd = block.aTo
    }
    show(previousEnd, Math.min(previousEnd + context, countA + part.tail.length))
  }
  return out.join('\n')
}

/** The whole lines of text[from, to): where each starts (and `to` after the last) and a hash of it. */
interface IndexedLines {
  text: string
  starts: Int32Array
  hashes: Int32Array
  count: number
}

function indexLines(text: string, from: number, to: number): IndexedLines {
  const count = countLines(text, from, to)
  const starts = new Int32Array(count + 1)
  const hashes = new Int32Array(count)
  let at = from
  for (let i = 0; i < count; i++) {
    starts[i] = at
    // FNV-1a over the line's UTF-16 units: unequal hashes, unequal lines.
    let h = 0x811c9dc5
    let c = text.charCodeAt(at)
    while (at < to && c !== 10) {
      h = Math.imul(h ^ c, 0x01000193)
      c = text.charCodeAt(++at)
    }
    hashes[i] = h
    at++ // past the line break (or to the end)
  }
  starts[count] = Math.min(at, to)
  return { text, starts, hashes, count }
}

/** Where line i's text ends: before its line break, if it has one. */
function lineEnd(lines: IndexedLines, i: number): number {
  const end = lines.starts[i + 1] as number
  return end > (lines.starts[i] as number) && lines.text.charCodeAt(end - 1) === 10 ? end - 1 : end
}

/** Line i's text, without its line break. */
function lineText(lines: IndexedLines, i: number): string {
  return lines.text.slice(lines.starts[i] as number, lineEnd(lines, i))
}

/** Equal lines, their line breaks left out (a last line without one is the same line). */
function sameLine(a: IndexedLines, i: number, b: IndexedLines, j: number): boolean {
  if (a.hashes[i] !== b.hashes[j]) return false
  const startA = a.starts[i] as number
  const startB = b.starts[j] as number
  const length = lineEnd(a, i) - startA
  if (length !== lineEnd(b, j) - startB) return false
  for (let k = 0; k < length; k++)
    if (a.text.charCodeAt(startA + k) !== b.text.charCodeAt(startB + k)) return false
  return true
}

/**
 * The diff of many differing lines (more than MAX_DIFF_LINES from the first change to the last)
 * by Myers' shortest edit script on the lines in place; null beyond MAX_CHANGED_LINES changed
 * lines or MAX_DIFF_STEPS steps.
 */
function longDiff(
  before: string,
  after: string,
  part: Part,
  places: PlaceNamer | undefined,
): string | null {
  const a = indexLines(before, part.from, part.toA)
  const b = indexLines(after, part.from, part.toB)
  const blocks = shortestEdit(a.count, b.count, (i, j) => sameLine(a, i, b, j), {
    maxEdits: MAX_CHANGED_LINES,
    maxSteps: MAX_DIFF_STEPS,
  })
  if (!blocks) return null
  return render(
    blocks,
    part,
    a.count,
    (i) => lineText(a, i),
    (j) => lineText(b, j),
    places &&
      hunkPlaces(
        blocks,
        places,
        before,
        after,
        (i) => a.starts[i] as number,
        (j) => b.starts[j] as number,
      ),
  )
}

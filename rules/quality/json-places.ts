/**
 * Where a line of pretty-printed JSON sits, named so that a reviewer of a configuration change
 * knows what changed: `characteristics[id="fill-3"].chart.limits`. The configuration's text in
 * the audit trail is JSON with two spaces of indentation and its members sorted
 * (gateway/quality/config-record.ts), so a characteristic's `id` may come many lines after the
 * change (`chart` sorts before it) and the two lines of context a diff shows rarely name it.
 *
 * The text must be what `JSON.stringify(value, replacer, 2)` writes: one member or element per
 * line, a container opened at the end of a line and closed at the start of one (an empty one,
 * `{}` or `[]`, on its own line). Pure: no I/O.
 */

/** One step of a place: a member's key, or an array's element by its id, or else its index. */
interface Step {
  key: string | null
  index: number
  /** The element's `id` member as the JSON text writes it (`"fill-3"`, `17`), once seen. */
  id: string | null
}

interface Open {
  indent: number
  array: boolean
  /** How this container is reached from its parent; null for the outermost. */
  step: Step | null
  /** Elements seen so far (arrays). */
  count: number
}

/**
 * The place of each block of whole lines [from, to) (ascending, apart), named by its first line
 * that does not only close a container (`},` ends the element before one added or removed), or
 * else its first line. A line's place is the containers it is in, and the one it opens or
 * closes, outermost first, as a path (`a.b[2].c`, an element with an `id` member as
 * `[id="x"]`); the empty string for a member of the outermost container and for its own lines.
 * A block at the text's end (from = its length) is after its last line.
 */
export function jsonPlaces(
  text: string,
  blocks: readonly { from: number; to: number }[],
): string[] {
  return linePlaces(
    text,
    blocks.map(({ from, to }) => {
      for (let at = from; at < to; ) {
        const end = lineEnd(text, at)
        if (!isCloser(text, at, end)) return at
        at = end + 1
      }
      return from
    }),
  )
}

/**
 * The place of the line starting at each of `lineStarts` (ascending). One pass over the text,
 * stopped once every element on a path has been read to its end (its id may follow).
 */
function linePlaces(text: string, lineStarts: readonly number[]): string[] {
  const paths: Step[][] = []
  const stack: Open[] = []
  /** Where on the stack the shallowest element (array item) of a path is: read to its end for its id. */
  let keepUntil = Number.POSITIVE_INFINITY
  let at = 0
  while (at <= text.length) {
    const end = lineEnd(text, at)
    // A line is in the containers open around it, and in the one it opens or closes: taken
    // before a closer is read, after anything else.
    const closer = isCloser(text, at, end)
    if (!closer && at < text.length) readLine(text, at, end, stack)
    while (paths.length < lineStarts.length && (lineStarts[paths.length] as number) <= end) {
      const path: Step[] = []
      for (const open of stack) if (open.step) path.push(open.step)
      paths.push(path)
      const shallowest = stack.findIndex((o) => o.step !== null && o.step.key === null)
      if (shallowest !== -1) keepUntil = Math.min(keepUntil, shallowest)
    }
    if (closer) readLine(text, at, end, stack)
    if (paths.length === lineStarts.length && stack.length <= keepUntil) break
    if (at >= text.length) break
    at = end + 1
  }
  while (paths.length < lineStarts.length) paths.push([])
  return paths.map(pathText)
}

/** Whether the line [from, to) closes a container: `}` or `]` first. */
function isCloser(text: string, from: number, to: number): boolean {
  let i = from
  while (i < to && text.charCodeAt(i) === 32) i++
  return text[i] === '}' || text[i] === ']'
}

/** Where the line starting at `at` ends (its line break, or the text's end). */
function lineEnd(text: string, at: number): number {
  const n = text.indexOf('\n', at)
  return n === -1 ? text.length : n
}

/** Takes one line into the stack of open containers. */
function readLine(text: string, from: number, to: number, stack: Open[]): void {
  let i = from
  while (i < to && text.charCodeAt(i) === 32) i++
  if (i === to) return
  const indent = i - from
  const first = text[i]
  if (first === '}' || first === ']') {
    // A closer: its container ends (a line like `},` closes one element of an array).
    if (stack.length > 0 && (stack.at(-1) as Open).indent >= indent) stack.pop()
    return
  }
  let last = to
  while (last > i && text.charCodeAt(last - 1) === 32) last--
  const end = text[last - 1]
  // `{` or `[` ending the line opens a container (an empty `{}`/`[]` ends with its closer; a
  // string value ends with its quote).
  const opens = end === '{' || end === '['
  const parent = stack.at(-1)
  if (!parent) {
    if (opens) stack.push({ indent, array: end === '[', step: null, count: 0 })
    return
  }
  if (parent.array) {
    const index = parent.count++
    if (opens)
      stack.push({ indent, array: end === '[', step: { key: null, index, id: null }, count: 0 })
    return
  }
  // A member. Only a container's key is read (most lines are not): a key is named only on a path.
  if (opens) {
    const close = stringEnd(text, i, to)
    if (close === -1) return
    const step = { key: parseString(text.slice(i, close)), index: 0, id: null }
    stack.push({ indent, array: end === '[', step, count: 0 })
    return
  }
  // An element's id, for naming it: `"id": "fill-3",` directly in an element of an array.
  const holder = parent.step
  if (holder && holder.key === null && holder.id === null && text.startsWith('"id": ', i)) {
    const value = text.slice(i + 6, text[last - 1] === ',' ? last - 1 : last)
    if (value[0] === '"' || /^-?\d/.test(value)) holder.id = value
  }
}

/** Index of the quote that ends the JSON string starting at `from` (a quote); −1 if none. */
function stringEnd(text: string, from: number, to: number): number {
  if (text[from] !== '"') return -1
  for (let i = from + 1; i < to; i++) {
    const c = text[i]
    if (c === '\\') i++
    else if (c === '"') return i
  }
  return -1
}

function parseString(literal: string): string {
  try {
    return JSON.parse(`${literal}"`) as string
  } catch {
    return literal.slice(1)
  }
}

const PLAIN_KEY = /^[A-Za-z_$][\w$-]*$/

function pathText(path: readonly Step[]): string {
  let out = ''
  for (const step of path) {
    if (step.key === null) out += step.id === null ? `[${step.index}]` : `[id=${step.id}]`
    else if (PLAIN_KEY.test(step.key)) out += out === '' ? step.key : `.${step.key}`
    else out += `[${JSON.stringify(step.key)}]`
  }
  return out
}

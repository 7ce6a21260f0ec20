/**
 * The fewest deletions and insertions that turn a sequence of `n` items into one of `m`, by
 * Myers' greedy algorithm (E. W. Myers, "An O(ND) difference algorithm and its variations",
 * Algorithmica 1, 1986): the furthest point each diagonal of the edit graph reaches with d
 * edits, for d = 0, 1, … until one reaches the end. Time O((n + m)·D) and memory O(D²) (the
 * rounds kept to trace the path back), D the number of edits: fit for long sequences that
 * differ little, such as a configuration of millions of lines with a few changes, where a table
 * of n·m is not. Items are compared by the caller's `equal(i, j)` (the i-th of the first, the
 * j-th of the second). Pure: no I/O.
 */

/** A change: items [aFrom, aTo) of the first deleted, items [bFrom, bTo) of the second inserted. */
export interface EditBlock {
  aFrom: number
  aTo: number
  bFrom: number
  bTo: number
}

/**
 * The changes of a shortest edit script, in order; null when it takes more than `maxEdits`
 * edits, or more than `maxSteps` comparisons and moves (a bound on the time, whatever the
 * input).
 */
export function shortestEdit(
  n: number,
  m: number,
  equal: (i: number, j: number) => boolean,
  limits: { maxEdits: number; maxSteps: number },
): EditBlock[] | null {
  let steps = 0
  /** Round d: the furthest x on each diagonal k = x − y, at [k + d], −1 where none reaches. */
  const rounds: Int32Array[] = []
  for (let d = 0; d <= limits.maxEdits; d++) {
    const round = new Int32Array(2 * d + 1).fill(-1)
    const previous = rounds[d - 1]
    // Diagonals outside the graph (k < −m or k > n) are never reached.
    for (let k = Math.max(-d, -m); k <= Math.min(d, n); k++) {
      if ((k + d) % 2 !== 0) continue
      const start = d === 0 ? 0 : arrive(previous as Int32Array, d - 1, k, n, m).x
      if (start < 0) continue
      let x = start
      let y = x - k
      while (x < n && y < m && equal(x, y)) {
        x++
        y++
      }
      round[k + d] = x
      steps += x - start + 1
      if (x === n && y === m) {
        rounds.push(round)
        return traceBack(rounds, n, m)
      }
    }
    steps += 2 * d + 1
    if (steps > limits.maxSteps) return null
    rounds.push(round)
  }
  return null
}

/**
 * How diagonal k is reached with one edit more than round `d` (its furthest points `v`): down
 * from diagonal k + 1 (an insertion) or right from k − 1 (a deletion), whichever lands further
 * and inside the graph. x is −1 when neither does.
 */
function arrive(
  v: Int32Array,
  d: number,
  k: number,
  n: number,
  m: number,
): { x: number; from: number } {
  const at = (diagonal: number) =>
    diagonal < -d || diagonal > d ? -1 : (v[diagonal + d] as number)
  const above = at(k + 1)
  const left = at(k - 1)
  // Down keeps x and adds one to y; right adds one to x.
  const down = above >= 0 && above - k <= m ? above : -1
  const right = left >= 0 && left + 1 <= n ? left + 1 : -1
  return down >= right ? { x: down, from: k + 1 } : { x: right, from: k - 1 }
}

/** The path back from (n, m) through the rounds, as blocks of adjacent edits. */
function traceBack(rounds: Int32Array[], n: number, m: number): EditBlock[] {
  const blocks: EditBlock[] = []
  let x = n
  let y = m
  for (let d = rounds.length - 1; d > 0; d--) {
    const k = x - y
    const { from } = arrive(rounds[d - 1] as Int32Array, d - 1, k, n, m)
    const px = (rounds[d - 1] as Int32Array)[from + d - 1] as number
    const py = px - from
    // Where the edit landed: the common items after it (the snake) lead from there to (x, y).
    const landX = from === k + 1 ? px : px + 1
    const landY = landX - k
    const last = blocks.at(-1)
    // Joined to the block after it when nothing common lies between them.
    if (last && last.aFrom === landX && last.bFrom === landY) {
      last.aFrom = px
      last.bFrom = py
    } else blocks.push({ aFrom: px, aTo: landX, bFrom: py, bTo: landY })
    x = px
    y = py
  }
  return blocks.reverse()
}

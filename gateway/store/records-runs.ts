import type { SQLInputValue } from 'node:sqlite'

/** One run of a named statement. */
export interface RecordOp {
  statement: string
  params: SQLInputValue[]
}

/**
 * A batch's statement runs, flat: for each, its statement's name, how many parameters follow,
 * and the parameters. One array rather than an object per run: a batch of hundreds of runs is
 * copied to the writer thread in half the time (the copy is the sender's: the judging thread).
 */
export type FlatRuns = SQLInputValue[]

/** Appends one run to `runs`. */
export function addRun(runs: FlatRuns, statement: string, params: readonly SQLInputValue[]): void {
  runs.push(statement, params.length)
  for (let i = 0; i < params.length; i++) runs.push(params[i] as SQLInputValue)
}

/** The runs of a flat batch, in order. */
export function runsOf(runs: FlatRuns): RecordOp[] {
  const ops: RecordOp[] = []
  for (let k = 0; k < runs.length; ) {
    const statement = runs[k] as string
    const n = runs[k + 1] as number
    ops.push({ statement, params: runs.slice(k + 2, k + 2 + n) })
    k += 2 + n
  }
  return ops
}

/**
 * Live changes that arrive while a list is read over REST: the answer may have been taken
 * before them, so they are kept and merged into it (the merge keeps the later of two states of
 * an item: `mergeAlarms`, `applyNcListEvents`). Without this, an alarm raised (or an NC opened)
 * while a page opens stays missing from its list until its next change.
 */
export class ChangesDuringRead<C> {
  private held: C[] | null = null

  /** A read begins: changes are kept from now. */
  begin(): void {
    this.held = []
  }

  /** A live change: true when no read is under way (merge it now), else kept for the read. */
  take(changes: readonly C[]): boolean {
    if (this.held === null) return true
    this.held.push(...changes)
    return false
  }

  /** The read's answer with the changes that came meanwhile; the read ends here. */
  settle<T>(answer: T, merge: (answer: T, changes: readonly C[]) => T): T {
    const held = this.held ?? []
    this.held = null
    return held.length > 0 ? merge(answer, held) : answer
  }
}

/**
 * The partitions this gateway holds and the epoch of each, as its lease rows say (the leases
 * tell the cluster, cluster.ts, which keeps this). The shared journal fences each batch with
 * the epochs of its partitions (postgres-journal.ts): a batch formed under one tenure of a
 * partition never commits under a later one, even with this gateway the holder again.
 *
 * Listeners run before each change: the journal cuts the batch it is forming then, so that a
 * batch never mixes two tenures of a partition.
 */
export class Tenures {
  private readonly epochs = new Map<number, number>()
  private readonly listeners: (() => void)[] = []

  /** The epoch this gateway holds `partition` at, or undefined while it does not hold it. */
  epochOf(partition: number): number | undefined {
    return this.epochs.get(partition)
  }

  /** Runs `listener` before each change. */
  beforeChange(listener: () => void): void {
    this.listeners.push(listener)
  }

  /** `partition` held from now on, at `epoch`. */
  hold(partition: number, epoch: number): void {
    this.changing()
    this.epochs.set(partition, epoch)
  }

  /** `partition` no longer held. */
  drop(partition: number): void {
    if (!this.epochs.has(partition)) return
    this.changing()
    this.epochs.delete(partition)
  }

  private changing(): void {
    for (const listener of this.listeners) listener()
  }
}

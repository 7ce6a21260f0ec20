/**
 * The V8 flags the gateway runs with: bin/linewatch.js applies them, and the benchmark's
 * gateway processes run with the same. The young generation is capped at 16 MiB per
 * semi-space: under a burst of allocation V8 grows it to 64 MiB each and keeps the pages, some
 * 100 MiB of resident memory that a gateway with 100,000 characteristics cannot spare.
 */
export const NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16']

import { describe, expect, it } from 'vitest'
import { RecentCounter } from '../gateway/recent-errors.ts'

describe('RecentCounter: events over a sliding window, time given explicitly', () => {
  const windowMs = 60_000
  const bucketMs = 10_000
  const T = 1_700_000_000_000 // a bucket boundary (divisible by 10 000)

  it('counts what happened within the window and forgets it at most a bucket later', () => {
    const c = new RecentCounter({ windowMs, bucketMs })
    expect(c.count(T)).toBe(0)
    c.add(T + 3_000)
    c.add(T + 3_500, 2)
    c.add(T + 25_000)
    expect(c.count(T + 25_000)).toBe(4)
    expect(c.total()).toBe(4)
    // Every event of the last windowMs is still counted…
    expect(c.count(T + 3_000 + windowMs)).toBe(4)
    // …the first three go once their bucket (T..T+10 s) is more than a window plus a bucket old.
    expect(c.count(T + windowMs + bucketMs - 1)).toBe(4)
    expect(c.count(T + windowMs + bucketMs)).toBe(1)
    expect(c.count(T + 25_000 + windowMs)).toBe(1)
    expect(c.count(T + 20_000 + windowMs + bucketMs)).toBe(0)
    // The total is for ever.
    expect(c.total()).toBe(4)
  })

  it('reuses its ring: a long run of events keeps only the recent ones, in constant memory', () => {
    const c = new RecentCounter({ windowMs, bucketMs })
    // One event per second for ten minutes.
    for (let s = 0; s < 600; s++) c.add(T + s * 1000)
    const now = T + 599_000
    // Independent count: events whose bucket is within ceil(window / bucket) buckets of now's.
    const nowBucket = Math.floor(now / bucketMs)
    let expected = 0
    for (let s = 0; s < 600; s++) {
      if (nowBucket - Math.floor((T + s * 1000) / bucketMs) <= windowMs / bucketMs) expected++
    }
    expect(c.count(now)).toBe(expected)
    expect(expected).toBe(70) // seven buckets of ten: the window and the current bucket
    expect(c.total()).toBe(600)
    // A quiet hour later nothing is recent.
    expect(c.count(now + 3600_000)).toBe(0)
  })

  it('an event older than the ring holds counts in the total only', () => {
    const c = new RecentCounter({ windowMs, bucketMs })
    c.add(T + 200_000)
    c.add(T) // arrives late, 200 s older than the newest: out of any window the ring still holds
    expect(c.count(T + 200_000)).toBe(1)
    expect(c.total()).toBe(2)
  })

  it('defaults to five minutes', () => {
    const c = new RecentCounter()
    c.add(T)
    expect(c.windowMs).toBe(300_000)
    expect(c.count(T + 300_000)).toBe(1)
    expect(c.count(T + 3600_000)).toBe(0)
  })
})

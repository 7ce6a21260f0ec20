import { describe, expect, it } from 'vitest'
import type { NcEvent } from '../gateway/contract.ts'
import { EventBus } from '../gateway/events.ts'

const event = (i: number) => ({ type: 'opened', nc: { id: i } }) as unknown as NcEvent

describe('the event bus: a listener that throws does not stop the others', () => {
  it('the listeners before and after a throwing one get every event; the error is counted and reported', () => {
    const reported: { err: unknown; event: string }[] = []
    const bus = new EventBus({ onError: (err, e) => reported.push({ err, event: e }) })
    const first: number[] = []
    const third: number[] = []
    bus.on('nc', {}, (e) => first.push(e.nc.id))
    bus.on('nc', {}, (e) => {
      if (e.nc.id % 2 === 0) throw new Error(`listener failed on ${e.nc.id}`)
    })
    bus.on('nc', {}, (e) => third.push(e.nc.id))
    const n = 10
    for (let i = 0; i < n; i++) bus.emit('nc', event(i))
    const all = Array.from({ length: n }, (_, i) => i)
    expect(first).toEqual(all)
    expect(third).toEqual(all)
    const failing = all.filter((i) => i % 2 === 0)
    expect(bus.errors()).toBe(failing.length)
    expect(reported.map((r) => [r.event, (r.err as Error).message])).toEqual(
      failing.map((i) => ['nc', `listener failed on ${i}`]),
    )
  })

  it('without an error handler the errors are still counted, and a throwing handler changes nothing', () => {
    const plain = new EventBus()
    const got: number[] = []
    plain.on('nc', {}, () => {
      throw new Error('boom')
    })
    plain.on('nc', {}, (e) => got.push(e.nc.id))
    plain.emit('nc', event(1))
    plain.emit('nc', event(2))
    expect(got).toEqual([1, 2])
    expect(plain.errors()).toBe(2)

    const bus = new EventBus({
      onError: () => {
        throw new Error('the handler fails too')
      },
    })
    const after: number[] = []
    bus.on('nc', {}, () => {
      throw new Error('boom')
    })
    bus.on('nc', {}, (e) => after.push(e.nc.id))
    bus.emit('nc', event(3))
    expect(after).toEqual([3])
    expect(bus.errors()).toBe(1)
  })

  it('removeOwner still removes only that owner’s listeners', () => {
    const bus = new EventBus()
    const a = {}
    const got: string[] = []
    bus.on('nc', a, () => got.push('a'))
    bus.on('nc', {}, () => got.push('b'))
    bus.removeOwner(a)
    bus.emit('nc', event(1))
    expect(got).toEqual(['b'])
  })
})

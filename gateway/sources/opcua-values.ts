import { coerceNodeId, DataType, type NodeId, type Variant, VariantArrayType } from 'node-opcua'
import { checkTimestamp } from './payload.ts'
import type { RejectReason } from './types.ts'

/** The pure parts of the OPC-UA source: NodeIds in namespace-URI form, and Variants to numbers. */

// --- NodeIds ----------------------------------------------------------------------------------

const NSU = /^nsu=([^;]+);([isgb]=[\s\S]+)$/

/**
 * `nsu=<uri>;s=<id>` → the NodeId with the index the server gives that URI now. Servers may
 * renumber namespaces when they restart, so this runs on every connection.
 */
export function resolveNsuNodeId(text: string, namespaceArray: readonly string[]): NodeId {
  const m = NSU.exec(text)
  if (!m) throw new Error(`not a NodeId in nsu= form: ${text}`)
  const [, uri = '', identifier = ''] = m
  const index = namespaceArray.indexOf(uri)
  if (index < 0) throw new Error(`namespace ${uri} is not in the server's NamespaceArray`)
  try {
    return coerceNodeId(identifier, index)
  } catch (cause) {
    throw new Error(`bad identifier ${identifier}: ${(cause as Error).message}`)
  }
}

// --- Values -----------------------------------------------------------------------------------

export type Converted =
  | { ok: true; value: number }
  | { ok: false; reason: Extract<RejectReason, 'not-a-number' | 'non-finite'>; detail: string }

const NUMERIC = new Set<DataType>([
  DataType.Double,
  DataType.Float,
  DataType.SByte,
  DataType.Byte,
  DataType.Int16,
  DataType.UInt16,
  DataType.Int32,
  DataType.UInt32,
])

/** The number a Variant carries, or why it carries none. Int64/UInt64 arrive as [high, low]. */
export function numberFromVariant(variant: Variant): Converted {
  const type = DataType[variant.dataType] ?? String(variant.dataType)
  if (variant.arrayType !== VariantArrayType.Scalar) {
    return { ok: false, reason: 'not-a-number', detail: `an array of ${type}, not one number` }
  }
  let value: number
  if (NUMERIC.has(variant.dataType) && typeof variant.value === 'number') {
    value = variant.value
  } else if (variant.dataType === DataType.Int64 || variant.dataType === DataType.UInt64) {
    const [high, low] = variant.value as [number, number] // both unsigned 32-bit halves
    const raw = (BigInt(high) << 32n) | BigInt(low)
    const exact = variant.dataType === DataType.Int64 ? BigInt.asIntN(64, raw) : raw
    value = Number(exact)
    if (!Number.isSafeInteger(value)) {
      return {
        ok: false,
        reason: 'not-a-number',
        detail: `${type} ${exact} is beyond ±2^53, not exact as a number`,
      }
    }
  } else {
    return { ok: false, reason: 'not-a-number', detail: `a ${type} value, not a number` }
  }
  if (!Number.isFinite(value))
    return { ok: false, reason: 'non-finite', detail: `${type} ${value}` }
  return { ok: true, value }
}

// --- Timestamps -------------------------------------------------------------------------------

export type Timestamped =
  | { ok: true; ts: number }
  | { ok: false; reason: Extract<RejectReason, 'bad-timestamp'>; detail: string }

/**
 * The time of a DataValue in UTC ms: its source timestamp, else its server timestamp, else the
 * receive time. A timestamp at or before the epoch is taken as absent (OPC-UA's DateTime
 * minimum, 1601, decodes below it; so does "no timestamp"), as is an Invalid Date. The one
 * chosen is range-checked like every other source's (see EARLIEST_TS in payload.ts): a value
 * outside is refused as `bad-timestamp` (a dead letter), not replaced by the receive time —
 * a machine whose clock is wrong is a fault to see, and its readings would otherwise be
 * charted out of order with the ones it stamped correctly.
 */
export function timestampOf(
  dv: { sourceTimestamp?: Date | null | undefined; serverTimestamp?: Date | null | undefined },
  receivedAt: number,
): Timestamped {
  const candidates = [
    ['source', dv.sourceTimestamp],
    ['server', dv.serverTimestamp],
  ] as const
  for (const [which, date] of candidates) {
    const ms = date instanceof Date ? date.getTime() : Number.NaN
    if (!(ms > 0)) continue // absent, the DateTime minimum, or an Invalid Date (NaN)
    const refused = checkTimestamp(ms, receivedAt)
    if (refused === null) return { ok: true, ts: ms }
    return { ok: false, reason: 'bad-timestamp', detail: `${which} timestamp ${refused}` }
  }
  return { ok: true, ts: receivedAt }
}

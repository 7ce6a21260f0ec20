import { gunzipSync, inflateSync } from 'node:zlib'
import proto from 'sparkplug-payload/lib/sparkplugPayloadProto.js'
import type { SparkplugMetric, SparkplugPayload, SparkplugValue } from '../../../rules/index.ts'

/**
 * Sparkplug B payloads, through the protobuf schema the `sparkplug-payload` package ships
 * (Eclipse Tahu's, compiled for protobufjs). Its own `decodePayload` is not used: it throws on
 * the whole payload when a DataSet has a column of type Int32, UInt64 or DateTime
 * (eclipse-tahu/tahu#316), which would make a node's birth unreadable for one table metric.
 * Here a metric the host cannot read (DataSet, Bytes, Template…) only has no value.
 *
 * protobufjs gives 64-bit fields as Long objects (`seq === 0` is false for a Long 0); they are
 * turned into numbers (seq, time stamps, aliases) or bigint (values, whose sign the data type
 * gives later). A field's presence is its own property: absent fields read their defaults
 * through the prototype.
 */

const Payload = proto.org.eclipse.tahu.protobuf.Payload
type ProtoPayload = InstanceType<typeof Payload>
type ProtoMetric = proto.org.eclipse.tahu.protobuf.Payload.IMetric
type ProtoPropertySet = proto.org.eclipse.tahu.protobuf.Payload.IPropertySet
/** The value fields a metric and a property share (protobuf `oneof value`). */
interface ValueFields {
  intValue?: number | null
  longValue?: unknown
  floatValue?: number | null
  doubleValue?: number | null
  booleanValue?: boolean | null
  stringValue?: string | null
}

const COMPRESSED = 'SPBV1.0_COMPRESSED'
/** A compressed payload may not inflate past this (a small payload can hide a large one). */
const MAX_INFLATED_BYTES = 16 * 1024 * 1024

interface LongLike {
  low: number
  high: number
}

const has = (o: object, key: string): boolean => Object.hasOwn(o, key)

function isLong(v: unknown): v is LongLike {
  return typeof v === 'object' && v !== null && 'low' in v && 'high' in v
}

/** A uint64 field as an exact bigint (its bits, unsigned). */
function big(v: unknown): bigint {
  if (isLong(v)) return (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0)
  if (typeof v === 'bigint') return v
  return BigInt(Math.trunc(Number(v)))
}

/** A 64-bit field that is a count or a time (seq, alias, ms since the epoch) as a number. */
function num(v: unknown): number {
  return isLong(v) ? Number(big(v)) : Number(v)
}

/** The value of a metric or property by the field it travels in. */
function fieldValue(m: ValueFields): SparkplugValue {
  if (has(m, 'intValue')) return (m.intValue as number) >>> 0
  if (has(m, 'longValue')) return big(m.longValue)
  if (has(m, 'floatValue')) return m.floatValue as number
  if (has(m, 'doubleValue')) return m.doubleValue as number
  if (has(m, 'booleanValue')) return m.booleanValue as boolean
  if (has(m, 'stringValue')) return m.stringValue as string
  return null
}

function properties(set: ProtoPropertySet | null | undefined): Record<string, SparkplugValue> {
  const out: Record<string, SparkplugValue> = {}
  if (!set) return out
  const keys = set.keys ?? []
  const values = set.values ?? []
  for (let i = 0; i < keys.length && i < values.length; i++) {
    const value = values[i]
    if (value && !value.isNull) out[keys[i] as string] = fieldValue(value)
  }
  return out
}

function metric(m: ProtoMetric): SparkplugMetric {
  const isNull = has(m, 'isNull') && m.isNull === true
  return {
    name: has(m, 'name') ? (m.name as string) : null,
    alias: has(m, 'alias') ? num(m.alias) : null,
    datatype: has(m, 'datatype') ? (m.datatype as number) : null,
    timestamp: has(m, 'timestamp') ? num(m.timestamp) : null,
    value: isNull ? null : fieldValue(m),
    isNull,
    properties: has(m, 'properties') ? properties(m.properties) : {},
  }
}

function inflate(p: ProtoPayload): Uint8Array {
  const algorithm = p.metrics.find((m) => m.name === 'algorithm')
  const name = algorithm?.stringValue ? algorithm.stringValue.toUpperCase() : 'DEFLATE'
  const options = { maxOutputLength: MAX_INFLATED_BYTES }
  if (name === 'DEFLATE') return inflateSync(p.body, options)
  if (name === 'GZIP') return gunzipSync(p.body, options)
  throw new Error(`unknown compression algorithm "${name}"`)
}

/** A Sparkplug B payload, or why it cannot be read. Total: never throws. */
export function decodeSparkplugPayload(bytes: Uint8Array): SparkplugPayload | { error: string } {
  try {
    let p = Payload.decode(bytes)
    // Compressed by the edge node (Tahu's clients can): the real payload is the body, inflated.
    if (has(p, 'uuid') && p.uuid === COMPRESSED) p = Payload.decode(inflate(p))
    return {
      timestamp: has(p, 'timestamp') ? num(p.timestamp) : null,
      seq: has(p, 'seq') ? num(p.seq) : null,
      metrics: p.metrics.map(metric),
    }
  } catch (err) {
    return { error: `cannot decode the Sparkplug B payload: ${(err as Error).message}` }
  }
}

const REBIRTH_METRIC = 'Node Control/Rebirth'
const BOOLEAN = 11

/**
 * A rebirth request: an NCMD with the metric `Node Control/Rebirth` = true, by name (a node
 * gives that metric no alias: [tck-id-operational-behavior-data-commands-rebirth-name-aliases]),
 * with a time stamp and no seq ([tck-id-payloads-ncmd-timestamp], [tck-id-payloads-ncmd-seq]).
 */
export function rebirthRequest(at: number): Uint8Array {
  return Payload.encode(
    Payload.create({
      timestamp: at,
      metrics: [{ name: REBIRTH_METRIC, datatype: BOOLEAN, booleanValue: true, timestamp: at }],
    }),
  ).finish()
}

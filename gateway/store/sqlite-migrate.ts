import type { DatabaseSync } from 'node:sqlite'
import type { PanePoint, ViolationRule } from '../../rules/index.ts'
import type { BlockStore } from './block-store.ts'
import { identity } from './blocks.ts'
import {
  CHART_STRIDE,
  DELIVERY_STRIDE,
  LIMIT_FIELDS,
  LIMIT_VALUES,
  MAX_PANES,
  PANE_FIELDS,
  PANES_AT,
  READING_STRIDE,
  ruleMask,
} from './columns.ts'

/** Rows per block when old rows are converted. */
const CHUNK = 4096
const nan = (v: number | null | undefined) => (v === null || v === undefined ? Number.NaN : v)

interface ReadingRow {
  series: number
  ts: number
  value: number
  seq: number | null
  size: number | null
  key: string | null
  received: number | null
}

/** Readings as block rows (READING_STRIDE each, the series id first) and their keys. */
function readingRows(rows: readonly ReadingRow[]) {
  const data = new Float64Array(rows.length * READING_STRIDE)
  rows.forEach((r, k) => {
    data.set(
      [r.series, r.ts, r.value, nan(r.seq), nan(r.size), nan(r.received)],
      k * READING_STRIDE,
    )
  })
  return { data, keys: rows.some((r) => r.key !== null) ? rows.map((r) => r.key) : null }
}

/**
 * Converts a time series stored as one row per reading and per chart point (schema 3) into
 * blocks, in the migration's transaction, arrival order kept. The readings the old checkpoint
 * covered become blocks per characteristic; those after it, which a restart replays, become
 * recent blocks (the journal).
 */
export function migrateRowsToBlocks(db: DatabaseSync, blocks: BlockStore): void {
  const series = (db.prepare('SELECT id FROM series ORDER BY id').all() as { id: number }[]).map(
    (s) => s.id,
  )
  const covered =
    (
      db.prepare('SELECT reading_rowid FROM checkpoint WHERE id = 1').get() as
        | { reading_rowid: number }
        | undefined
    )?.reading_rowid ?? 0
  const readings = db.prepare(
    'SELECT series, ts, value, seq, size, key, received FROM reading WHERE series = ? AND rowid <= ? ORDER BY rowid',
  )
  for (const id of series) {
    const rows = readings.all(id, covered) as unknown as ReadingRow[]
    for (let at = 0; at < rows.length; at += CHUNK) {
      const chunk = readingRows(rows.slice(at, at + CHUNK))
      const n = chunk.data.length / READING_STRIDE
      blocks.writeReadingBlock(id, chunk.data, identity(n), 0, n, chunk.keys)
    }
  }
  const journal = db
    .prepare(
      'SELECT series, ts, value, seq, size, key, received FROM reading WHERE rowid > ? ORDER BY rowid',
    )
    .all(covered) as unknown as ReadingRow[]
  for (let at = 0; at < journal.length; at += CHUNK) {
    const chunk = readingRows(journal.slice(at, at + CHUNK))
    blocks.addReadings(chunk.data, chunk.keys)
  }

  // Chart points: consecutive points with the same panes make a block.
  const points = db.prepare(
    'SELECT ts, idx, n, phase, panes, rules FROM chart_point WHERE series = ? ORDER BY rowid',
  )
  for (const id of series) {
    let panes: string[] = []
    let rows: number[][] = []
    let rowLimits: number[][] = []
    const flush = () => {
      if (rows.length === 0) return
      const data = new Float64Array(rows.length * CHART_STRIDE)
      const limits = new Float64Array(rows.length * LIMIT_VALUES)
      const limitOf = new Int32Array(rows.length)
      rows.forEach((r, k) => {
        data.set(r, k * CHART_STRIDE)
        limits.set(rowLimits[k] as number[], k * LIMIT_VALUES)
        limitOf[k] = k * LIMIT_VALUES
      })
      const all = identity(rows.length)
      blocks.writePointBlock(id, data, all, 0, rows.length, panes.join(','), limits, limitOf)
      rows = []
      rowLimits = []
    }
    for (const p of points.iterate(id) as Iterable<{
      ts: number
      idx: number
      n: number
      phase: string
      panes: string
      rules: string
    }>) {
      const record = JSON.parse(p.panes) as Record<string, PanePoint>
      const names = Object.keys(record).slice(0, MAX_PANES)
      if (names.join(',') !== panes.join(',') || rows.length >= CHUNK) {
        flush()
        panes = names
      }
      const rules = p.rules === '' ? [] : (p.rules.split(',') as ViolationRule[])
      const row = new Array<number>(CHART_STRIDE).fill(Number.NaN)
      row.splice(
        0,
        PANES_AT,
        id,
        p.ts,
        p.idx,
        p.n,
        p.phase === 'monitor' ? 1 : 0,
        ruleMask(rules.map((rule) => ({ rule }))),
      )
      const limits = new Array<number>(LIMIT_VALUES).fill(Number.NaN)
      names.forEach((name, k) => {
        const pane = record[name] as PanePoint
        PANE_FIELDS.forEach((field, f) => {
          row[PANES_AT + k * PANE_FIELDS.length + f] = nan(pane[field])
        })
        LIMIT_FIELDS.forEach((field, f) => {
          limits[k * LIMIT_FIELDS.length + f] = nan(pane[field])
        })
      })
      rows.push(row)
      rowLimits.push(limits)
    }
    flush()
  }

  const deliveries = db
    .prepare('SELECT client, message_id, hash, at FROM delivery ORDER BY at')
    .all() as { client: string; message_id: number; hash: number; at: number }[]
  const clients = [...new Set(deliveries.map((d) => d.client))]
  const data = new Float64Array(deliveries.length * DELIVERY_STRIDE)
  deliveries.forEach((d, k) => {
    data.set([clients.indexOf(d.client), d.message_id, d.hash, d.at], k * DELIVERY_STRIDE)
  })
  blocks.addDeliveries(data, clients)
}

import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import {
  decodeBlock,
  decodePointBlock,
  journalReading,
  storedPoint,
} from '../../gateway/store/blocks.ts'
import type { JournalReading, StoredChartPoint } from '../../gateway/store/types.ts'

/**
 * What a gateway's embedded time series holds for one characteristic, read from the file
 * itself (read-only, once the gateway has stopped) through the block format's decoders: the
 * readings and the chart points in the order they arrived (blocks per characteristic, then
 * the recent blocks not compacted yet).
 */
export function storedSeries(dataDir: string, characteristic: string) {
  const db = new DatabaseSync(join(dataDir, 'timeseries.db'), { readOnly: true })
  try {
    const { id } = db
      .prepare('SELECT id FROM series WHERE characteristic = ?')
      .get(characteristic) as { id: number }
    const rows = (sql: string) =>
      db.prepare(sql).all() as {
        series?: number
        keys: string | null
        panes: string
        data: Uint8Array
        limits?: Uint8Array | null
      }[]
    const readings: JournalReading[] = []
    for (const b of [
      ...rows(`SELECT * FROM reading_block WHERE series = ${id} ORDER BY rowid`),
      ...rows('SELECT * FROM recent_reading ORDER BY rowid'),
    ]) {
      const block = decodeBlock(b.data)
      const keys = b.keys ? (JSON.parse(b.keys) as (string | null)[]) : null
      for (let r = 0; r < block.count; r++) {
        if (block.data[r * block.stride] === id)
          readings.push(journalReading(block, r, keys?.[r] ?? null))
      }
    }
    const points: StoredChartPoint[] = []
    for (const b of [
      ...rows(`SELECT * FROM point_block WHERE series = ${id} ORDER BY rowid`),
      ...rows('SELECT * FROM recent_point ORDER BY rowid'),
    ]) {
      const block = decodePointBlock(b.data, b.limits ?? null)
      const layout = b.series === undefined ? JSON.parse(b.panes)[id] : b.panes
      if (typeof layout !== 'string') continue
      for (let r = 0; r < block.count; r++) {
        if (block.data[r * block.stride] === id)
          points.push(storedPoint(block, r, layout === '' ? [] : layout.split(',')))
      }
    }
    return { readings, points }
  } finally {
    db.close()
  }
}

import { jsonPlaces, lineDiff, sha256Hex } from '../../rules/quality/index.ts'
import type { RecordsDb } from '../store/records-db.ts'
import type { AuditTrail } from './audit-trail.ts'

/**
 * A changed configuration is an audit entry (Annex 11 §9, §10): at each start the
 * configuration in force (as loaded, defaults filled in, keys sorted) is compared with the one
 * recorded at the previous start; when it differs, the entry holds both hashes and the line
 * diff, each hunk headed by where its change is (`@ characteristics[id="fill"].alarms`), and the
 * new one is recorded. SQLite keeps one snapshot (id 1); PostgreSQL, shared by
 * several gateways, one per gateway (id: its audit chain's name).
 */
export const CONFIG_STATEMENTS = {
  configSnapshot: `INSERT INTO config_snapshot (id, text, sha256) VALUES (?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET text = excluded.text, sha256 = excluded.sha256`,
}

/**
 * The configuration as one text per content: pretty JSON (two spaces) with each object's members
 * in RFC 8785's order (UTF-16 code units), written as `JSON.parse(canonicalJson(config))` would
 * be, members named by array indices ("0", "17") first as JavaScript orders them. One pass of
 * JSON.stringify that sorts each object as it meets it: at 100,000 characteristics (a text of
 * 49 MB) 0.5 s and 80 MiB, where writing the canonical form, parsing it and writing it again took
 * 1.4 s and 300 MiB that stayed in the process (V8 keeps the pages of a heap once grown).
 */
export function configText(config: unknown): string {
  return `${JSON.stringify(config, sortedMembers, 2)}\n`
}

function sortedMembers(_key: string, value: unknown): unknown {
  // canonicalJson's refusal, kept: JSON.stringify would write null.
  if (typeof value === 'number' && !Number.isFinite(value))
    throw new Error(`${value} is not a finite number`)
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value
  const record = value as Record<string, unknown>
  const sorted: Record<string, unknown> = {}
  for (const key of Object.keys(record).sort()) sorted[key] = record[key]
  return sorted
}

export function recordConfiguration(ctx: {
  db: RecordsDb
  run: (statement: keyof typeof CONFIG_STATEMENTS, params: (string | number)[]) => void
  audit: AuditTrail
  config: unknown
  file: string | null
  at: number
}): 'first' | 'changed' | 'same' {
  const text = configText(ctx.config)
  const sha256 = sha256Hex(text)
  const id = ctx.db.dialect === 'postgres' ? ctx.audit.chain : 1
  // The hash first: the text recorded (49 MB at 100,000 characteristics) is read only for a diff.
  const recorded = ctx.db.prepare('SELECT sha256 FROM config_snapshot WHERE id = ?').get(id) as
    | { sha256: string }
    | undefined
  if (recorded?.sha256 === sha256) return 'same'
  const before = recorded
    ? {
        sha256: recorded.sha256,
        text: (
          ctx.db.prepare('SELECT text FROM config_snapshot WHERE id = ?').get(id) as {
            text: string
          }
        ).text,
      }
    : undefined
  ctx.run('configSnapshot', [id, text, sha256])
  ctx.audit.append({
    at: ctx.at,
    actor: 'system',
    action: before ? 'configuration changed' : 'configuration recorded',
    entity: 'config',
    entityId: ctx.file ?? 'configuration',
    reason: before
      ? 'the gateway started with a configuration that differs from the previous start'
      : 'the first start on this data directory',
    before: before ? { sha256: before.sha256 } : null,
    after: {
      sha256,
      ...(before ? { diff: lineDiff(before.text, text, { places: jsonPlaces }) } : {}),
    },
  })
  return before ? 'changed' : 'first'
}

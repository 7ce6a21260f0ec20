import { canonicalJson, lineDiff, sha256Hex } from '../../rules/quality/index.ts'
import type { RecordsDb } from '../store/records-db.ts'
import type { AuditTrail } from './audit-trail.ts'

/**
 * A changed configuration is an audit entry (Annex 11 §9, §10): at each start the
 * configuration in force (as loaded, defaults filled in, keys sorted) is compared with the one
 * recorded at the previous start; when it differs, the entry holds both hashes and the line
 * diff, and the new one is recorded. SQLite keeps one snapshot (id 1); PostgreSQL, shared by
 * several gateways, one per gateway (id: its audit chain's name).
 */
export const CONFIG_STATEMENTS = {
  configSnapshot: `INSERT INTO config_snapshot (id, text, sha256) VALUES (?, ?, ?)
                   ON CONFLICT (id) DO UPDATE SET text = excluded.text, sha256 = excluded.sha256`,
}

/** The configuration as one text per content: pretty JSON of the canonical form (sorted keys). */
export function configText(config: unknown): string {
  return `${JSON.stringify(JSON.parse(canonicalJson(config)), null, 2)}\n`
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
  const before = ctx.db.prepare('SELECT text, sha256 FROM config_snapshot WHERE id = ?').get(id) as
    | { text: string; sha256: string }
    | undefined
  if (before?.sha256 === sha256) return 'same'
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
    after: { sha256, ...(before ? { diff: lineDiff(before.text, text) } : {}) },
  })
  return before ? 'changed' : 'first'
}

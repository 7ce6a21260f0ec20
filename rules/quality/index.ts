/**
 * The quality loop's pure rules (issue 9): roles, the NC workflow, CAPA and its verification of
 * effectiveness, electronic signatures bound to their record, the hash-chained audit trail,
 * password rules and sign-in throttling, the quality KPIs, the line diff of configuration
 * files. Kept apart from rules/index.ts because hashing uses node:crypto, which the dashboard's
 * bundle has not; the dashboard names the records' shapes through shapes.ts, roles.ts and
 * nc-workflow.ts, which hash nothing.
 */
export * from './audit.ts'
export * from './audit-changes.ts'
export * from './canonical.ts'
export * from './capa.ts'
export * from './json-places.ts'
export * from './kpis.ts'
export * from './nc-workflow.ts'
export * from './passwords.ts'
export * from './roles.ts'
export * from './shapes.ts'
export * from './signature.ts'
export * from './text-diff.ts'

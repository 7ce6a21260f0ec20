/**
 * The quality loop (issue 9), one public face: users and sessions, the audit trail, the NC
 * workflow and CAPAs with signatures, and the exports of a record's history.
 */
export {
  AUDIT_HEAD_FILE,
  AUDIT_SERIES,
  AUDIT_STATEMENTS,
  type AuditTrail,
  createAuditTrail,
  readHeadFile,
  verifyAuditTrail,
  verifyAuditTrailInTurns,
} from './audit-trail.ts'
export { CONFIG_STATEMENTS, recordConfiguration } from './config-record.ts'
export {
  type HistoryDocument,
  historyCsv,
  historyPdf,
  historyPdfOffThread,
} from './export.ts'
export {
  actorName,
  capaNumber,
  createQualityService,
  type Outcome,
  QUALITY_STATEMENTS,
  type QualityPolicy,
  type QualityService,
  recordId,
} from './service.ts'
export {
  createUserDirectory,
  USER_STATEMENTS,
  type UserDirectory,
  type UserPolicy,
} from './users.ts'

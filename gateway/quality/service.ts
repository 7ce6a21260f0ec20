import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  type Actor,
  type AuditFields,
  applyCapaAction,
  applyNcAction,
  auditValues,
  bindSignature,
  CAPA_ACTION_ROLES,
  type Capa,
  type CapaAction,
  type CapaPlan,
  effectiveness,
  type FieldChange,
  type NcAction,
  type NcCase,
  planCapa,
  qualityKpis,
  reasonRequired,
  roleRefusal,
  type Signature,
  type SignatureMeaning,
  signatureHolds,
  signatureManifest,
  signatureProblems,
  signedCapaContent,
  signedNcContent,
} from '../../rules/quality/index.ts'
import { NC_SIGN_ROLES } from '../../rules/quality/shapes.ts'
import { type Principal, principalName } from '../api/auth.ts'
import type {
  AttachmentView,
  CapaView,
  CommentView,
  EffectivenessView,
  NonconformanceView,
  QualityEvent,
  QualityEventType,
  QualityKpisView,
  SignatureView,
} from '../contract.ts'
import type { Logger } from '../log.ts'
import { type NcRecord, type NcService, workflowSummary } from '../nonconformance/index.ts'
import { ncNumber } from '../nonconformance/titles.ts'
import type { CharacteristicRuntime } from '../pipeline/runtime.ts'
import { type IdAllocator, idAllocator, type RecordsDb } from '../store/records-db.ts'
import type { TimeSeriesStore } from '../store/types.ts'
import type { AuditTrail } from './audit-trail.ts'
import type { HistoryDocument } from './export.ts'
import type { UserDirectory } from './users.ts'

/**
 * The quality loop's acts on records (issue 9): the NC workflow, CAPAs with their verification
 * of effectiveness from the data, comments, attachments and electronic signatures, each change
 * with its audit entry.
 *
 * Acts run one at a time (they are few, and each reads what the one before wrote): an act
 * waits for every earlier write to be committed, reads the record, applies the pure rule
 * (rules/quality), queues the record's new state and its audit entry on the records writer
 * (one transaction), and answers once they are committed.
 */
export interface QualityService {
  start(): void
  stop(): void
  ncView(id: number): Promise<NonconformanceView | undefined>
  ncAct(id: number, body: ActBody, who: Who): Promise<Outcome<NonconformanceView>>
  attach(id: number, file: AttachmentUpload, who: Who): Promise<Outcome<AttachmentView>>
  attachment(id: number, name: string): { view: AttachmentView; path: string } | undefined
  capas(status?: string): Promise<CapaView[]>
  capaView(id: number): Promise<CapaView | undefined>
  openCapa(body: CapaPlan & { reason: string }, who: Who): Promise<Outcome<CapaView>>
  capaAct(id: number, body: ActBody, who: Who): Promise<Outcome<CapaView>>
  kpis(from: number, to: number): Promise<QualityKpisView>
  ncHistory(id: number, subtitle: string): Promise<HistoryDocument | undefined>
  capaHistory(id: number, subtitle: string): Promise<HistoryDocument | undefined>
}

/** Who acts: the principal, and the address a signature's re-authentication came from. */
export interface Who {
  principal: Principal
  address: string
}

export type ActBody = {
  action: string
  reason?: string
  signature?: { password: string }
} & Record<string, unknown>

export type Outcome<T> = { ok: true; value: T } | { ok: false; status: number; message: string }

export interface AttachmentUpload {
  name: string
  contentType: string
  data: Buffer
}

export const QUALITY_STATEMENTS = {
  capaUpsert: `INSERT INTO capa (id, record, status, owner, due_at, opened_at, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET record = excluded.record, status = excluded.status,
                 owner = excluded.owner, due_at = excluded.due_at, closed_at = excluded.closed_at`,
  comment:
    'INSERT INTO record_comment (id, entity_id, at, by, text) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
  attachment: `INSERT INTO attachment (entity_id, name, size, sha256, content_type, at, by)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (entity_id, name) DO UPDATE SET size = excluded.size, sha256 = excluded.sha256,
                 content_type = excluded.content_type, at = excluded.at, by = excluded.by`,
  signature: `INSERT INTO signature (id, entity_id, "user", printed_name, meaning, at, record_hash)
              VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
}

export interface QualityPolicy {
  effectivenessWindowDays: number
  capaDueNoticeHours: number
  maxAttachmentBytes: number
  maxAttachmentsPerRecord: number
}

const DAY_MS = 86_400_000

export const capaNumber = (id: number) => `CAPA-${String(id).padStart(6, '0')}`

/** "NC-000042" or "42" → 42; null for anything else. */
export function recordId(text: string, prefix: 'NC' | 'CAPA'): number | null {
  const m = new RegExp(`^(?:${prefix}-)?(\\d{1,12})$`).exec(text.trim())
  return m ? Number(m[1]) : null
}

/** How the audit trail and the records name who acted: a user, or a configured token. */
export const actorName = (p: Principal): string => principalName(p)

const fail = (status: number, message: string): { ok: false; status: number; message: string } => ({
  ok: false,
  status,
  message,
})

export function createQualityService(ctx: {
  db: RecordsDb
  run: (statement: keyof typeof QUALITY_STATEMENTS, params: (string | number)[]) => void
  flushed: () => Promise<void>
  nc: NcService
  audit: AuditTrail
  users: UserDirectory
  store: TimeSeriesStore
  runtime: (id: string) => CharacteristicRuntime | undefined
  policy: QualityPolicy
  attachmentsDir: string
  notify: (event: QualityEvent) => void
  log: Logger
  now?: () => number
}): QualityService {
  const now = ctx.now ?? Date.now
  const { db, nc, audit } = ctx
  let queue: Promise<unknown> = Promise.resolve()
  // Ids allocated at start (records-db.ts: several gateways may share PostgreSQL's tables).
  let commentIds: IdAllocator
  let signatureIds: IdAllocator
  let capaIds: IdAllocator
  let timer: NodeJS.Timeout | null = null
  /** CAPAs due soon and NCs overdue this gateway has looked at (each is told once: `tellOnce`). */
  const told = new Set<string>()
  const claimReminder = db.prepare(
    'INSERT INTO reminder (key, at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING',
  )

  /** Runs acts one at a time, each after every earlier write is committed. */
  function serial<T>(act: () => Promise<T>): Promise<T> {
    const next = queue.then(async () => {
      await ctx.flushed()
      const result = await act()
      await ctx.flushed()
      return result
    })
    queue = next.catch(() => {})
    return next
  }

  const actorOf = (p: Principal): Actor => ({ user: actorName(p), role: p.role })

  function event(
    type: QualityEventType,
    id: string,
    status: string,
    title: string,
    actor: string,
    action: string | null,
    auditSeq: number | null,
  ): void {
    try {
      ctx.notify({ type, at: now(), id, status, title, actor, action, auditSeq })
    } catch (err) {
      ctx.log.error({ err }, 'a quality event could not be passed on')
    }
  }

  // ——— reading the records ———

  function comments(entityId: string): CommentView[] {
    return db
      .prepare('SELECT at, by, text FROM record_comment WHERE entity_id = ? ORDER BY id')
      .all(entityId) as unknown as CommentView[]
  }

  function attachments(entityId: string): AttachmentView[] {
    return (
      db
        .prepare('SELECT * FROM attachment WHERE entity_id = ? ORDER BY at, name')
        .all(entityId) as {
        name: string
        size: number
        sha256: string
        content_type: string
        at: number
        by: string
      }[]
    ).map((r) => ({
      name: r.name,
      size: r.size,
      sha256: r.sha256,
      contentType: r.content_type,
      at: r.at,
      by: r.by,
    }))
  }

  function ncSignatures(entityId: string): Signature[] {
    return (
      db
        .prepare(
          'SELECT "user", printed_name, meaning, at, record_hash FROM signature WHERE entity_id = ? ORDER BY id',
        )
        .all(entityId) as {
        user: string
        printed_name: string
        meaning: SignatureMeaning
        at: number
        record_hash: string
      }[]
    ).map((r) => ({
      user: r.user,
      printedName: r.printed_name,
      meaning: r.meaning,
      at: r.at,
      recordHash: r.record_hash,
    }))
  }

  const signatureView = (s: Signature, content: unknown): SignatureView => ({
    ...s,
    manifest: signatureManifest(s),
    holds: signatureHolds(s, content),
  })

  function composeNc(rec: NcRecord): NonconformanceView {
    const number = ncNumber(rec.id)
    const content = signedNcContent(number, rec.case)
    const { case: nc, lotsSeen, ...rest } = rec
    return {
      ...rest,
      workflow: {
        ...nc,
        overdue: workflowSummary(nc, now()).overdue,
        recurrenceOf: rec.recurrenceOf,
        lotsSeen,
        signatures: ncSignatures(number).map((s) => signatureView(s, content)),
        comments: comments(number),
        attachments: attachments(number),
      },
    }
  }

  function capaRecord(id: number): Capa | undefined {
    const row = db.prepare('SELECT record FROM capa WHERE id = ?').get(id) as
      | { record: string }
      | undefined
    return row ? (JSON.parse(row.record) as Capa) : undefined
  }

  async function effectivenessOf(capa: Capa): Promise<EffectivenessView[]> {
    if (capa.implementedAt === null) return []
    const windowMs = ctx.policy.effectivenessWindowDays * DAY_MS
    const byCharacteristic = new Map<string, number[]>()
    for (const text of capa.ncs) {
      const id = recordId(text, 'NC')
      const rec = id === null ? undefined : await nc.get(id)
      if (rec && !byCharacteristic.has(rec.characteristic))
        byCharacteristic.set(rec.characteristic, [])
    }
    const views: EffectivenessView[] = []
    for (const characteristic of byCharacteristic.keys()) {
      const rt = ctx.runtime(characteristic)
      const from = capa.implementedAt - windowMs
      const to = capa.implementedAt + windowMs
      const readings = await ctx.store.readings({ characteristic, from, to, limit: 200_000 })
      const opened = (
        db
          .prepare(
            'SELECT opened_at FROM nonconformance WHERE characteristic = ? AND opened_at >= ? AND opened_at < ?',
          )
          .all(characteristic, from, to) as { opened_at: number }[]
      ).map((r) => r.opened_at)
      const spec = rt?.config.specLimits ?? {}
      try {
        views.push({
          characteristic,
          characteristicName: rt?.config.name ?? characteristic,
          ...effectiveness({
            readings,
            ncOpenedAt: opened,
            implementedAt: capa.implementedAt,
            windowMs,
            spec: { lsl: spec.lsl, usl: spec.usl },
            sigmaWithin: 'mr',
          }),
        })
      } catch (err) {
        // No specification limits: the NC rate alone cannot say capability improved.
        views.push({
          characteristic,
          characteristicName: rt?.config.name ?? characteristic,
          window: {
            before: { from, to: capa.implementedAt },
            after: { from: capa.implementedAt, to },
          },
          before: { n: 0, mean: null, cpk: null, ppk: null, ncs: 0, ncsPerDay: 0 },
          after: { n: 0, mean: null, cpk: null, ppk: null, ncs: 0, ncsPerDay: 0 },
          verdict: 'not enough data',
          why: `not judged: ${(err as Error).message}`,
        })
      }
    }
    return views
  }

  async function composeCapa(capa: Capa): Promise<CapaView> {
    const content = signedCapaContent(capa)
    return {
      ...capa,
      overdue: capa.status !== 'closed' && capa.dueAt < now(),
      signatureViews: capa.signatures.map((s) => signatureView(s, content)),
      comments: comments(capa.id),
      effectiveness: await effectivenessOf(capa),
    }
  }

  // ——— writing ———

  function record(fields: Omit<AuditFields, 'at'>, at: number): number {
    return audit.append({ ...fields, at }).seq
  }

  function comment(entityId: string, at: number, by: string, text: string): void {
    ctx.run('comment', [commentIds.next(), entityId, at, by, text.trim()])
  }

  function saveCapa(capa: Capa): void {
    const id = recordId(capa.id, 'CAPA') as number
    ctx.run('capaUpsert', [
      id,
      JSON.stringify(capa),
      capa.status,
      capa.owner,
      capa.dueAt,
      capa.openedAt,
      capa.closedAt ?? 0,
    ])
  }

  /**
   * Re-authenticates the signer (Part 11 §11.200(a)(1): the password at each signing) and
   * binds the signature to the record's content. Only a signed-in user signs: a configured
   * token is not a person.
   */
  async function sign(
    who: Who,
    body: ActBody,
    meaning: SignatureMeaning,
    content: unknown,
  ): Promise<Outcome<Signature>> {
    const user = who.principal.user
    if (!user) {
      return fail(
        403,
        'a signature needs a signed-in user (an access token is not a person): sign in first',
      )
    }
    const password = body.signature?.password
    if (typeof password !== 'string' || password === '')
      return fail(400, `signing (${meaning}) needs your password again: signature.password`)
    const confirmed = await ctx.users.confirm(user.name, password, who.address)
    if (!confirmed.ok) return fail(confirmed.status, confirmed.message)
    return {
      ok: true,
      value: bindSignature({
        user: user.name,
        printedName: confirmed.user.printedName,
        meaning,
        at: now(),
        record: content,
      }),
    }
  }

  /** An NC's signature: kept in its own table (a CAPA keeps its signatures in its record). */
  function saveSignature(entityId: string, s: Signature, by: string, reason: string): void {
    ctx.run('signature', [
      signatureIds.next(),
      entityId,
      s.user,
      s.printedName,
      s.meaning,
      s.at,
      s.recordHash,
    ])
    saveSignatureEntry(entityId, s, by, reason)
  }

  /** The reason every change needs; a comment's text is its own. */
  function reasonOf(body: ActBody): Outcome<string> {
    if (body.action === 'comment') return { ok: true, value: String(body.text ?? '') }
    const problem = reasonRequired(body.reason)
    return problem ? fail(400, problem) : { ok: true, value: (body.reason as string).trim() }
  }

  async function ncAct(id: number, body: ActBody, who: Who): Promise<Outcome<NonconformanceView>> {
    const rec = await nc.get(id)
    if (!rec) return fail(404, `no nonconformance ${ncNumber(id)}`)
    const number = ncNumber(id)
    const actor = actorOf(who.principal)
    const reason = reasonOf(body)
    if (!reason.ok) return reason
    const at = now()

    if (body.action === 'sign') {
      const meaning = body.meaning
      if (meaning !== 'reviewed' && meaning !== 'approved')
        return fail(400, 'sign: the meaning is reviewed or approved (closing signs with close)')
      // Reviewing is the engineer's, approving the manager's, as in the workflow.
      const denied = roleRefusal(actor, NC_SIGN_ROLES[meaning], `signing an NC as ${meaning}`)
      if (denied) return fail(denied.status, denied.refused)
      if (rec.case.status === 'closed')
        return fail(409, 'a closed NC is not signed again: reopen it')
      const signed = await sign(who, body, meaning, signedNcContent(number, rec.case))
      if (!signed.ok) return signed
      const problems = signatureProblems(ncSignatures(number), signed.value)
      if (problems.length > 0) return fail(409, problems.join('; '))
      saveSignature(number, signed.value, actor.user, reason.value)
      return { ok: true, value: composeNc((await nc.get(id)) as NcRecord) }
    }

    const action = { ...body, reason: reason.value } as unknown as NcAction
    const result = applyNcAction(rec.case, action, actor, at)
    if ('refused' in result) return fail(result.status, result.refused)

    let signature: Signature | null = null
    if (action.action === 'close') {
      const signed = await sign(who, body, 'closed', signedNcContent(number, result.nc))
      if (!signed.ok) return signed
      const problems = signatureProblems(ncSignatures(number), signed.value)
      if (problems.length > 0) return fail(409, problems.join('; '))
      signature = signed.value
    }
    let capa: { before: Capa; after: Capa } | null = null
    if (action.action === 'link-capa') {
      const capaId = recordId(action.capa, 'CAPA')
      const found = capaId === null ? undefined : capaRecord(capaId)
      if (!found) return fail(404, `no CAPA ${action.capa}`)
      result.nc.capas = result.nc.capas.map((c) => (c === action.capa ? found.id : c))
      if (!found.ncs.includes(number)) {
        const linked = applyCapaAction(found, { action: 'link-nc', nc: number }, actor, at)
        if ('refused' in linked) return fail(linked.status, linked.refused)
        capa = { before: found, after: linked.capa }
      }
    }

    if (action.action === 'comment') comment(number, at, actor.user, action.text)
    else nc.workflowChanged(id, result.nc, rec.characteristic)
    const seq = record(
      {
        actor: actor.user,
        action: action.action,
        entity: 'nc',
        entityId: number,
        reason: reason.value,
        ...auditValues(result.changes),
      },
      at,
    )
    if (capa) {
      saveCapa(capa.after)
      record(
        {
          actor: actor.user,
          action: 'link-nc',
          entity: 'capa',
          entityId: capa.after.id,
          reason: reason.value,
          before: { ncs: capa.before.ncs },
          after: { ncs: capa.after.ncs },
        },
        at,
      )
    }
    if (signature) saveSignature(number, signature, actor.user, reason.value)
    if (action.action !== 'comment') {
      event(
        result.nc.status === 'closed' ? 'nc.closed' : 'nc.changed',
        number,
        result.nc.status,
        rec.title,
        actor.user,
        action.action,
        seq,
      )
    }
    await ctx.flushed()
    return { ok: true, value: composeNc((await nc.get(id)) as NcRecord) }
  }

  async function capaAct(id: number, body: ActBody, who: Who): Promise<Outcome<CapaView>> {
    const capa = capaRecord(id)
    if (!capa) return fail(404, `no CAPA ${capaNumber(id)}`)
    const actor = actorOf(who.principal)
    const reason = reasonOf(body)
    if (!reason.ok) return reason
    const at = now()
    let action = { ...body } as unknown as CapaAction
    if (action.action === 'approve' || action.action === 'close') {
      // Who may, before asking for a password: a refused role spends no sign-in attempt.
      const denied = roleRefusal(
        actor,
        CAPA_ACTION_ROLES[action.action],
        `${action.action === 'approve' ? 'approving' : 'closing'} a CAPA`,
      )
      if (denied) return fail(denied.status, denied.refused)
      const meaning = action.action === 'approve' ? 'approved' : 'closed'
      const signed = await sign(who, body, meaning, signedCapaContent(capa))
      if (!signed.ok) return signed
      action = { action: action.action, signature: signed.value }
    }
    let ncLink: { rec: NcRecord; after: NcCase; changes: FieldChange[] } | null = null
    if (action.action === 'link-nc') {
      const ncId = recordId(String(action.nc), 'NC')
      const rec = ncId === null ? undefined : await nc.get(ncId)
      if (!rec) return fail(404, `no nonconformance ${String(action.nc)}`)
      action = { action: 'link-nc', nc: ncNumber(rec.id) }
      if (!rec.case.capas.includes(capa.id)) {
        const linked = applyNcAction(rec.case, { action: 'link-capa', capa: capa.id }, actor, at)
        if ('refused' in linked) return fail(linked.status, linked.refused)
        ncLink = { rec, after: linked.nc, changes: linked.changes }
      }
    }
    const result = applyCapaAction(capa, action, actor, at)
    if ('refused' in result) return fail(result.status, result.refused)
    if (action.action === 'comment') comment(capa.id, at, actor.user, action.text)
    else saveCapa(result.capa)
    const seq = record(
      {
        actor: actor.user,
        action: action.action,
        entity: 'capa',
        entityId: capa.id,
        reason: reason.value,
        ...auditValues(result.changes),
      },
      at,
    )
    if (ncLink) {
      nc.workflowChanged(ncLink.rec.id, ncLink.after, ncLink.rec.characteristic)
      record(
        {
          actor: actor.user,
          action: 'link-capa',
          entity: 'nc',
          entityId: ncNumber(ncLink.rec.id),
          reason: reason.value,
          ...auditValues(ncLink.changes),
        },
        at,
      )
    }
    if (action.action === 'approve' || action.action === 'close') {
      // The signature is an entry of its own too: signatures are audited wherever they are kept.
      saveSignatureEntry(capa.id, action.signature, actor.user, reason.value)
    }
    if (action.action !== 'comment') {
      event(
        result.capa.status === 'closed' ? 'capa.closed' : 'capa.changed',
        capa.id,
        result.capa.status,
        capa.title,
        actor.user,
        action.action,
        seq,
      )
    }
    await ctx.flushed()
    return { ok: true, value: await composeCapa(capaRecord(id) as Capa) }
  }

  function saveSignatureEntry(entityId: string, s: Signature, by: string, reason: string): void {
    record(
      {
        actor: by,
        action: `signed (${s.meaning})`,
        entity: 'signature',
        entityId,
        reason,
        before: null,
        after: { ...s },
      },
      s.at,
    )
  }

  /**
   * Whether this gateway is the one to tell the reminder `key`: the first to claim it in the
   * records. So a reminder goes once, not again after a restart, nor from every gateway of a
   * cluster sharing the records.
   */
  function tellOnce(key: string, at: number): boolean {
    if (told.has(key)) return false
    told.add(key)
    return claimReminder.run(key, at).changes === 1
  }

  /** CAPAs due soon and NCs past due: told once each (webhooks, log). */
  function remind(): void {
    const at = now()
    const soon = at + ctx.policy.capaDueNoticeHours * 3_600_000
    for (const r of db
      .prepare("SELECT id, record FROM capa WHERE status != 'closed' AND due_at <= ?")
      .all(soon) as { id: number; record: string }[]) {
      const capa = JSON.parse(r.record) as Capa
      if (!tellOnce(`capa:${capa.id}:${capa.dueAt}`, at)) continue
      ctx.log.warn({ capa: capa.id, dueAt: new Date(capa.dueAt).toISOString() }, 'CAPA due')
      event('capa.due', capa.id, capa.status, capa.title, 'system', 'due', null)
    }
    for (const r of db
      .prepare(
        "SELECT id, title, status, due_at FROM nonconformance WHERE status != 'closed' AND due_at > 0 AND due_at < ?",
      )
      .all(at) as { id: number; title: string; status: string; due_at: number }[]) {
      if (!tellOnce(`nc:${r.id}:${r.due_at}`, at)) continue
      // Escalation: the owner's NC is past due; the quality manager's list shows it overdue.
      ctx.log.warn({ nc: ncNumber(r.id), dueAt: new Date(r.due_at).toISOString() }, 'NC overdue')
      event('nc.overdue', ncNumber(r.id), r.status, r.title, 'system', 'overdue', null)
    }
  }

  async function history(
    title: string,
    subtitle: string,
    fields: [string, string][],
    signatures: SignatureView[],
    entityId: string,
    entity: string,
  ): Promise<HistoryDocument> {
    return {
      title,
      subtitle,
      fields,
      signatures,
      comments: comments(entityId),
      attachments: attachments(entityId),
      audit: [
        ...(await audit.list({ entity, entityId, limit: 100_000 })),
        ...(await audit.list({ entity: 'signature', entityId, limit: 100_000 })),
      ].sort((a, b) =>
        // One chain (SQLite): in its order; several gateways' chains (PostgreSQL): in time.
        db.dialect === 'postgres' ? a.at - b.at || a.seq - b.seq : a.seq - b.seq,
      ),
    }
  }

  async function ncView(id: number): Promise<NonconformanceView | undefined> {
    const rec = await nc.get(id)
    return rec ? composeNc(rec) : undefined
  }

  async function capaView(id: number): Promise<CapaView | undefined> {
    await ctx.flushed()
    const capa = capaRecord(id)
    return capa ? composeCapa(capa) : undefined
  }

  const day = (t: number | null) => (t === null ? '—' : new Date(t).toISOString())

  return {
    start() {
      commentIds = idAllocator(db, 'record_comment')
      signatureIds = idAllocator(db, 'signature')
      capaIds = idAllocator(db, 'capa')
      mkdirSync(ctx.attachmentsDir, { recursive: true })
      timer = setInterval(() => {
        try {
          remind()
        } catch (err) {
          ctx.log.error({ err }, 'quality reminders failed')
        }
      }, 60_000)
      timer.unref()
      setImmediate(() => {
        try {
          remind()
        } catch {}
      })
    },
    stop() {
      if (timer) clearInterval(timer)
      timer = null
    },

    ncView,
    ncAct: (id, body, who) => serial(() => ncAct(id, body, who)),

    attach: (id, file, who) =>
      serial(async () => {
        const rec = await nc.get(id)
        if (!rec) return fail(404, `no nonconformance ${ncNumber(id)}`)
        const number = ncNumber(id)
        if (!/^[A-Za-z0-9][A-Za-z0-9._ ()-]{0,127}$/.test(file.name))
          return fail(400, 'an attachment name is 1–128 letters, digits, spaces, . _ - ( )')
        if (file.data.length > ctx.policy.maxAttachmentBytes)
          return fail(413, `an attachment is at most ${ctx.policy.maxAttachmentBytes} bytes`)
        const existing = attachments(number)
        if (
          existing.length >= ctx.policy.maxAttachmentsPerRecord &&
          !existing.some((a) => a.name === file.name)
        )
          return fail(409, `an NC holds at most ${ctx.policy.maxAttachmentsPerRecord} attachments`)
        if (existing.some((a) => a.name === file.name))
          return fail(409, `${number} already has an attachment named "${file.name}"`)
        const sha256 = createHash('sha256').update(file.data).digest('hex')
        const dir = join(ctx.attachmentsDir, number)
        mkdirSync(dir, { recursive: true })
        // Named by content: a file is never overwritten, and the record says which bytes it holds.
        writeFileSync(join(dir, sha256), file.data, { flush: true })
        const at = now()
        const by = actorName(who.principal)
        const view: AttachmentView = {
          name: file.name,
          size: file.data.length,
          sha256,
          contentType: file.contentType,
          at,
          by,
        }
        ctx.run('attachment', [number, file.name, view.size, sha256, file.contentType, at, by])
        record(
          {
            actor: by,
            action: 'attach',
            entity: 'nc',
            entityId: number,
            reason: `attached ${file.name}`,
            before: null,
            after: { attachment: { ...view } },
          },
          at,
        )
        return { ok: true, value: view }
      }),

    attachment(id, name) {
      const number = ncNumber(id)
      const view = attachments(number).find((a) => a.name === name)
      return view ? { view, path: join(ctx.attachmentsDir, number, view.sha256) } : undefined
    },

    async capas(status) {
      await ctx.flushed()
      const rows = (
        status
          ? db.prepare('SELECT record FROM capa WHERE status = ? ORDER BY id DESC').all(status)
          : db.prepare('SELECT record FROM capa ORDER BY id DESC').all()
      ) as { record: string }[]
      const views: CapaView[] = []
      for (const r of rows) views.push(await composeCapa(JSON.parse(r.record) as Capa))
      return views
    },

    capaView,

    openCapa: (body, who) =>
      serial(async () => {
        const reason = reasonRequired(body.reason)
        if (reason) return fail(400, reason)
        const actor = actorOf(who.principal)
        const at = now()
        const records: NcRecord[] = []
        for (const text of Array.isArray(body.ncs) ? body.ncs : []) {
          const ncId = recordId(String(text), 'NC')
          const rec = ncId === null ? undefined : await nc.get(ncId)
          if (!rec) return fail(404, `no nonconformance ${String(text)}`)
          records.push(rec)
        }
        // Taken only once the CAPA is opened: a refused one leaves no gap in the numbers.
        const id = capaIds.peek()
        const number = capaNumber(id)
        const planned = planCapa(
          number,
          { ...body, ncs: records.map((r) => ncNumber(r.id)) },
          actor,
          at,
        )
        if ('refused' in planned) return fail(planned.status, planned.refused)
        const links = []
        for (const rec of records) {
          const linked = applyNcAction(rec.case, { action: 'link-capa', capa: number }, actor, at)
          if ('refused' in linked)
            return fail(linked.status, `${ncNumber(rec.id)}: ${linked.refused}`)
          links.push({ rec, linked })
        }
        capaIds.next()
        saveCapa(planned.capa)
        const seq = record(
          {
            actor: actor.user,
            action: 'open',
            entity: 'capa',
            entityId: number,
            reason: body.reason.trim(),
            before: null,
            after: planned.capa,
          },
          at,
        )
        for (const { rec, linked } of links) {
          nc.workflowChanged(rec.id, linked.nc, rec.characteristic)
          record(
            {
              actor: actor.user,
              action: 'link-capa',
              entity: 'nc',
              entityId: ncNumber(rec.id),
              reason: body.reason.trim(),
              ...auditValues(linked.changes),
            },
            at,
          )
        }
        event('capa.opened', number, 'open', planned.capa.title, actor.user, null, seq)
        await ctx.flushed()
        return { ok: true, value: await composeCapa(planned.capa) }
      }),

    capaAct: (id, body, who) => serial(() => capaAct(id, body, who)),

    async kpis(from, to) {
      await ctx.flushed()
      const ncs = (
        db
          .prepare(
            'SELECT id, characteristic, cause, opened_at, closed_at, due_at, recurrence_of FROM nonconformance',
          )
          .all() as {
          id: number
          characteristic: string
          cause: string
          opened_at: number
          closed_at: number | null
          due_at: number | null
          recurrence_of: number | null
        }[]
      ).map((r) => ({
        id: ncNumber(r.id),
        characteristic: r.characteristic,
        cause: r.cause,
        openedAt: r.opened_at,
        closedAt: r.closed_at ? r.closed_at : null,
        dueAt: r.due_at ? r.due_at : null,
        recurrenceOf: r.recurrence_of === null ? null : ncNumber(r.recurrence_of),
      }))
      const capas = (
        db.prepare('SELECT id, opened_at, closed_at, due_at FROM capa').all() as {
          id: number
          opened_at: number
          closed_at: number | null
          due_at: number
        }[]
      ).map((r) => ({
        id: capaNumber(r.id),
        openedAt: r.opened_at,
        closedAt: r.closed_at ? r.closed_at : null,
        dueAt: r.due_at,
      }))
      return qualityKpis({ ncs, capas, from, to, now: now() })
    },

    async ncHistory(id, subtitle) {
      const view = await ncView(id)
      if (!view) return undefined
      const w = view.workflow
      const fields: [string, string][] = [
        ['Characteristic', `${view.characteristicName} (${view.characteristic}) — ${view.path}`],
        ['Opened', day(view.openedAt)],
        ['Cause', view.causes.join(', ')],
        ['Occurrences', String(view.occurrences)],
        ['Status', w.status],
        ['Severity', w.severity ?? '—'],
        ['Owner', w.owner ?? '—'],
        ['Due', day(w.dueAt)],
        ['Containment', w.containment.join('\n') || '—'],
        [
          'Root cause (5 Whys)',
          w.rootCause ? w.rootCause.whys.map((y, k) => `${k + 1}. ${y}`).join('\n') : '—',
        ],
        [
          'Fishbone (6M)',
          w.rootCause
            ? Object.entries(w.rootCause.fishbone)
                .filter(([, v]) => v.length > 0)
                .map(([k, v]) => `${k}: ${v.join('; ')}`)
                .join('\n') || '—'
            : '—',
        ],
        ['Affected lots', w.affectedLots.join(', ') || '—'],
        [
          'Disposition',
          w.disposition ? `${w.disposition.decision}: ${w.disposition.justification}` : '—',
        ],
        ['CAPAs', w.capas.join(', ') || '—'],
        ['Recurrence of', w.recurrenceOf === null ? '—' : ncNumber(w.recurrenceOf)],
        ['Closed', day(w.closedAt)],
      ]
      return history(
        `${view.number} — ${view.title}`,
        subtitle,
        fields,
        w.signatures,
        view.number,
        'nc',
      )
    },

    async capaHistory(id, subtitle) {
      const view = await capaView(id)
      if (!view) return undefined
      const fields: [string, string][] = [
        ['Kind', view.kind],
        ['Status', view.status],
        ['Owner', view.owner],
        ['Due', day(view.dueAt)],
        ['NCs', view.ncs.join(', ')],
        ['Opened', day(view.openedAt)],
        ['Implemented', day(view.implementedAt)],
        [
          'Verification',
          view.verification
            ? `${view.verification.effective ? 'effective' : 'not effective'}: ${view.verification.notes} (${view.verification.by}, ${day(view.verification.at)})`
            : '—',
        ],
        ...view.effectiveness.map((e): [string, string] => [
          `Effectiveness: ${e.characteristicName}`,
          e.why,
        ]),
        ['Approved', day(view.approvedAt)],
        ['Closed', day(view.closedAt)],
      ]
      return history(
        `${view.id} — ${view.title}`,
        subtitle,
        fields,
        view.signatureViews,
        view.id,
        'capa',
      )
    },
  }
}

/** The bytes of a stored attachment. */
export function readAttachment(path: string): Buffer {
  return readFileSync(path)
}

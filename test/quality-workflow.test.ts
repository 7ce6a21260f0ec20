import { describe, expect, it } from 'vitest'
import {
  type Actor,
  applyCapaAction,
  applyNcAction,
  bindSignature,
  type Capa,
  type CapaAction,
  type CapaPlan,
  type CapaResult,
  EFFECTIVENESS_MIN_READINGS,
  type EffectivenessInput,
  effectiveness,
  escalation,
  type FieldChange,
  isOverdue,
  type NcAction,
  type NcActionName,
  type NcActionResult,
  type NcCase,
  type NcStatus,
  newNcCase,
  planCapa,
  reasonRequired,
  type Signature,
  signedCapaContent,
  type UserRole,
} from '../rules/quality/index.ts'

/**
 * The NC and CAPA state machines and the verification of effectiveness. The allowed
 * transitions and roles are the tables of issue 9, written out here by hand (not read from the
 * module's own tables); Cpk and Ppk are computed here from their definitions.
 */

const DAY = 86_400_000
const HOUR = 3_600_000
const AT = Date.UTC(2026, 2, 2, 9, 0, 0)

const as = (role: UserRole, user = `${role}-user`): Actor => ({ user, role })
const viewer = as('viewer')
const operator = as('operator')
const engineer = as('quality-engineer', 'jlopez')
const manager = as('quality-manager', 'aweber')
const admin = as('admin')

/** The roles lowest first, as issue 9 ranks them. */
const RANKS: UserRole[] = ['viewer', 'operator', 'quality-engineer', 'quality-manager', 'admin']

function ok(result: NcActionResult): { nc: NcCase; changes: FieldChange[] } {
  if ('refused' in result) throw new Error(`refused (${result.status}): ${result.refused}`)
  return result
}

function run(nc: NcCase, actions: NcAction[], actor: Actor = admin, at = AT): NcCase {
  return actions.reduce((current, action) => ok(applyNcAction(current, action, actor, at)).nc, nc)
}

/** A valid instance of each action. */
const VALID: Record<NcActionName, NcAction> = {
  investigate: { action: 'investigate', owner: 'jlopez', dueAt: AT + 7 * DAY },
  assign: { action: 'assign', owner: 'mchen', dueAt: AT + 10 * DAY },
  'set-severity': { action: 'set-severity', severity: 'critical' },
  containment: { action: 'containment', text: 'quarantine lot L-17' },
  'root-cause': {
    action: 'root-cause',
    whys: ['bore oversize', 'tool worn', 'no tool-life counter'],
    fishbone: { machine: ['worn boring bar'], method: ['no tool-life limit'] },
  },
  'affected-lots': { action: 'affected-lots', lots: ['L-17', 'L-18'] },
  disposition: { action: 'disposition', decision: 'rework', justification: 'bore can be re-cut' },
  close: { action: 'close' },
  reopen: { action: 'reopen', reason: 'the customer returned parts of the same lot' },
  comment: { action: 'comment', text: 'parts tagged red' },
  'link-capa': { action: 'link-capa', capa: 'CAPA-3' },
}

/** An NC brought to each state (investigating: with a root cause, so it can be dispositioned). */
function ncIn(status: NcStatus): NcCase {
  const steps: Record<NcStatus, NcAction[]> = {
    open: [],
    investigating: [VALID.investigate, VALID['root-cause']],
    dispositioned: [VALID.investigate, VALID['root-cause'], VALID.disposition],
    closed: [VALID.investigate, VALID['root-cause'], VALID.disposition, VALID.close],
  }
  return run(newNcCase(), steps[status])
}

/** Issue 9's table: what each state allows. */
const ALLOWED: Record<NcStatus, NcActionName[]> = {
  open: [
    'investigate',
    'assign',
    'set-severity',
    'containment',
    'affected-lots',
    'link-capa',
    'comment',
  ],
  investigating: [
    'assign',
    'set-severity',
    'containment',
    'root-cause',
    'affected-lots',
    'disposition',
    'link-capa',
    'comment',
  ],
  dispositioned: [
    'assign',
    'set-severity',
    'containment',
    'root-cause',
    'affected-lots',
    'disposition',
    'link-capa',
    'comment',
    'close',
  ],
  closed: ['reopen', 'comment'],
}

/** Where each action leads (unlisted: the state stays). */
const LEADS_TO: Partial<Record<NcActionName, NcStatus>> = {
  investigate: 'investigating',
  disposition: 'dispositioned',
  close: 'closed',
  reopen: 'investigating',
}

/** Issue 9's table: the lowest role each action needs. */
const NEEDS: Record<NcActionName, UserRole> = {
  investigate: 'quality-engineer',
  assign: 'quality-engineer',
  'set-severity': 'quality-engineer',
  containment: 'quality-engineer',
  'root-cause': 'quality-engineer',
  'affected-lots': 'quality-engineer',
  disposition: 'quality-engineer',
  close: 'quality-manager',
  reopen: 'quality-manager',
  comment: 'operator',
  'link-capa': 'quality-engineer',
}

const STATUSES: NcStatus[] = ['open', 'investigating', 'dispositioned', 'closed']
const ACTIONS = Object.keys(VALID) as NcActionName[]

describe('the NC state machine: every action in every state', () => {
  const cases = STATUSES.flatMap((status) => ACTIONS.map((action) => ({ status, action })))

  it.each(cases)('$action on a $status NC', ({ status, action }) => {
    const nc = ncIn(status)
    const result = applyNcAction(nc, VALID[action], admin, AT + DAY)
    if (ALLOWED[status].includes(action)) {
      const { nc: next } = ok(result)
      expect(next.status).toBe(LEADS_TO[action] ?? status)
    } else {
      expect(result).toMatchObject({ status: 409 })
      expect((result as { refused: string }).refused).toMatch(
        new RegExp(`^cannot .* an NC that is ${status}: `),
      )
    }
  })

  it('the 409 says what to do instead', () => {
    const refusal = (status: NcStatus, action: NcActionName) =>
      (applyNcAction(ncIn(status), VALID[action], admin, AT) as { refused: string }).refused
    expect(refusal('open', 'close')).toBe(
      'cannot close an NC that is open: investigate and disposition it first',
    )
    expect(refusal('investigating', 'close')).toMatch(/disposition it first$/)
    expect(refusal('closed', 'containment')).toMatch(/reopen it first$/)
    expect(refusal('closed', 'investigate')).toMatch(/reopen it instead$/)
    expect(refusal('open', 'reopen')).toMatch(/only a closed NC can be reopened$/)
    expect(refusal('investigating', 'investigate')).toMatch(/already being investigated$/)
  })
})

describe('the NC roles: every action, at its lowest role and just below it', () => {
  it.each(ACTIONS)('%s', (action) => {
    const needed = NEEDS[action]
    const state = STATUSES.find((s) => ALLOWED[s].includes(action))!
    const below = RANKS[RANKS.indexOf(needed) - 1]!
    const refused = applyNcAction(ncIn(state), VALID[action], as(below), AT + DAY)
    expect(refused).toMatchObject({ status: 403 })
    expect((refused as { refused: string }).refused).toContain(`needs the ${needed} role`)
    for (const role of RANKS.slice(RANKS.indexOf(needed))) {
      expect('refused' in applyNcAction(ncIn(state), VALID[action], as(role), AT + DAY)).toBe(false)
    }
  })

  it('an operator cannot close an NC; a viewer cannot even comment', () => {
    expect(applyNcAction(ncIn('dispositioned'), VALID.close, operator, AT)).toEqual({
      status: 403,
      refused: 'closing an NC needs the quality-manager role; you have operator',
    })
    expect(applyNcAction(ncIn('open'), VALID.comment, viewer, AT)).toEqual({
      status: 403,
      refused: 'commenting on an NC needs the operator role; you have viewer',
    })
  })

  it('a quality engineer cannot close or reopen', () => {
    expect(applyNcAction(ncIn('dispositioned'), VALID.close, engineer, AT)).toMatchObject({
      status: 403,
    })
    expect(applyNcAction(ncIn('closed'), VALID.reopen, engineer, AT)).toMatchObject({
      status: 403,
    })
  })

  it('a role the gateway does not know may do nothing', () => {
    const stranger = { user: 'x', role: 'superuser' as UserRole }
    expect(applyNcAction(ncIn('open'), VALID.comment, stranger, AT)).toMatchObject({
      status: 403,
    })
  })

  it('judges the role first, then the state, then what was sent', () => {
    // A viewer closing an open NC: the role answers, not the state.
    expect(applyNcAction(ncIn('open'), VALID.close, viewer, AT)).toMatchObject({ status: 403 })
    // A manager investigating a closed NC without an owner: the state answers, not the payload.
    const incomplete = { action: 'investigate', owner: '', dueAt: AT + DAY } as NcAction
    expect(applyNcAction(ncIn('closed'), incomplete, manager, AT)).toMatchObject({ status: 409 })
  })
})

describe('NC actions with missing or malformed fields are refused with 400', () => {
  const open = newNcCase()
  const investigating = ncIn('investigating')
  const refused = (nc: NcCase, action: unknown) =>
    applyNcAction(nc, action as NcAction, admin, AT) as { status: number; refused: string }

  it.each([
    ['no owner', { action: 'investigate', dueAt: AT + DAY }, /an owner is required/],
    ['a blank owner', { action: 'investigate', owner: '  ', dueAt: AT + DAY }, /owner/],
    ['no due date', { action: 'investigate', owner: 'jlopez' }, /a due date/],
    ['a due date that is NaN', { action: 'investigate', owner: 'j', dueAt: Number.NaN }, /due/],
    ['a due date now', { action: 'investigate', owner: 'jlopez', dueAt: AT }, /later than/],
    [
      'an unknown severity',
      { action: 'investigate', owner: 'j', dueAt: AT + 1, severity: 'x' },
      /severity/,
    ],
    [
      'a severity not on the scale',
      { action: 'set-severity', severity: 'huge' },
      /one of minor, major, critical/,
    ],
    [
      'a blank containment',
      { action: 'containment', text: ' ' },
      /containment action needs its text/,
    ],
    ['lots that are not a list', { action: 'affected-lots', lots: 'L-17' }, /list of lot ids/],
    ['a blank lot', { action: 'affected-lots', lots: ['L-17', ''] }, /list of lot ids/],
    ['a blank comment', { action: 'comment', text: '' }, /a comment needs its text/],
    // A lone surrogate cannot be hashed into the audit trail: a bad request, not a crash later.
    ['a comment with a lone surrogate', { action: 'comment', text: 'ok \ud800' }, /comment/],
    [
      'an owner with a lone surrogate',
      { action: 'assign', owner: '\udead', dueAt: AT + 1 },
      /owner/,
    ],
    ['a blank CAPA id', { action: 'link-capa', capa: ' ' }, /the CAPA to link is required/],
    ['an unknown action', { action: 'delete' }, /unknown action delete/],
  ])('on an open NC: %s', (_what, action, why) => {
    const result = refused(open, action)
    expect(result.status).toBe(400)
    expect(result.refused).toMatch(why)
  })

  it.each([
    ['an empty root cause', { action: 'root-cause', whys: [], fishbone: {} }, /at least one why/],
    ['a blank why', { action: 'root-cause', whys: ['tool worn', ' '] }, /each why/],
    ['six whys', { action: 'root-cause', whys: ['1', '2', '3', '4', '5', '6'] }, /at most 5/],
    ['a category outside 6M', { action: 'root-cause', fishbone: { money: ['x'] } }, /6M/],
    ['causes that are not texts', { action: 'root-cause', fishbone: { man: [1] } }, /man causes/],
    [
      'an unknown decision',
      { action: 'disposition', decision: 'sell', justification: 'x' },
      /one of use-as-is/,
    ],
    [
      'no justification',
      { action: 'disposition', decision: 'scrap', justification: '' },
      /justification/,
    ],
  ])('on an NC under investigation: %s', (_what, action, why) => {
    const result = refused(investigating, action)
    expect(result.status).toBe(400)
    expect(result.refused).toMatch(why)
  })

  it('a disposition without a root cause is refused by the state of the record (409)', () => {
    const noRootCause = run(newNcCase(), [VALID.investigate])
    expect(applyNcAction(noRootCause, VALID.disposition, admin, AT)).toEqual({
      status: 409,
      refused: 'cannot disposition an NC without a root cause: record it first',
    })
  })

  it('linking the same CAPA twice is refused (409)', () => {
    const linked = run(newNcCase(), [VALID['link-capa']])
    expect(applyNcAction(linked, VALID['link-capa'], admin, AT)).toMatchObject({ status: 409 })
  })
})

describe('reopening an NC', () => {
  it('needs a reason: none, blank or under 3 characters is refused (400)', () => {
    const closed = ncIn('closed')
    for (const reason of [undefined, '', '   ', 'x', ' ab ']) {
      const result = applyNcAction(closed, { action: 'reopen', reason } as NcAction, manager, AT)
      expect(result).toMatchObject({ status: 400 })
      expect((result as { refused: string }).refused).toMatch(/^reopening an NC: /)
    }
  })

  it('with a reason goes back to investigating, keeps its findings and counts the reopening', () => {
    const closed = ncIn('closed')
    const { nc, changes } = ok(applyNcAction(closed, VALID.reopen, manager, AT + DAY))
    expect(nc.status).toBe('investigating')
    expect(nc.closedAt).toBeNull()
    expect(nc.reopened).toBe(1)
    expect(nc.rootCause).toEqual(closed.rootCause)
    expect(nc.disposition).toEqual(closed.disposition)
    expect(changes.map((c) => c.field)).toEqual(['status', 'closedAt', 'reopened'])
  })

  it('a reopened NC must be dispositioned again before it closes again', () => {
    const reopened = run(ncIn('closed'), [VALID.reopen])
    expect(applyNcAction(reopened, VALID.close, manager, AT)).toMatchObject({ status: 409 })
    const again = run(reopened, [VALID.disposition, VALID.close], manager, AT + 2 * DAY)
    expect(again.status).toBe('closed')
    expect(again.closedAt).toBe(AT + 2 * DAY)
    expect(again.reopened).toBe(1)
  })
})

describe('reasonRequired (every change needs a reason)', () => {
  it.each([
    [undefined, 'a reason is required'],
    [null, 'a reason is required'],
    ['', 'a reason is required'],
    [' \t\n', 'a reason is required'],
    ['x', 'the reason must be at least 3 characters (it has 1)'],
    ['  ok  ', 'the reason must be at least 3 characters (it has 2)'],
    ['lot \ud800 held', 'the reason is not well-formed text (a lone surrogate)'],
  ])('%j is refused: %s', (reason, why) => {
    expect(reasonRequired(reason)).toBe(why)
  })

  it('counts characters, not UTF-16 units: three emoji are three characters', () => {
    expect(reasonRequired('😀😀😀')).toBeNull()
    expect(reasonRequired('😀😀')).toBe('the reason must be at least 3 characters (it has 2)')
    expect(reasonRequired('typo')).toBeNull()
  })
})

describe('what an NC action changes', () => {
  it('investigating records the owner, the due date and the severity, trimmed', () => {
    const action: NcAction = {
      action: 'investigate',
      owner: '  jlopez ',
      dueAt: AT + DAY,
      severity: 'major',
    }
    const { nc, changes } = ok(applyNcAction(newNcCase(), action, engineer, AT))
    expect(nc).toMatchObject({
      status: 'investigating',
      owner: 'jlopez',
      dueAt: AT + DAY,
      severity: 'major',
    })
    expect(changes).toEqual([
      { field: 'status', before: 'open', after: 'investigating' },
      { field: 'owner', before: null, after: 'jlopez' },
      { field: 'dueAt', before: null, after: AT + DAY },
      { field: 'severity', before: null, after: 'major' },
    ])
  })

  it('assigning the same owner and due date again changes nothing', () => {
    const nc = run(newNcCase(), [VALID.assign])
    expect(ok(applyNcAction(nc, VALID.assign, admin, AT)).changes).toEqual([])
  })

  it('containment accumulates; lots are de-duplicated; a root cause fills every 6M category', () => {
    const nc = run(ncIn('investigating'), [
      { action: 'containment', text: 'stop the line' },
      { action: 'containment', text: ' sort stock ' },
      { action: 'affected-lots', lots: ['L-1', 'L-2', 'L-1'] },
      { action: 'root-cause', whys: ['why'], fishbone: { material: [' soft bar stock '] } },
    ])
    expect(nc.containment).toEqual(['stop the line', 'sort stock'])
    expect(nc.affectedLots).toEqual(['L-1', 'L-2'])
    expect(nc.rootCause).toEqual({
      whys: ['why'],
      fishbone: {
        man: [],
        machine: [],
        method: [],
        material: ['soft bar stock'],
        measurement: [],
        environment: [],
      },
    })
  })

  it('closing records the time of the action', () => {
    const { nc } = ok(applyNcAction(ncIn('dispositioned'), VALID.close, manager, AT + 3 * DAY))
    expect(nc.closedAt).toBe(AT + 3 * DAY)
  })

  it('a comment changes no field of the case, but is returned for the audit trail', () => {
    const before = ncIn('closed')
    const { nc, changes } = ok(applyNcAction(before, VALID.comment, operator, AT))
    expect(nc).toEqual(before)
    expect(changes).toEqual([{ field: 'comment', before: null, after: 'parts tagged red' }])
  })

  it('never changes the case it is given', () => {
    const nc = ncIn('dispositioned')
    const snapshot = structuredClone(nc)
    for (const action of ACTIONS) applyNcAction(nc, VALID[action], admin, AT + DAY)
    run(nc, [VALID.containment, VALID['affected-lots'], VALID.close])
    expect(nc).toEqual(snapshot)
  })
})

describe('overdue NCs and escalation', () => {
  const due = { status: 'investigating' as const, dueAt: AT }

  it('an NC is overdue only after its due date, and never once closed', () => {
    expect(isOverdue(due, AT)).toBe(false)
    expect(isOverdue(due, AT + 1)).toBe(true)
    expect(isOverdue({ ...due, status: 'closed' }, AT + DAY)).toBe(false)
    expect(isOverdue({ ...due, dueAt: null }, AT + DAY)).toBe(false)
  })

  it('escalation counts whole days past due, rounded down', () => {
    expect(escalation(due, AT)).toBeNull()
    expect(escalation(due, AT + 1)).toEqual({ overdueMs: 1, days: 0 })
    expect(escalation(due, AT + 1.5 * DAY)).toEqual({ overdueMs: 1.5 * DAY, days: 1 })
    expect(escalation(due, AT + 3 * DAY)).toEqual({ overdueMs: 3 * DAY, days: 3 })
    expect(escalation({ ...due, status: 'closed' }, AT + 3 * DAY)).toBeNull()
  })
})

// ---------------------------------------------------------------------------------------------
// CAPA

const PLAN: CapaPlan = {
  title: ' Add a tool-life counter to the boring bar ',
  kind: 'corrective',
  owner: 'jlopez',
  dueAt: AT + 30 * DAY,
  ncs: ['NC-7', 'NC-9', 'NC-7'],
}

function capaOk(result: CapaResult): { capa: Capa; changes: FieldChange[] } {
  if ('refused' in result) throw new Error(`refused (${result.status}): ${result.refused}`)
  return result
}

function planned(): Capa {
  return capaOk(planCapa('CAPA-3', PLAN, engineer, AT)).capa
}

/** The signature `actor` gives the CAPA as it stands now. */
function signs(
  capa: Capa,
  meaning: Signature['meaning'],
  actor: Actor = manager,
  at = AT,
): Signature {
  return bindSignature({
    user: actor.user,
    printedName: `Printed ${actor.user}`,
    meaning,
    at,
    record: signedCapaContent(capa),
  })
}

function step(capa: Capa, action: CapaAction, actor: Actor, at: number): Capa {
  return capaOk(applyCapaAction(capa, action, actor, at)).capa
}

const implemented = (capa = planned()) =>
  step(capa, { action: 'implement', implementedAt: AT + DAY }, engineer, AT + 2 * DAY)

const verified = (effective: boolean, capa = implemented(), at = AT + 40 * DAY) =>
  step(capa, { action: 'verify', effective, notes: 'Cpk 1.1 → 2.2' }, engineer, at)

describe('the CAPA lifecycle', () => {
  it('open → implemented → verified → approved → closed, with its times and signatures', () => {
    const open = planned()
    expect(open).toEqual({
      id: 'CAPA-3',
      status: 'open',
      title: 'Add a tool-life counter to the boring bar',
      kind: 'corrective',
      owner: 'jlopez',
      dueAt: AT + 30 * DAY,
      ncs: ['NC-7', 'NC-9'],
      openedAt: AT,
      implementedAt: null,
      verification: null,
      approvedAt: null,
      closedAt: null,
      signatures: [],
    })
    const done = implemented(open)
    expect(done).toMatchObject({ status: 'implemented', implementedAt: AT + DAY })
    const checked = verified(true, done)
    expect(checked.verification).toEqual({
      effective: true,
      notes: 'Cpk 1.1 → 2.2',
      at: AT + 40 * DAY,
      by: 'jlopez',
    })
    const approval = signs(checked, 'approved')
    const approved = step(
      checked,
      { action: 'approve', signature: approval },
      manager,
      AT + 41 * DAY,
    )
    expect(approved).toMatchObject({ status: 'approved', approvedAt: AT + 41 * DAY })
    // The approval attests the plan, implementation and verification, not the status: it holds
    // on, so the same manager may close with a second signature of another meaning.
    const closing = signs(approved, 'closed')
    const closed = step(approved, { action: 'close', signature: closing }, manager, AT + 42 * DAY)
    expect(closed).toMatchObject({ status: 'closed', closedAt: AT + 42 * DAY })
    expect(closed.signatures).toEqual([approval, closing])
  })

  it('planning lists every field as a change from nothing', () => {
    const { changes } = capaOk(planCapa('CAPA-3', PLAN, engineer, AT))
    expect(changes.map((c) => c.field)).toContain('ncs')
    expect(changes.every((c) => c.before === null)).toBe(true)
  })

  it.each([
    ['an operator', PLAN, operator, 403],
    ['no title', { ...PLAN, title: ' ' }, engineer, 400],
    ['an unknown kind', { ...PLAN, kind: 'cosmetic' }, engineer, 400],
    ['no owner', { ...PLAN, owner: '' }, engineer, 400],
    ['a due date in the past', { ...PLAN, dueAt: AT - 1 }, engineer, 400],
    ['no NC', { ...PLAN, ncs: [] }, engineer, 400],
    ['a blank NC', { ...PLAN, ncs: ['NC-7', ' '] }, engineer, 400],
  ])('planning is refused with %s', (_what, plan, actor, status) => {
    expect(planCapa('CAPA-3', plan as CapaPlan, actor, AT)).toMatchObject({ status })
  })

  it('approval is refused when the verification found the action not effective', () => {
    const ineffective = verified(false)
    expect(
      applyCapaAction(
        ineffective,
        { action: 'approve', signature: signs(ineffective, 'approved') },
        manager,
        AT + 41 * DAY,
      ),
    ).toEqual({
      status: 409,
      refused:
        'cannot approve a CAPA verified as not effective: implement a revised action and verify it again',
    })
  })

  it('a revised action after an ineffective one clears the verification, to be verified again', () => {
    const revised = step(
      verified(false),
      { action: 'implement', implementedAt: AT + 45 * DAY },
      engineer,
      AT + 45 * DAY,
    )
    expect(revised).toMatchObject({
      status: 'implemented',
      implementedAt: AT + 45 * DAY,
      verification: null,
    })
    const effective = verified(true, revised, AT + 48 * DAY)
    const approved = step(
      effective,
      { action: 'approve', signature: signs(effective, 'approved') },
      manager,
      AT + 50 * DAY,
    )
    expect(approved.status).toBe('approved')
  })

  it('a CAPA verified as effective is not implemented again', () => {
    expect(
      applyCapaAction(
        verified(true),
        { action: 'implement', implementedAt: AT },
        engineer,
        AT + 50 * DAY,
      ),
    ).toMatchObject({ status: 409 })
  })

  it('steps out of order are refused (409) with the step awaited', () => {
    expect(
      applyCapaAction(planned(), { action: 'verify', effective: true, notes: 'x' }, engineer, AT),
    ).toEqual({
      status: 409,
      refused: 'cannot verify a CAPA that is open: record its implementation first',
    })
    const open = planned()
    expect(
      applyCapaAction(open, { action: 'approve', signature: signs(open, 'approved') }, manager, AT),
    ).toMatchObject({ status: 409 })
    const checked = verified(true)
    expect(
      applyCapaAction(
        checked,
        { action: 'close', signature: signs(checked, 'closed') },
        manager,
        AT,
      ),
    ).toMatchObject({ status: 409 })
  })

  it('assign and link-nc only while open or implemented; comment in every state', () => {
    const assign: CapaAction = { action: 'assign', owner: 'mchen', dueAt: AT + 60 * DAY }
    expect(step(planned(), assign, engineer, AT).owner).toBe('mchen')
    expect(step(implemented(), { action: 'link-nc', nc: 'NC-12' }, engineer, AT).ncs).toEqual([
      'NC-7',
      'NC-9',
      'NC-12',
    ])
    expect(applyCapaAction(verified(true), assign, engineer, AT)).toMatchObject({ status: 409 })
    expect(
      applyCapaAction(verified(true), { action: 'link-nc', nc: 'NC-12' }, engineer, AT),
    ).toMatchObject({ status: 409 })
    expect(applyCapaAction(planned(), { action: 'link-nc', nc: 'NC-9' }, engineer, AT)).toEqual({
      status: 409,
      refused: 'NC-9 is already linked to this CAPA',
    })
    const comment: CapaAction = { action: 'comment', text: 'counter ordered' }
    expect(capaOk(applyCapaAction(verified(true), comment, operator, AT)).changes).toEqual([
      { field: 'comment', before: null, after: 'counter ordered' },
    ])
    expect(applyCapaAction(planned(), comment, viewer, AT)).toMatchObject({ status: 403 })
  })

  it('a quality engineer may not approve; an operator may not implement', () => {
    const checked = verified(true)
    const signature = signs(checked, 'approved', engineer)
    expect(applyCapaAction(checked, { action: 'approve', signature }, engineer, AT)).toMatchObject({
      status: 403,
    })
    expect(
      applyCapaAction(planned(), { action: 'implement', implementedAt: AT }, operator, AT),
    ).toMatchObject({ status: 403 })
  })

  it('implementation cannot be dated later than the action recording it', () => {
    expect(
      applyCapaAction(planned(), { action: 'implement', implementedAt: AT + 1 }, engineer, AT),
    ).toMatchObject({ status: 400 })
  })

  it('a verification needs its verdict and its notes', () => {
    const done = implemented()
    const verify = (effective: unknown, notes: unknown) =>
      applyCapaAction(done, { action: 'verify', effective, notes } as CapaAction, engineer, AT)
    expect(verify('yes', 'notes')).toMatchObject({ status: 400 })
    expect(verify(true, ' ')).toMatchObject({ status: 400 })
  })
})

describe('the signatures a CAPA step needs', () => {
  const checked = verified(true)
  const approve = (signature: unknown, actor: Actor = manager) =>
    applyCapaAction(checked, { action: 'approve', signature } as CapaAction, actor, AT + 41 * DAY)

  it('none, or one with another meaning, is refused (400)', () => {
    expect(approve(undefined)).toMatchObject({ status: 400 })
    expect(approve(signs(checked, 'reviewed'))).toEqual({
      status: 400,
      refused: 'this step needs a signature with the meaning approved (not reviewed)',
    })
  })

  it('another user’s signature is refused (400)', () => {
    const admins = signs(checked, 'approved', admin)
    expect(approve(admins, manager)).toMatchObject({ status: 400 })
  })

  it('a signature bound to another CAPA is not transferable (409)', () => {
    const other = { ...checked, id: 'CAPA-4' }
    expect(approve(signs(other, 'approved'))).toEqual({
      status: 409,
      refused: 'the signature is bound to another record or another version of this CAPA',
    })
  })

  it('a signature given before the verification does not hold after it (409)', () => {
    expect(approve(signs(implemented(), 'approved'))).toMatchObject({ status: 409 })
  })

  it('a signature with no time is malformed (400)', () => {
    const timeless = { ...signs(checked, 'approved'), at: Number.NaN }
    expect(approve(timeless)).toEqual({
      status: 400,
      refused: 'a signature needs the time of signing',
    })
  })

  it('the same signature again on the same content is refused (a repeat)', () => {
    const approval = signs(checked, 'approved')
    const approved = step(checked, { action: 'approve', signature: approval }, manager, AT)
    // A close signed with the approval's meaning is the wrong meaning (400); with the same
    // user, meaning and content as an existing signature it would be a repeat (409).
    expect(
      applyCapaAction(approved, { action: 'close', signature: approval }, manager, AT),
    ).toMatchObject({ status: 400 })
    const withRepeat = { ...approved, signatures: [signs(approved, 'closed')] }
    expect(
      applyCapaAction(
        withRepeat,
        { action: 'close', signature: signs(approved, 'closed') },
        manager,
        AT,
      ),
    ).toMatchObject({ status: 409 })
  })
})

// ---------------------------------------------------------------------------------------------
// Verification of effectiveness

const T = Date.UTC(2026, 3, 1)
const WINDOW = 5 * DAY

/** n readings an hour apart from `start`, alternating between low and high (low first). */
function alternating(start: number, n: number, low: number, high: number) {
  return Array.from({ length: n }, (_, i) => ({
    ts: start + i * HOUR,
    value: i % 2 === 0 ? low : high,
  }))
}

/** Cpk and Ppk from their definitions, on values in time order. */
function byHand(values: number[], lsl: number, usl: number) {
  const n = values.length
  const mean = values.reduce((s, x) => s + x, 0) / n
  let sumMr = 0
  for (let i = 1; i < n; i++) sumMr += Math.abs(values[i]! - values[i - 1]!)
  const d2 = 2 / Math.sqrt(Math.PI) // E[range of 2 normals]/σ
  const sigmaWithin = sumMr / (n - 1) / d2
  const sigmaOverall = Math.sqrt(values.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1))
  const room = Math.min(usl - mean, mean - lsl)
  return { mean, cpk: room / (3 * sigmaWithin), ppk: room / (3 * sigmaOverall) }
}

const baseInput = (): EffectivenessInput => ({
  readings: [...alternating(T - WINDOW, 25, 9, 11), ...alternating(T, 25, 9.5, 10.5)],
  // 3 NCs in the 5 days before, 1 in the 5 days after.
  ncOpenedAt: [T - 4 * DAY, T - 2 * DAY, T - 1, T + 3 * DAY],
  implementedAt: T,
  windowMs: WINDOW,
  spec: { lsl: 4, usl: 16 },
  sigmaWithin: 'mr',
})

describe('effectiveness: before and after the implementation', () => {
  it('Cpk from MR̄/d2(2), d2(2) = 2/√π, and Ppk from the sample σ, on a hand-built set', () => {
    const result = effectiveness(baseInput())
    // Before: 13 × 9 and 12 × 11 → mean 9.96; every moving range 2 → σw = 2/(2/√π) = √π;
    // squared deviations 13·0.96² + 12·1.04² = 24.96 → s² = 24.96/24 = 1.04.
    expect(result.before.n).toBe(25)
    expect(result.before.mean).toBeCloseTo(9.96, 12)
    expect(result.before.cpk).toBeCloseTo(5.96 / (3 * Math.sqrt(Math.PI)), 12)
    expect(result.before.ppk).toBeCloseTo(5.96 / (3 * Math.sqrt(1.04)), 12)
    // After: 13 × 9.5 and 12 × 10.5 → mean 9.98; moving ranges 1 → σw = √π/2; s² = 6.24/24.
    expect(result.after.mean).toBeCloseTo(9.98, 12)
    expect(result.after.cpk).toBeCloseTo(5.98 / (3 * (Math.sqrt(Math.PI) / 2)), 12)
    expect(result.after.ppk).toBeCloseTo(5.98 / (3 * Math.sqrt(0.26)), 12)
    // The same from the definitions, computed over the values.
    const before = byHand(
      alternating(0, 25, 9, 11).map((r) => r.value),
      4,
      16,
    )
    expect(result.before.cpk).toBeCloseTo(before.cpk, 12)
    expect(result.before.ppk).toBeCloseTo(before.ppk, 12)
  })

  it('counts the NCs of each window, per day', () => {
    const { before, after, window } = effectiveness(baseInput())
    expect(window).toEqual({
      before: { from: T - WINDOW, to: T },
      after: { from: T, to: T + WINDOW },
    })
    expect([before.ncs, before.ncsPerDay]).toEqual([3, 0.6])
    expect([after.ncs, after.ncsPerDay]).toEqual([1, 0.2])
  })

  it('improved: Cpk rose and the NC rate did not', () => {
    const result = effectiveness(baseInput())
    expect(result.verdict).toBe('improved')
    expect(result.why).toBe('improved: Cpk 1.12 → 2.25, NCs per day 0.60 → 0.20')
  })

  it('not improved when the NC rate rose, even with a better Cpk', () => {
    const input = baseInput()
    const result = effectiveness({
      ...input,
      ncOpenedAt: [...input.ncOpenedAt, T + DAY, T + 2 * DAY, T + 4 * DAY],
    })
    expect(result.after.ncsPerDay).toBeCloseTo(0.8, 12)
    expect(result.verdict).toBe('not improved')
  })

  it('not improved when Cpk fell', () => {
    const input = baseInput()
    const result = effectiveness({
      ...input,
      readings: input.readings.map((r) => ({ ...r, ts: 2 * T - r.ts - HOUR })),
    })
    // Mirrored in time: the wide readings now come after, the narrow before.
    expect(result.before.cpk!).toBeGreaterThan(result.after.cpk!)
    expect(result.verdict).toBe('not improved')
  })

  it(`'not enough data' below ${EFFECTIVENESS_MIN_READINGS} readings on a side, a verdict at 25`, () => {
    const input = baseInput()
    const short = { ...input, readings: input.readings.slice(0, -1) }
    const result = effectiveness(short)
    expect(result.after.n).toBe(24)
    expect(result.verdict).toBe('not enough data')
    expect(result.why).toBe('too few readings: 25 before and 24 after (25 needed on each side)')
    expect(effectiveness(input).verdict).not.toBe('not enough data')
  })

  it("'not enough data' without a specification limit or without variation", () => {
    expect(effectiveness({ ...baseInput(), spec: {} }).verdict).toBe('not enough data')
    const flat = baseInput().readings.map((r) => ({ ...r, value: 10 }))
    expect(effectiveness({ ...baseInput(), readings: flat }).verdict).toBe('not enough data')
  })

  it('reads the windows as [from, to): a reading at the implementation time is after', () => {
    const input = baseInput()
    const extra = [
      { ts: T - WINDOW - 1, value: 100 }, // before the before window
      { ts: T + WINDOW, value: 100 }, // the end of the after window is excluded
      { ts: T + 30 * HOUR, value: Number.NaN }, // not a reading
    ]
    const result = effectiveness({ ...input, readings: [...input.readings, ...extra] })
    expect([result.before.n, result.after.n]).toEqual([25, 25])
    expect(result.after.cpk).toBeCloseTo(effectiveness(input).after.cpk!, 12)
  })

  it('takes the moving ranges in time order, whatever order the readings come in', () => {
    const input = baseInput()
    const shuffled = [...input.readings].reverse()
    expect(effectiveness({ ...input, readings: shuffled })).toEqual(effectiveness(input))
  })

  it('a one-sided specification gives the index of its side', () => {
    const result = effectiveness({ ...baseInput(), spec: { usl: 16 } })
    expect(result.before.cpk).toBeCloseTo((16 - 9.96) / (3 * Math.sqrt(Math.PI)), 12)
  })

  it('refuses an invalid specification or window', () => {
    expect(() => effectiveness({ ...baseInput(), spec: { lsl: 16, usl: 4 } })).toThrow(RangeError)
    expect(() => effectiveness({ ...baseInput(), windowMs: 0 })).toThrow(RangeError)
    expect(() => effectiveness({ ...baseInput(), implementedAt: Number.NaN })).toThrow(RangeError)
  })
})

import { describe, expect, it } from 'vitest'
import {
  actionFailureText,
  applyNcListEvents,
  attachmentProblem,
  auditChanges,
  buildCapaAction,
  buildCapaPlan,
  buildNcAction,
  capaActionsFor,
  capaNumber,
  capaRoleNote,
  capaSigningLost,
  customKpiRange,
  dateTimeInputToMs,
  downloadName,
  dueText,
  effectivenessRows,
  formatBytes,
  formatDays,
  formatIndex,
  formatRate,
  formatUtc,
  hasRole,
  historyPath,
  linkableCapas,
  listWords,
  matchesNcFilter,
  missingRoleText,
  msToDateTimeInput,
  NC_LIST_FILTER,
  type NcListItem,
  ncActionsFor,
  ncIdOf,
  ncListQuery,
  ncNumber,
  ncRoleNote,
  ncSigningLost,
  ncSignMeaningsFor,
  newPasswordProblem,
  orderCapas,
  orderNcList,
  paretoBars,
  qualityKpiRange,
  reasonProblem,
  signatureNote,
  signerNote,
  signInFailureText,
  userRole,
  versionOf,
  waitWords,
} from '../dashboard/src/data/quality.ts'
import { parseRoute, routeHash, safeNext, signInRoute } from '../dashboard/src/data/route.ts'
import type { CapaView, Effectiveness } from '../gateway/contract.ts'
import {
  applyNcAction,
  NC_ACTIONS,
  NC_STATUSES,
  type NcAction,
  type NcActionName,
  type NcCase,
  newNcCase,
} from '../rules/quality/nc-workflow.ts'
import { USER_ROLES } from '../rules/quality/roles.ts'

/**
 * The quality pages' display logic (dashboard/src/data/quality.ts, issue 9): what a role is
 * offered in a state, the forms' bodies and problems, the NC list's filter, and the words and
 * figures. Expected values are written out by hand.
 */

const DAY = 86_400_000
const utc = (iso: string) => Date.parse(iso)

/** An NC summary as the gateway sends it, with what a test changes. */
function nc(
  id: number,
  patch: Partial<NcListItem['workflow']> = {},
  lastAt = 1_000 + id,
): NcListItem {
  return {
    id,
    number: ncNumber(id),
    characteristic: 'fill',
    characteristicName: 'Fill weight',
    path: 'Plant/Filling/Line 1/Filler',
    cause: 'action-high',
    causes: ['action-high'],
    title: 'Fill weight above the action limit',
    status: patch.status ?? 'open',
    workflow: {
      status: 'open',
      severity: null,
      owner: null,
      dueAt: null,
      overdue: false,
      ...patch,
    },
    recurrenceOf: null,
    openedAt: 1_000,
    lastAt,
    occurrences: 1,
    trigger: { ts: 1_000, value: 506.5, limit: 505, rule: null, pane: null, runLength: null },
  }
}

function capa(id: number, patch: Partial<CapaView> = {}): CapaView {
  return {
    id: `CAPA-${String(id).padStart(6, '0')}`,
    status: 'open',
    title: `Action ${id}`,
    kind: 'corrective',
    owner: 'qe',
    dueAt: 10 * DAY,
    ncs: ['NC-000001'],
    openedAt: id * 1000,
    implementedAt: null,
    verification: null,
    approvedAt: null,
    closedAt: null,
    signatures: [],
    overdue: false,
    signatureViews: [],
    comments: [],
    effectiveness: [],
    ...patch,
  }
}

describe('roles', () => {
  it('reads the roles of issue 9, the former engineer as a quality engineer, and nothing else', () => {
    expect(userRole('quality-manager')).toBe('quality-manager')
    expect(userRole('engineer')).toBe('quality-engineer')
    expect(userRole('root')).toBeNull()
    expect(userRole(null)).toBeNull()
    expect(hasRole('quality-manager', 'quality-engineer')).toBe(true)
    expect(hasRole('operator', 'quality-engineer')).toBe(false)
    expect(hasRole('admin', 'quality-manager')).toBe(true)
    expect(hasRole(null, 'viewer')).toBe(false)
    expect(hasRole('root', 'viewer')).toBe(false)
  })

  it('says what a page needs when the role lacks it', () => {
    expect(missingRoleText('quality-manager', 'quality-manager')).toBeNull()
    expect(missingRoleText('admin', 'quality-manager')).toBeNull()
    expect(missingRoleText('viewer', 'quality-manager')).toBe(
      'This page needs the quality-manager role (or higher); your role is viewer. Sign in as someone who has it.',
    )
    expect(missingRoleText(null, 'quality-engineer', 'The audit trail')).toBe(
      'The audit trail needs the quality-engineer role (or higher); you are not signed in. Sign in as someone who has it.',
    )
  })
})

describe('the NC actions a role is offered', () => {
  it('offers by state and role, in the page order', () => {
    expect(ncActionsFor('open', 'viewer')).toEqual([])
    expect(ncActionsFor('open', null)).toEqual([])
    expect(ncActionsFor('open', 'operator')).toEqual(['comment'])
    expect(ncActionsFor('open', 'quality-engineer')).toEqual([
      'investigate',
      'assign',
      'set-severity',
      'containment',
      'affected-lots',
      'link-capa',
      'comment',
    ])
    expect(ncActionsFor('investigating', 'quality-engineer')).toEqual([
      'assign',
      'set-severity',
      'containment',
      'root-cause',
      'affected-lots',
      'disposition',
      'link-capa',
      'comment',
    ])
    // Closing needs the quality manager.
    expect(ncActionsFor('dispositioned', 'quality-engineer')).not.toContain('close')
    expect(ncActionsFor('dispositioned', 'quality-manager')).toEqual([
      'assign',
      'set-severity',
      'containment',
      'root-cause',
      'affected-lots',
      'disposition',
      'link-capa',
      'close',
      'comment',
    ])
    expect(ncActionsFor('closed', 'quality-manager')).toEqual(['reopen', 'comment'])
    expect(ncActionsFor('closed', 'admin')).toEqual(['reopen', 'comment'])
    expect(ncActionsFor('closed', 'quality-engineer')).toEqual(['comment'])
    // A token configured before issue 9 as an engineer.
    expect(ncActionsFor('open', 'engineer')).toEqual(ncActionsFor('open', 'quality-engineer'))
  })

  it('offers exactly what the workflow rules let through their role and state checks', () => {
    const bodies: Record<NcActionName, NcAction> = {
      investigate: { action: 'investigate', owner: 'qe', dueAt: 10 * DAY },
      assign: { action: 'assign', owner: 'qe', dueAt: 10 * DAY },
      'set-severity': { action: 'set-severity', severity: 'major' },
      containment: { action: 'containment', text: 'Quarantine' },
      'root-cause': { action: 'root-cause', whys: ['worn nozzle'], fishbone: {} },
      'affected-lots': { action: 'affected-lots', lots: ['L1'] },
      disposition: { action: 'disposition', decision: 'rework', justification: 'ok' },
      close: { action: 'close' },
      reopen: { action: 'reopen', reason: 'recurred' },
      comment: { action: 'comment', text: 'seen' },
      'link-capa': { action: 'link-capa', capa: 'CAPA-000001' },
    }
    for (const status of NC_STATUSES) {
      const nc: NcCase = {
        ...newNcCase(),
        status,
        rootCause: { whys: ['a'], fishbone: emptyFishbone() },
      }
      for (const role of USER_ROLES) {
        const offered = ncActionsFor(status, role)
        for (const name of NC_ACTIONS) {
          const result = applyNcAction(nc, bodies[name], { user: 'u', role }, DAY)
          const refusedByRoleOrState =
            'refused' in result && (result.status === 403 || result.status === 409)
          expect(
            offered.includes(name),
            `${name} by ${role} on an NC ${status}: ${'refused' in result ? result.refused : 'applied'}`,
          ).toBe(!refusedByRoleOrState)
        }
      }
    }
  })

  it('says which actions the role lacks, grouped by the role they need', () => {
    expect(ncRoleNote('open', 'viewer')).toBe(
      'Your role (viewer) may not act on this NC as it stands: commenting needs the operator role; investigating, assigning, setting the severity, recording containment, recording affected lots and linking a CAPA need the quality-engineer role.',
    )
    expect(ncRoleNote('dispositioned', 'quality-engineer')).toBe(
      'Your role (quality-engineer) may not act on this NC as it stands: closing under signature needs the quality-manager role.',
    )
    expect(ncRoleNote('closed', 'operator')).toBe(
      'Your role (operator) may not act on this NC as it stands: reopening needs the quality-manager role.',
    )
    expect(ncRoleNote('closed', 'quality-manager')).toBeNull()
    expect(ncRoleNote('open', null)).toMatch(/^Your role \(none\) may not act on this NC/)
  })

  it('offers reviewing to quality engineers and approving to quality managers, not on a closed NC', () => {
    expect(ncSignMeaningsFor('investigating', 'viewer')).toEqual([])
    expect(ncSignMeaningsFor('investigating', 'operator')).toEqual([])
    expect(ncSignMeaningsFor('investigating', 'quality-engineer')).toEqual(['reviewed'])
    expect(ncSignMeaningsFor('dispositioned', 'quality-manager')).toEqual(['reviewed', 'approved'])
    expect(ncSignMeaningsFor('closed', 'admin')).toEqual([])
  })

  it('offers no signing step without a signed-in user, and says why', () => {
    expect(ncActionsFor('dispositioned', 'quality-manager', false)).not.toContain('close')
    expect(ncActionsFor('dispositioned', 'quality-manager', false)).toContain('disposition')
    expect(ncSignMeaningsFor('dispositioned', 'quality-manager', false)).toEqual([])
    expect(ncSigningLost('dispositioned', 'quality-manager', false)).toEqual([
      'closing under signature',
      'signing as reviewed',
      'signing as approved',
    ])
    expect(ncSigningLost('dispositioned', 'quality-manager', true)).toEqual([])
    expect(ncSigningLost('open', 'viewer', false)).toEqual([])
    expect(signerNote(['closing under signature'])).toBe(
      'Closing under signature needs a signed-in user: an access token is not a person. Sign in with your user name and password to sign.',
    )
    expect(signerNote(['signing as reviewed', 'signing as approved'])).toBe(
      'Signing as reviewed and signing as approved need a signed-in user: an access token is not a person. Sign in with your user name and password to sign.',
    )
    expect(signerNote([])).toBeNull()
    const approved = capa(1, { status: 'approved' })
    expect(capaActionsFor(approved, 'quality-manager', false)).toEqual(['comment'])
    expect(capaSigningLost(approved, 'quality-manager', false)).toEqual(['closing under signature'])
  })

  it('lists words as a sentence does', () => {
    expect(listWords([])).toBe('')
    expect(listWords(['a'])).toBe('a')
    expect(listWords(['a', 'b'])).toBe('a and b')
    expect(listWords(['a', 'b', 'c'])).toBe('a, b and c')
  })
})

function emptyFishbone() {
  return {
    man: [],
    machine: [],
    method: [],
    material: [],
    measurement: [],
    environment: [],
  }
}

describe('the CAPA actions a role is offered', () => {
  it('offers by state, role and the verification found', () => {
    expect(capaActionsFor(capa(1), 'quality-engineer')).toEqual([
      'implement',
      'assign',
      'link-nc',
      'comment',
    ])
    expect(capaActionsFor(capa(1), 'operator')).toEqual(['comment'])
    expect(capaActionsFor(capa(1, { status: 'implemented' }), 'quality-engineer')).toEqual([
      'verify',
      'assign',
      'link-nc',
      'comment',
    ])
    const effective = { effective: true, notes: 'ok', at: 1, by: 'qe' }
    const notEffective = { ...effective, effective: false }
    // Verified as effective: approved next, not implemented again.
    expect(
      capaActionsFor(capa(1, { status: 'verified', verification: effective }), 'quality-manager'),
    ).toEqual(['approve', 'comment'])
    // Verified as not effective: a revised action is implemented, it cannot be approved.
    expect(
      capaActionsFor(
        capa(1, { status: 'verified', verification: notEffective }),
        'quality-manager',
      ),
    ).toEqual(['implement', 'comment'])
    expect(capaActionsFor(capa(1, { status: 'approved' }), 'quality-manager')).toEqual([
      'close',
      'comment',
    ])
    expect(capaActionsFor(capa(1, { status: 'approved' }), 'quality-engineer')).toEqual(['comment'])
    expect(capaActionsFor(capa(1, { status: 'closed' }), 'admin')).toEqual(['comment'])
    expect(capaActionsFor(capa(1), 'viewer')).toEqual([])
  })

  it('says what the role lacks on a CAPA', () => {
    expect(capaRoleNote(capa(1, { status: 'approved' }), 'quality-engineer')).toBe(
      'Your role (quality-engineer) may not act on this CAPA as it stands: closing under signature needs the quality-manager role.',
    )
    expect(capaRoleNote(capa(1), 'viewer')).toBe(
      'Your role (viewer) may not act on this CAPA as it stands: commenting needs the operator role; recording the implementation, assigning and linking an NC need the quality-engineer role.',
    )
    expect(capaRoleNote(capa(1, { status: 'closed' }), 'operator')).toBeNull()
  })
})

describe('the NC action forms', () => {
  const now = utc('2026-12-06T16:00:00Z')

  it('builds an investigation with owner, due date, severity and reason', () => {
    expect(
      buildNcAction(
        'investigate',
        {
          owner: ' qe ',
          dueAt: '2026-12-20T17:00',
          severity: 'major',
          reason: ' Line stopped ',
        },
        now,
        'utc',
      ),
    ).toEqual({
      body: {
        action: 'investigate',
        reason: 'Line stopped',
        owner: 'qe',
        dueAt: utc('2026-12-20T17:00:00Z'),
        severity: 'major',
      },
    })
    // No severity chosen: none sent.
    expect(
      buildNcAction(
        'investigate',
        { owner: 'qe', dueAt: '2026-12-20T17:00', severity: '', reason: 'Line stopped' },
        now,
        'utc',
      ),
    ).toEqual({
      body: {
        action: 'investigate',
        reason: 'Line stopped',
        owner: 'qe',
        dueAt: utc('2026-12-20T17:00:00Z'),
      },
    })
  })

  it('asks for a reason of at least 3 characters, except for a comment', () => {
    const investigate = { owner: 'qe', dueAt: '2026-12-20T17:00' }
    expect(buildNcAction('investigate', investigate, now, 'utc')).toEqual({
      problem: 'A reason is required.',
    })
    expect(buildNcAction('investigate', { ...investigate, reason: ' ab ' }, now, 'utc')).toEqual({
      problem: 'The reason must be at least 3 characters (it has 2).',
    })
    expect(reasonProblem('abc')).toBeNull()
    expect(buildNcAction('comment', { text: ' Checked the nozzle ' }, now)).toEqual({
      body: { action: 'comment', text: 'Checked the nozzle' },
    })
    expect(buildNcAction('comment', { text: ' ' }, now)).toEqual({
      problem: 'A comment needs its text.',
    })
  })

  it('refuses an owner missing or a due date missing or past', () => {
    const reason = 'Reassigned'
    expect(buildNcAction('assign', { reason, dueAt: '2026-12-20T17:00' }, now, 'utc')).toEqual({
      problem: 'An owner is required.',
    })
    expect(buildNcAction('assign', { reason, owner: 'qe' }, now, 'utc')).toEqual({
      problem: 'A due date is required.',
    })
    expect(
      buildNcAction('assign', { reason, owner: 'qe', dueAt: '2026-12-06T16:00' }, now, 'utc'),
    ).toEqual({ problem: 'The due date must be in the future.' })
  })

  it('builds a root cause: the whys in order without blanks, fishbone causes one per line', () => {
    expect(
      buildNcAction(
        'root-cause',
        {
          why1: 'Fill weight too high',
          why2: ' ',
          why3: 'Nozzle worn',
          'fishbone-machine': 'worn nozzle\n\n clogged filter ',
          'fishbone-method': '',
          reason: 'Investigation done',
        },
        now,
      ),
    ).toEqual({
      body: {
        action: 'root-cause',
        reason: 'Investigation done',
        whys: ['Fill weight too high', 'Nozzle worn'],
        fishbone: { machine: ['worn nozzle', 'clogged filter'] },
      },
    })
    expect(buildNcAction('root-cause', { reason: 'nothing found' }, now)).toEqual({
      problem: 'A root cause needs at least one why or one fishbone cause.',
    })
  })

  it('builds lots, containment, severity, disposition, a CAPA link, close, reopen and sign', () => {
    const reason = 'As found'
    expect(buildNcAction('affected-lots', { lots: 'L1, L2\nL1\n', reason }, now)).toEqual({
      body: { action: 'affected-lots', reason, lots: ['L1', 'L2'] },
    })
    expect(buildNcAction('containment', { text: 'Quarantine', reason }, now)).toEqual({
      body: { action: 'containment', reason, text: 'Quarantine' },
    })
    expect(buildNcAction('set-severity', { severity: 'huge', reason }, now)).toEqual({
      problem: 'Choose a severity: minor, major, critical.',
    })
    expect(buildNcAction('disposition', { reason, justification: 'x' }, now)).toEqual({
      problem: 'Choose a decision.',
    })
    expect(buildNcAction('disposition', { reason, decision: 'rework' }, now)).toEqual({
      problem: 'A disposition needs a justification.',
    })
    expect(
      buildNcAction('disposition', { reason, decision: 'scrap', justification: 'Unsafe' }, now),
    ).toEqual({
      body: { action: 'disposition', reason, decision: 'scrap', justification: 'Unsafe' },
    })
    expect(buildNcAction('link-capa', { capa: '3', reason }, now)).toEqual({
      body: { action: 'link-capa', reason, capa: 'CAPA-000003' },
    })
    expect(buildNcAction('link-capa', { capa: 'new', reason }, now)).toEqual({
      problem: 'Choose the CAPA to link.',
    })
    expect(buildNcAction('close', { reason: 'All done' }, now)).toEqual({
      body: { action: 'close', reason: 'All done' },
    })
    expect(buildNcAction('reopen', { reason: 'Recurred' }, now)).toEqual({
      body: { action: 'reopen', reason: 'Recurred' },
    })
    expect(buildNcAction('sign', { reason, meaning: 'reviewed' }, now)).toEqual({
      body: { action: 'sign', reason, meaning: 'reviewed' },
    })
    expect(buildNcAction('sign', { reason, meaning: 'closed' }, now)).toEqual({
      problem: 'Choose what the signature means: reviewed or approved.',
    })
  })
})

describe('the CAPA forms', () => {
  const now = utc('2026-12-06T16:00:00Z')

  it('builds each action or says what is missing', () => {
    const reason = 'Done as planned'
    expect(
      buildCapaAction('implement', { implementedAt: '2026-12-06T15:30', reason }, now, 'utc'),
    ).toEqual({ body: { action: 'implement', reason, implementedAt: utc('2026-12-06T15:30Z') } })
    expect(
      buildCapaAction('implement', { implementedAt: '2026-12-06T16:01', reason }, now, 'utc'),
    ).toEqual({ problem: 'The implementation cannot be in the future.' })
    expect(buildCapaAction('verify', { effective: 'yes', notes: ' Cpk up ', reason }, now)).toEqual(
      { body: { action: 'verify', reason, effective: true, notes: 'Cpk up' } },
    )
    expect(buildCapaAction('verify', { effective: 'no', notes: '', reason }, now)).toEqual({
      problem: 'A verification needs its notes.',
    })
    expect(buildCapaAction('verify', { notes: 'x', reason }, now)).toEqual({
      problem: 'Say whether the action was effective.',
    })
    expect(buildCapaAction('link-nc', { nc: 'NC-42', reason }, now)).toEqual({
      body: { action: 'link-nc', reason, nc: 'NC-000042' },
    })
    expect(buildCapaAction('approve', { reason }, now)).toEqual({
      body: { action: 'approve', reason },
    })
    expect(buildCapaAction('close', {}, now)).toEqual({ problem: 'A reason is required.' })
    expect(buildCapaAction('comment', { text: 'ok' }, now)).toEqual({
      body: { action: 'comment', text: 'ok' },
    })
  })

  it('plans a new CAPA answering the NC', () => {
    expect(
      buildCapaPlan(
        {
          title: ' Replace nozzles ',
          kind: 'corrective',
          owner: 'qe',
          dueAt: '2027-01-15T12:00',
          reason: 'Root cause: worn nozzle',
        },
        'NC-000001',
        now,
        'utc',
      ),
    ).toEqual({
      body: {
        title: 'Replace nozzles',
        kind: 'corrective',
        owner: 'qe',
        dueAt: utc('2027-01-15T12:00:00Z'),
        ncs: ['NC-000001'],
        reason: 'Root cause: worn nozzle',
      },
    })
    expect(buildCapaPlan({ kind: 'corrective' }, 'NC-000001', now)).toEqual({
      problem: 'A CAPA needs a title.',
    })
    expect(buildCapaPlan({ title: 't', kind: 'other' }, 'NC-000001', now)).toEqual({
      problem: 'Choose corrective or preventive.',
    })
  })

  it('names what the gateway refused, in its words', () => {
    expect(actionFailureText(401, 'the password does not match: not signed')).toBe(
      'Not signed: the password does not match: not signed',
    )
    expect(actionFailureText(409, 'cannot close an NC that is open: investigate it first')).toBe(
      'Not done: cannot close an NC that is open: investigate it first',
    )
    expect(actionFailureText(403, 'closing an NC needs the quality-manager role')).toBe(
      'Not allowed: closing an NC needs the quality-manager role',
    )
  })
})

describe('the NC list filter', () => {
  it('builds the query: not closed by default, owner and overdue when set', () => {
    expect(ncListQuery(NC_LIST_FILTER)).toEqual({
      status: 'open,investigating,dispositioned',
      owner: undefined,
      overdue: undefined,
      limit: 500,
    })
    expect(ncListQuery({ status: 'all', owner: ' qe ', overdue: true })).toEqual({
      status: undefined,
      owner: 'qe',
      overdue: 'true',
      limit: 500,
    })
    expect(ncListQuery({ status: 'closed', owner: '', overdue: false }, 50)).toEqual({
      status: 'closed',
      owner: undefined,
      overdue: undefined,
      limit: 50,
    })
  })

  it('matches an NC by status, owner and overdue', () => {
    const investigating = nc(1, { status: 'investigating', owner: 'qe', overdue: true })
    expect(matchesNcFilter(investigating, NC_LIST_FILTER)).toBe(true)
    expect(matchesNcFilter(nc(2, { status: 'closed' }), NC_LIST_FILTER)).toBe(false)
    expect(matchesNcFilter(investigating, { status: 'open', owner: '', overdue: false })).toBe(
      false,
    )
    expect(matchesNcFilter(investigating, { status: 'all', owner: 'qm', overdue: false })).toBe(
      false,
    )
    expect(matchesNcFilter(nc(3), { status: 'all', owner: '', overdue: true })).toBe(false)
  })

  it("filters by characteristic (a characteristic's open NCs): the query, the match, live events", () => {
    const onlyFill = { ...NC_LIST_FILTER, characteristic: 'fill' }
    expect(ncListQuery(onlyFill)).toEqual({
      status: 'open,investigating,dispositioned',
      characteristic: 'fill',
      limit: 500,
    })
    expect(ncListQuery({ ...NC_LIST_FILTER, characteristic: '' }).characteristic).toBeUndefined()
    const torque = { ...nc(2), characteristic: 'torque', characteristicName: 'Cap torque' }
    expect(matchesNcFilter(nc(1), onlyFill)).toBe(true)
    expect(matchesNcFilter(torque, onlyFill)).toBe(false)
    expect(matchesNcFilter(torque, NC_LIST_FILTER)).toBe(true)
    // Another characteristic's NC opened live stays out of this list.
    const after = applyNcListEvents(
      [nc(1)],
      [
        { type: 'opened', nc: torque },
        { type: 'opened', nc: nc(3) },
      ],
      onlyFill,
    )
    expect(after.map((n) => n.id)).toEqual([3, 1])
  })

  it('applies live events: a closed NC leaves the list, a new one enters, overdue first', () => {
    const list = [nc(1, { status: 'investigating' }), nc(2)]
    const after = applyNcListEvents(
      list,
      [
        { type: 'updated', nc: nc(1, { status: 'closed' }, 2_000) },
        { type: 'opened', nc: nc(3, { overdue: true }, 900) },
      ],
      NC_LIST_FILTER,
    )
    expect(after.map((n) => n.id)).toEqual([3, 2])
    // An event older than what is held does not undo it.
    expect(
      applyNcListEvents(
        [nc(1, { status: 'investigating' }, 5_000)],
        [{ type: 'updated', nc: nc(1, {}, 4_000) }],
        NC_LIST_FILTER,
      )[0]?.workflow.status,
    ).toBe('investigating')
    expect(orderNcList([nc(1, { status: 'closed' }, 9_000), nc(2)]).map((n) => n.id)).toEqual([
      2, 1,
    ])
  })
})

describe('words and figures', () => {
  it('numbers the records', () => {
    expect(ncNumber(42)).toBe('NC-000042')
    expect(ncIdOf('NC-000042')).toBe(42)
    expect(ncIdOf('42')).toBe(42)
    expect(ncIdOf('NC-0')).toBeNull()
    expect(ncIdOf('CAPA-000001')).toBeNull()
    expect(capaNumber(7)).toBe('CAPA-000007')
    expect(capaNumber('CAPA-000007')).toBe('CAPA-000007')
    expect(capaNumber('new')).toBeNull()
  })

  it('formats days, rates, indices and UTC times', () => {
    expect(formatDays(1.5 * DAY)).toBe('1.5 days')
    expect(formatDays(DAY)).toBe('1.0 day')
    expect(formatDays(0)).toBe('0.0 days')
    expect(formatDays(null)).toBe('—')
    expect(formatRate(0.125)).toBe('12.5 %')
    expect(formatRate(null)).toBe('—')
    expect(formatIndex(1.333)).toBe('1.33')
    expect(formatIndex(-0.5)).toBe('\u22120.50')
    expect(formatIndex(null)).toBe('—')
    expect(formatUtc(utc('2026-12-06T14:03:11.250Z'))).toBe('2026-12-06 14:03:11 UTC')
    expect(formatBytes(512)).toBe('512 B')
    expect(formatBytes(1536)).toBe('1.5 KiB')
    expect(formatBytes(11 * 1024 * 1024)).toBe('11.0 MiB')
  })

  it('says a due date and whether it has passed', () => {
    const due = utc('2026-12-10T12:00:00Z')
    expect(dueText(due, false, utc('2026-12-06T12:00:00Z'), 'UTC')).toBe(
      '2026-12-10 12:00 · in 4 days',
    )
    expect(dueText(due, false, utc('2026-12-10T08:00:00Z'), 'UTC')).toBe(
      '2026-12-10 12:00 · due today',
    )
    expect(dueText(due, true, utc('2026-12-12T13:00:00Z'), 'UTC')).toBe(
      '2026-12-10 12:00 · overdue by 2 days',
    )
    expect(dueText(due, true, utc('2026-12-10T13:00:00Z'), 'UTC')).toBe(
      '2026-12-10 12:00 · overdue',
    )
    // Past but closed: not overdue, no words.
    expect(dueText(due, false, utc('2026-12-12T13:00:00Z'), 'UTC')).toBe('2026-12-10 12:00')
    expect(dueText(null, false, 0)).toBe('—')
  })

  it('reads and writes datetime-local values', () => {
    expect(dateTimeInputToMs('2026-12-13T17:00', 'utc')).toBe(utc('2026-12-13T17:00:00Z'))
    expect(dateTimeInputToMs('2026-12-13T17:00:30', 'utc')).toBe(utc('2026-12-13T17:00:30Z'))
    expect(dateTimeInputToMs('2026-12-13T17:00')).toBe(new Date(2026, 11, 13, 17, 0).getTime())
    expect(dateTimeInputToMs('2026-13-01T00:00', 'utc')).toBeNull()
    expect(dateTimeInputToMs('tomorrow', 'utc')).toBeNull()
    expect(msToDateTimeInput(utc('2026-12-13T17:05:59Z'), 'utc')).toBe('2026-12-13T17:05')
    expect(msToDateTimeInput(new Date(2026, 0, 2, 3, 4).getTime())).toBe('2026-01-02T03:04')
  })

  it('says when a signature no longer holds', () => {
    expect(signatureNote({ holds: true, meaning: 'closed' })).toBeNull()
    expect(signatureNote({ holds: false, meaning: 'approved' })).toBe(
      'This signature (approved) does not hold: the record changed after it was signed; it signed an earlier version.',
    )
  })

  it('lists what an audit entry changed', () => {
    expect(
      auditChanges({
        before: { owner: null, status: 'open', severity: null },
        after: { owner: 'qe', status: 'investigating', severity: null },
      }),
    ).toEqual(['owner: null → qe', 'status: open → investigating'])
    // Times in UTC.
    expect(
      auditChanges({
        before: { dueAt: null, at: null },
        after: { dueAt: utc('2026-12-20T17:00:00Z'), at: utc('2026-12-06T14:03:11Z') },
      }),
    ).toEqual(['dueAt: null → 2026-12-20 17:00:00 UTC', 'at: null → 2026-12-06 14:03:11 UTC'])
    expect(auditChanges({ before: null, after: 'Checked' })).toEqual(['null → Checked'])
    expect(auditChanges({ before: null, after: null })).toEqual([])
    expect(auditChanges({ before: [1], after: [1, 2] })).toEqual(['[1] → [1,2]'])
    const long = 'x'.repeat(300)
    expect(auditChanges({ before: null, after: { text: long } })[0]).toBe(
      `text: null → ${'x'.repeat(159)}…`,
    )
  })

  it('refuses an attachment too large or missing', () => {
    expect(attachmentProblem(null)).toBe('Choose a file first.')
    expect(attachmentProblem({ name: 'a.pdf', size: 11 * 1024 * 1024 })).toBe(
      'The file is 11.0 MiB: at most 10 MiB may be attached.',
    )
    expect(attachmentProblem({ name: 'a.pdf', size: 10 * 1024 * 1024 })).toBeNull()
    expect(attachmentProblem({ name: 'Nozzle photo (1).jpg', size: 10 })).toBeNull()
    // The gateway keeps names of letters, digits, spaces and . _ - ( ) only.
    expect(attachmentProblem({ name: '../etc/passwd', size: 10 })).toBe(
      'The file name "../etc/passwd" cannot be kept: rename it to 1–128 letters, digits, spaces, . _ - ( ), starting with a letter or digit.',
    )
  })

  it('names the exports', () => {
    expect(historyPath('nc', 42, 'csv')).toBe('nonconformances/42/history.csv')
    expect(historyPath('capa', 'CAPA-000007', 'pdf')).toBe('capas/CAPA-000007/history.pdf')
    expect(downloadName('nc', 42, 'pdf')).toBe('NC-000042-history.pdf')
    expect(downloadName('capa', 'CAPA-000007', 'csv')).toBe('CAPA-000007-history.csv')
  })

  it('sets effectiveness before beside after', () => {
    const t = utc('2026-11-16T00:00:00Z')
    const e: Effectiveness = {
      window: { before: { from: t - 14 * DAY, to: t }, after: { from: t, to: t + 14 * DAY } },
      before: { n: 40, mean: 501, cpk: 0.81234, ppk: 0.7, ncs: 3, ncsPerDay: 3 / 14 },
      after: { n: 38, mean: 500.1, cpk: 1.456, ppk: null, ncs: 0, ncsPerDay: 0 },
      verdict: 'improved',
      why: 'improved: Cpk 0.81 → 1.46, NCs per day 0.21 → 0.00',
    }
    expect(effectivenessRows(e, 'UTC')).toEqual([
      {
        key: 'window',
        label: 'Window',
        before: '2026-11-02 00:00 – 2026-11-16 00:00',
        after: '2026-11-16 00:00 – 2026-11-30 00:00',
      },
      { key: 'n', label: 'Readings (n)', before: '40', after: '38' },
      { key: 'cpk', label: 'Cpk', before: '0.81', after: '1.46' },
      { key: 'ppk', label: 'Ppk', before: '0.70', after: '—' },
      { key: 'ncs', label: 'NCs per day', before: '0.21 (3)', after: '0.00 (0)' },
    ])
  })

  it('orders CAPAs: open by due date, closed last; offers only those still linkable', () => {
    const list = [
      capa(1, { status: 'closed', dueAt: 1 }),
      capa(2, { dueAt: 5 * DAY }),
      capa(3, { status: 'implemented', dueAt: 2 * DAY }),
    ]
    expect(orderCapas(list).map((c) => c.id)).toEqual(['CAPA-000003', 'CAPA-000002', 'CAPA-000001'])
    expect(linkableCapas(list, ['CAPA-000002']).map((c) => c.id)).toEqual(['CAPA-000003'])
  })

  it('changes a record’s version with its content', () => {
    expect(versionOf({ a: 1 })).toBe(versionOf({ a: 1 }))
    expect(versionOf({ a: 1 })).not.toBe(versionOf({ a: 2 }))
  })
})

describe('quality KPIs', () => {
  it('gives preset and custom ranges', () => {
    const now = utc('2026-12-06T16:00:00Z')
    expect(qualityKpiRange('7d', now)).toEqual({ from: utc('2026-11-29T16:00:00Z'), to: now })
    expect(qualityKpiRange('30d', now)).toEqual({ from: utc('2026-11-06T16:00:00Z'), to: now })
    // The last day is included: up to the start of the next.
    expect(customKpiRange('2026-11-01', '2026-11-30', 'utc')).toEqual({
      from: utc('2026-11-01T00:00:00Z'),
      to: utc('2026-12-01T00:00:00Z'),
    })
    expect(customKpiRange('2026-11-01', '2026-11-01', 'utc')).toEqual({
      from: utc('2026-11-01T00:00:00Z'),
      to: utc('2026-11-02T00:00:00Z'),
    })
    expect(customKpiRange('2026-11-30', '2026-11-01', 'utc')).toEqual({
      problem: 'The first date must not be after the last.',
    })
    expect(customKpiRange('', '2026-11-01', 'utc')).toEqual({ problem: 'Give both dates.' })
  })

  it('lays out a Pareto chart: bars on the total, the cumulative line on 100 %', () => {
    expect(
      paretoBars(
        [
          { name: 'action-high', count: 3, cumulativePercent: 75 },
          { name: 'alert-low', count: 1, cumulativePercent: 100 },
        ],
        200,
        100,
      ),
    ).toEqual([
      {
        name: 'action-high',
        count: 3,
        x: 15,
        width: 70,
        y: 25,
        height: 75,
        cx: 50,
        cy: 25,
        cumulativePercent: 75,
      },
      {
        name: 'alert-low',
        count: 1,
        x: 115,
        width: 70,
        y: 75,
        height: 25,
        cx: 150,
        cy: 0,
        cumulativePercent: 100,
      },
    ])
    expect(paretoBars([], 200, 100)).toEqual([])
  })
})

describe('sign-in', () => {
  it('shows the gateway’s words, and how long a lock lasts', () => {
    expect(signInFailureText(401, 'wrong user name or password', null)).toBe(
      'wrong user name or password',
    )
    expect(signInFailureText(429, 'sign-in is locked until 2026-12-06 16:30:00 UTC', 600)).toBe(
      'sign-in is locked until 2026-12-06 16:30:00 UTC (try again in 10 min)',
    )
    expect(signInFailureText(429, 'locked', 42)).toBe('locked (try again in 42 s)')
    expect(waitWords(0.2)).toBe('1 s')
    expect(waitWords(95)).toBe('2 min')
  })

  it('checks a new password before it is sent', () => {
    expect(newPasswordProblem('', 'a', 'a')).toBe('Give your current password.')
    expect(newPasswordProblem('old', '', '')).toBe('Give the new password.')
    expect(newPasswordProblem('old', 'new-one', 'new-on')).toBe(
      'The new password and its repetition differ.',
    )
    expect(newPasswordProblem('same', 'same', 'same')).toBe(
      'The new password must differ from the current one.',
    )
    expect(newPasswordProblem('old', 'new-one', 'new-one')).toBeNull()
  })

  it('routes sign-in with the page to come back to, and the quality pages', () => {
    expect(parseRoute('#/sign-in')).toEqual({ page: 'sign-in', next: null })
    expect(parseRoute('#/sign-in?next=%2Fnc%2F3')).toEqual({ page: 'sign-in', next: '/nc/3' })
    // Never elsewhere, never the sign-in page again.
    expect(parseRoute('#/sign-in?next=%2F%2Fevil.example')).toEqual({
      page: 'sign-in',
      next: null,
    })
    expect(parseRoute('#/sign-in?next=https%3A%2F%2Fevil.example')).toEqual({
      page: 'sign-in',
      next: null,
    })
    expect(safeNext('/sign-in?next=/x')).toBeNull()
    expect(signInRoute('#/nc/3')).toEqual({ page: 'sign-in', next: '/nc/3' })
    expect(signInRoute('')).toEqual({ page: 'sign-in', next: '/' })
    expect(routeHash({ page: 'sign-in', next: '/nc/3' })).toBe('#/sign-in?next=%2Fnc%2F3')
    expect(routeHash({ page: 'sign-in', next: null })).toBe('#/sign-in')
    expect(parseRoute('#/capa')).toEqual({ page: 'capas' })
    expect(parseRoute('#/capa/CAPA-000001')).toEqual({ page: 'capa', id: 'CAPA-000001' })
    expect(routeHash({ page: 'capa', id: 'CAPA-000001' })).toBe('#/capa/CAPA-000001')
    expect(parseRoute('#/capa/a b')).toEqual({ page: 'not-found', hash: '#/capa/a b' })
    expect(parseRoute('#/quality-kpis')).toEqual({ page: 'quality-kpis' })
    expect(parseRoute('#/password')).toEqual({ page: 'password' })
    expect(routeHash({ page: 'quality-kpis' })).toBe('#/quality-kpis')
    expect(routeHash({ page: 'password' })).toBe('#/password')
  })
})

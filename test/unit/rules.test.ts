import { describe, expect, it } from 'vitest';
import type { CaseState, Viewer } from '../../shared/domain.js';
import type { CaseId, ItemId, OrgId, PersonId, TableId, UserId } from '../../shared/ids.js';
import { docAccess, isChairOf, maySeeCase, maySeeItem } from '../../shared/rules/access.js';
import { maySeeNamed, namedIds, type DirectoryLookup } from '../../shared/rules/commands.js';
import { deltaFor, projectCase, summarise } from '../../shared/rules/projection.js';
import { bsnSchema, CommandSchemas, type CommandInput } from '../../shared/schemas.js';
import { authorizeCaseCommand, COMMANDS } from '../../server/cases/commands/index.js';
import { caseState, dir, item, look, person, U } from '../support/fixtures.js';

const cs = 'cs_1' as CaseId;
const code = (e: { code: string } | null) => e?.code ?? null;
const authorizeCreate = COMMANDS['case:create'].authorize;

describe('R-ROLE: only those with a role', () => {
  const c = caseState();
  it('R-ROLE: a named person of a participating organisation sees the case', () => {
    expect(maySeeCase(c, U.pol1!)).toBe(true);
    expect(maySeeCase(c, U.chair!)).toBe(true);
  });
  it('R-ROLE: a colleague of a participating organisation who is not named sees nothing', () => {
    expect(maySeeCase(c, U.pol2!)).toBe(false);
    expect(projectCase(c, U.pol2!, look, 'cur')).toBeNull();
    expect(summarise(c, U.pol2!, look, 'cur')).toBeNull();
  });
  it('R-ROLE: an organisation outside the case sees nothing, and gets NOT_FOUND for every command', () => {
    expect(maySeeCase(c, U.u1!)).toBe(false);
    expect(maySeeNamed(c, namedIds(COMMANDS['case:open'].names, { caseId: cs }), U.u1!)).toBe(false);
    expect(code(authorizeCaseCommand('item:add', { caseId: cs, phase: 'beeldvorming', text: 'x', visibility: { kind: 'table' } }, c, U.u1!, dir))).toBe(
      'NOT_FOUND',
    );
    expect(code(authorizeCaseCommand('case:setPhase', { caseId: cs, phase: 'oordelen' }, c, U.u1!, dir))).toBe('NOT_FOUND');
  });
});

describe('R-NEED: need to know', () => {
  const open = item('i1', 'pol');
  const onlyOm = item('i2', 'pol', { kind: 'orgs', orgIds: ['om' as OrgId] });
  const c = caseState([open, onlyOm]);
  it('R-NEED: an item for the whole table reaches every participant', () => {
    for (const v of [U.chair!, U.pol1!, U.ggz1!, U.om1!]) expect(maySeeItem(c, open, v)).toBe(true);
  });
  it('R-NEED: a restricted item reaches the contributor and the named organisations only', () => {
    expect(maySeeItem(c, onlyOm, U.pol1!)).toBe(true);
    expect(maySeeItem(c, onlyOm, U.om1!)).toBe(true);
    expect(maySeeItem(c, onlyOm, U.ggz1!)).toBe(false);
    expect(maySeeItem(c, onlyOm, U.chair!)).toBe(false);
    expect(projectCase(c, U.ggz1!, look, 'cur')!.items.map((i) => i.id)).toEqual(['i1']);
  });
  it('R-OWN: items of an organisation that left the table are seen by nobody', () => {
    const left = caseState([open], { participants: caseState().participants.filter((p) => p.orgId !== 'pol') });
    for (const v of [U.chair!, U.ggz1!, U.om1!]) expect(maySeeItem(left, open, v)).toBe(false);
  });
  it('R-NEED: a named organisation that left the table sees nothing of it', () => {
    const left = caseState([onlyOm], { participants: caseState().participants.filter((p) => p.orgId !== 'om') });
    expect(maySeeItem(left, onlyOm, U.om1!)).toBe(false);
  });
  it('R-NEED: restricting to an organisation not at the table is refused', () => {
    const err = authorizeCaseCommand(
      'item:add',
      { caseId: cs, phase: 'beeldvorming', text: 'x', visibility: { kind: 'orgs', orgIds: ['unsigned' as OrgId] } },
      c,
      U.pol1!,
      dir,
    );
    expect(code(err)).toBe('BAD_REQUEST');
  });
  it('R-NEED: the delta removes an item from whoever lost it and adds it for whoever gained it', () => {
    const widened = { ...onlyOm, visibility: { kind: 'orgs' as const, orgIds: ['ggz' as OrgId] } };
    const after = caseState([open, widened], { version: 2 });
    const touched = { meta: false, items: ['i2' as ItemId] };
    expect(deltaFor(c, after, touched, U.om1!, look, 'cur')).toEqual([{ op: 'itemRemoved', itemId: 'i2' }]);
    expect(deltaFor(c, after, touched, U.ggz1!, look, 'cur').map((o) => o.op)).toEqual(['item']);
    expect(deltaFor(c, after, touched, U.chair!, look, 'cur')).toEqual([]);
  });
});

describe('R-OWN: the contributor keeps control', () => {
  const c = caseState([item('i1', 'pol')]);
  it('R-OWN: only the contributing organisation edits, restricts or withdraws', () => {
    const id = 'i1' as ItemId;
    expect(authorizeCaseCommand('item:edit', { caseId: cs, itemId: id, text: 'y' }, c, U.pol1!, dir)).toBeNull();
    expect(code(authorizeCaseCommand('item:edit', { caseId: cs, itemId: id, text: 'y' }, c, U.ggz1!, dir))).toBe('FORBIDDEN');
    expect(code(authorizeCaseCommand('item:withdraw', { caseId: cs, itemId: id }, c, U.chair!, dir))).toBe('FORBIDDEN');
    expect(code(authorizeCaseCommand('item:setVisibility', { caseId: cs, itemId: id, visibility: { kind: 'table' } }, c, U.om1!, dir))).toBe('FORBIDDEN');
  });
  it('R-OWN: a withdrawn item is gone for everyone', () => {
    const w = caseState([item('i1', 'pol', { kind: 'table' }, { status: 'withdrawn' })]);
    for (const v of [U.chair!, U.pol1!, U.ggz1!]) expect(projectCase(w, v, look, 'cur')!.items).toEqual([]);
  });
});

describe('R-BOB: picture, judgement, decision', () => {
  const c = caseState();
  it('R-BOB: only the chair of this case moves the phase', () => {
    expect(authorizeCaseCommand('case:setPhase', { caseId: cs, phase: 'oordelen' }, c, U.chair!, dir)).toBeNull();
    expect(code(authorizeCaseCommand('case:setPhase', { caseId: cs, phase: 'oordelen' }, c, U.pol1!, dir))).toBe('FORBIDDEN');
    // A house chair who is not this case's chair cannot either.
    expect(isChairOf(c, U.chair2!)).toBe(false);
    expect(code(authorizeCaseCommand('case:setPhase', { caseId: cs, phase: 'oordelen' }, c, U.chair2!, dir))).toBe('NOT_FOUND');
  });
  it('R-BOB: the phases are gone through one step at a time', () => {
    expect(code(authorizeCaseCommand('case:setPhase', { caseId: cs, phase: 'besluiten' }, c, U.chair!, dir))).toBe('WRONG_PHASE');
    const judging = caseState([], { phase: 'oordelen' });
    expect(authorizeCaseCommand('case:setPhase', { caseId: cs, phase: 'beeldvorming' }, judging, U.chair!, dir)).toBeNull();
    expect(authorizeCaseCommand('case:setPhase', { caseId: cs, phase: 'besluiten' }, judging, U.chair!, dir)).toBeNull();
  });
  it('R-BOB: an item belongs to a phase the case has reached', () => {
    expect(code(authorizeCaseCommand('item:add', { caseId: cs, phase: 'besluiten', text: 'x', visibility: { kind: 'table' } }, c, U.pol1!, dir))).toBe(
      'WRONG_PHASE',
    );
    const later = caseState([], { phase: 'besluiten' });
    expect(authorizeCaseCommand('item:add', { caseId: cs, phase: 'besluiten', text: 'x', visibility: { kind: 'table' } }, later, U.pol1!, dir)).toBeNull();
  });
});

describe('R-INFORM: each person is informed', () => {
  const c = caseState([], { persons: [person('prs_1'), person('prs_2')] });
  const pid = 'prs_1' as PersonId;
  const done = { status: 'done' as const, informerOrgId: 'pol' as OrgId, dueDate: '2026-12-01' };
  const set = (s: CaseState, informing: CommandInput<'person:setInforming'>['informing'], who: Viewer, personId = pid) =>
    authorizeCaseCommand('person:setInforming', { caseId: cs, personId, informing }, s, who, dir);
  it('R-INFORM: the informing organisation may mark it done, nothing else', () => {
    expect(set(c, done, U.pol1!)).toBeNull();
    expect(code(set(c, { ...done, dueDate: '2027-01-01' }, U.pol1!))).toBe('FORBIDDEN');
    expect(code(set(c, done, U.ggz1!))).toBe('FORBIDDEN');
  });
  it('R-INFORM: a postponement by the chair cannot be overruled by the informing organisation', () => {
    const was = c.persons[0]!.informing;
    const postponed = caseState([], {
      persons: [person('prs_1', { informing: { ...was, status: 'postponed', ground: 'onderzoek', reviewDate: '2027-01-01' } })],
    });
    expect(code(set(postponed, done, U.pol1!))).toBe('FORBIDDEN');
  });
  it('R-INFORM: a postponement is reviewed on a day still to come', () => {
    const postpone = (reviewDate: string) => ({ ...done, status: 'postponed' as const, ground: 'onderzoek', reviewDate });
    expect(set(c, postpone('2026-12-08'), U.chair!)).toBeNull();
    expect(code(set(c, postpone('2026-12-07'), U.chair!))).toBe('BAD_REQUEST');
    expect(code(set(c, postpone('2026-11-01'), U.chair!))).toBe('BAD_REQUEST');
  });
  it('R-INFORM: dates are real calendar days', () => {
    const parse = (reviewDate: string) =>
      CommandSchemas['person:setInforming'].safeParse({
        caseId: cs,
        personId: pid,
        informing: { status: 'postponed', informerOrgId: 'pol', dueDate: '2026-12-01', ground: 'x', reviewDate },
      }).success;
    expect(parse('2027-02-28')).toBe(true);
    expect(parse('2027-02-31')).toBe(false);
    expect(parse('2027-13-01')).toBe(false);
  });
  it('R-INFORM: the chair records who informs; it must be a participant', () => {
    const toGgz = { status: 'open' as const, informerOrgId: 'ggz' as OrgId, dueDate: '2026-12-10' };
    expect(set(c, toGgz, U.chair!)).toBeNull();
    expect(code(set(c, { ...toGgz, informerOrgId: 'unsigned' as OrgId }, U.chair!))).toBe('BAD_REQUEST');
  });
  it('R-INFORM: a person of another case, or none, is refused alike', () => {
    expect(set(c, done, U.chair!, 'prs_2' as PersonId)).toBeNull();
    const other = set(c, done, U.chair!, 'prs_elders' as PersonId);
    expect(other).toEqual(set(c, done, U.chair!, 'prs_onbekend' as PersonId));
    expect(code(other)).toBe('BAD_REQUEST');
  });
  it('R-INFORM: the informing organisation cannot be removed before another is chosen', () => {
    expect(code(authorizeCaseCommand('case:removeParticipant', { caseId: cs, orgId: 'pol' as OrgId }, c, U.chair!, dir))).toBe('BAD_REQUEST');
    expect(authorizeCaseCommand('case:removeParticipant', { caseId: cs, orgId: 'ggz' as OrgId }, c, U.chair!, dir)).toBeNull();
  });
  it('R-INFORM: the chair keeps the list of persons: one at least, nobody twice, a BSN only where the house records it', () => {
    const one = caseState();
    const remove = (s: CaseState, who: Viewer) => authorizeCaseCommand('person:remove', { caseId: cs, personId: pid }, s, who, dir);
    expect(code(remove(one, U.chair!))).toBe('BAD_REQUEST');
    expect(remove(c, U.chair!)).toBeNull();
    expect(code(remove(c, U.pol1!))).toBe('FORBIDDEN');
    const add = (p: CommandInput<'person:add'>['person'], d: DirectoryLookup = dir) =>
      authorizeCaseCommand('person:add', { caseId: cs, person: p, informerOrgId: 'pol' as OrgId, informDueDate: '2026-12-20' }, c, U.chair!, d);
    expect(add({ name: 'Kind B.', birthDate: '2019-05-11' })).toBeNull();
    expect(code(add({ name: 'persoon prs_1', birthDate: '1990-01-01' }))).toBe('BAD_REQUEST');
    expect(code(add({ name: 'Kind B.', birthDate: '2027-01-01' }))).toBe('BAD_REQUEST');
    expect(code(add({ name: 'Kind B.', birthDate: '2019-05-11', bsn: '111222333' }))).toBe('BAD_REQUEST');
    expect(add({ name: 'Kind B.', birthDate: '2019-05-11', bsn: '111222333' }, { ...dir, recordsBsn: true })).toBeNull();
  });
  it('R-INFORM: a BSN passes the eleven test', () => {
    expect(bsnSchema.safeParse('111222333').success).toBe(true);
    expect(bsnSchema.safeParse('123456789').success).toBe(false);
    expect(bsnSchema.safeParse('11122233').success).toBe(false);
  });
});

describe('R-PROTOCOL: only signatories', () => {
  const base = {
    tableId: 'tbl' as TableId,
    title: 'Casus Y',
    subjectNote: '',
    goal: 'doel',
    persons: [{ name: 'Betrokkene', birthDate: '1990-01-01' }],
    informDueDate: '2026-12-01',
  };
  const chairP = { orgId: 'zvh' as OrgId, role: 'voorzitter' as const, userIds: ['chair' as UserId] };
  it('R-PROTOCOL: a case cannot be created with an organisation that did not sign', () => {
    const participants = [chairP, { orgId: 'unsigned' as OrgId, role: 'aanmelder' as const, userIds: ['u1' as UserId] }];
    expect(code(authorizeCreate({ ...base, participants }, U.chair!, dir))).toBe('NOT_SIGNED');
  });
  it('R-PROTOCOL: nor can one be added later', () => {
    const c = caseState();
    const p = { orgId: 'unsigned' as OrgId, role: 'deelnemer' as const, userIds: ['u1' as UserId] };
    expect(code(authorizeCaseCommand('case:setParticipant', { caseId: cs, participant: p }, c, U.chair!, dir))).toBe('NOT_SIGNED');
  });
  it('R-ROLE: only a house chair creates a case, chairing it as voorzitter', () => {
    const participants = [chairP, { orgId: 'pol' as OrgId, role: 'aanmelder' as const, userIds: ['pol1' as UserId] }];
    expect(authorizeCreate({ ...base, participants }, U.chair!, dir)).toBeNull();
    expect(code(authorizeCreate({ ...base, participants }, U.pol1!, dir))).toBe('FORBIDDEN');
    expect(code(authorizeCreate({ ...base, participants }, U.chair2!, dir))).toBe('BAD_REQUEST');
    const wrongPerson = [chairP, { orgId: 'pol' as OrgId, role: 'aanmelder' as const, userIds: ['ggz1' as UserId] }];
    expect(code(authorizeCreate({ ...base, participants: wrongPerson }, U.chair!, dir))).toBe('BAD_REQUEST');
  });
});

describe('R-RETAIN: a closed case', () => {
  const closure = { decision: 'Afgerond.', closedOn: '2026-12-01', retainUntil: '2028-12-01', byUserId: 'chair' as UserId, at: 't', extensions: [] };
  const own = item('i1', 'pol');
  const others = item('i2', 'ggz');
  it('R-RETAIN: each keeps only its own contributions, texts read-only; take-home and the open meeting end', () => {
    const open = caseState([own, others]);
    const closed = caseState([own, others], { closure, meetingOpen: false });
    expect(maySeeItem(open, others, U.pol1!)).toBe(true);
    expect(maySeeItem(closed, others, U.pol1!)).toBe(false);
    expect(maySeeItem(closed, others, U.chair!)).toBe(false);
    expect(maySeeItem(closed, own, U.pol1!)).toBe(true);
    expect(docAccess(closed, { kind: 'item', itemId: own.id }, U.pol1!)).toBe('read');
    expect(docAccess(open, { kind: 'item', itemId: own.id }, U.pol1!)).toBe('write');
  });
  it('R-ACCESS: a contributor restricts its own item for art. 15, withdrawn or in a closed case; another’s is refused as unknown', () => {
    const gone = item('i3', 'pol', { kind: 'table' }, { status: 'withdrawn' });
    const closed = caseState([own, others, gone], { closure });
    const restrict = (itemId: string, s: CaseState) =>
      authorizeCaseCommand('item:restrict', { caseId: cs, itemId: itemId as ItemId, ground: 'Onderzoek.' }, s, U.pol1!, dir);
    expect(restrict('i1', closed)).toBeNull();
    expect(restrict('i3', closed)).toBeNull();
    expect(restrict('i2', closed)).toEqual(restrict('i_onbekend', closed));
    expect(code(restrict('i2', closed))).toBe('NOT_FOUND');
  });

  it('R-RETAIN: a closed case takes no command but a later purge day, by its chair', () => {
    const closed = caseState([own], { closure });
    expect(code(authorizeCaseCommand('item:withdraw', { caseId: cs, itemId: own.id }, closed, U.pol1!, dir))).toBe('CONFLICT');
    expect(code(authorizeCaseCommand('case:close', { caseId: cs, decision: 'x', closedOn: '2026-12-01' }, closed, U.chair!, dir))).toBe('CONFLICT');
    const extend = (until: string, who: Viewer) => authorizeCaseCommand('case:extendRetention', { caseId: cs, until, reason: 'Procedure.' }, closed, who, dir);
    expect(extend('2029-01-01', U.chair!)).toBeNull();
    expect(code(extend('2028-12-01', U.chair!))).toBe('BAD_REQUEST');
    expect(code(extend('2029-01-01', U.pol1!))).toBe('FORBIDDEN');
  });
  it('R-RETAIN: closing counts the term from the closing day, with the house’s term', () => {
    const idle = caseState([], { agenda: [], meetingOpen: false, createdAt: '2026-11-01T10:00:00.000Z' });
    const input = { caseId: cs, decision: 'Afgerond.', closedOn: '2026-12-07' };
    expect(authorizeCaseCommand('case:close', input, idle, U.chair!, dir)).toBeNull();
    expect(code(authorizeCaseCommand('case:close', { ...input, closedOn: '2026-12-08' }, idle, U.chair!, dir))).toBe('BAD_REQUEST');
    expect(code(authorizeCaseCommand('case:close', input, caseState(), U.chair!, dir))).toBe('BAD_REQUEST');
    // Dated so far back that its term has passed: it would be purged at once.
    const old = caseState([], { agenda: [], meetingOpen: false, createdAt: '2020-01-01T10:00:00.000Z' });
    expect(code(authorizeCaseCommand('case:close', { ...input, closedOn: '2024-01-01' }, old, U.chair!, dir))).toBe('BAD_REQUEST');
    expect(authorizeCaseCommand('case:close', { ...input, closedOn: '2025-01-01' }, old, U.chair!, dir)).toBeNull();
    const decided = COMMANDS['case:close'].decide(input, idle, U.chair!, 't', { ...dir, retentionDays: 10 });
    expect(decided.events).toEqual([{ type: 'case.closed', payload: { decision: 'Afgerond.', closedOn: '2026-12-07', retainUntil: '2026-12-17' } }]);
  });
});

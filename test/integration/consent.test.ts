import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseId, ConsentId, ItemId, MeetingId, OrgId } from '../../shared/ids.js';
import type { CaseMetaView, CasePatch, CaseView, ConsentView } from '../../shared/protocol.js';
import { TestClient } from '../support/client.js';
import { LeakOracle } from '../support/oracle.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { discuss } from '../support/meetings.js';

// R-REUSE, R-GOAL, R-TAKEHOME on a fresh case with four partners, each with real sockets.
let srv: TestServer;
const u: Record<string, TestClient> = {};
const opens: Record<string, { caseId: CaseId; data: unknown }[]> = {};
let caseId: CaseId;
let meetingId: MeetingId;
const item: Record<string, ItemId> = {};
const USERS = ['regisseur', 'politie', 'ggz', 'om', 'gemeente', 'veiligthuis'] as const;

/** The latest meta this client holds for the case (from its last open or patch). */
function meta(name: string): CaseMetaView {
  const c = u[name]!;
  for (let i = c.received.length - 1; i >= 0; i--) {
    const r = c.received[i]!;
    if (r.event !== 'case:patch') continue;
    const p = r.args[0] as CasePatch;
    if (p.caseId !== caseId) continue;
    for (let j = p.ops.length - 1; j >= 0; j--) {
      const op = p.ops[j]!;
      if (op.op === 'meta') return op.meta;
      if (op.op === 'snapshot') return op.view.meta;
    }
  }
  const o = opens[name]!.at(-1)!.data as { view: CaseView };
  return o.view.meta;
}

/** The items this client holds now, from its open answer and every patch after it. */
function board(name: string): Set<ItemId> {
  const c = u[name]!;
  const o = opens[name]!.at(-1)! as { caseId: CaseId; data: { view: CaseView }; seq: number };
  const ids = new Set(o.data.view.items.map((i) => i.id));
  for (const r of c.received) {
    if (r.event !== 'case:patch' || r.seq < o.seq) continue;
    const p = r.args[0] as CasePatch;
    if (p.caseId !== caseId) continue;
    for (const op of p.ops) {
      if (op.op === 'item') ids.add(op.item.id);
      if (op.op === 'itemRemoved') ids.delete(op.itemId);
      if (op.op === 'snapshot') {
        ids.clear();
        for (const i of op.view.items) ids.add(i.id);
      }
    }
  }
  return ids;
}

async function open(name: string): Promise<void> {
  const { ack, seq } = await u[name]!.cmdAt('case:open', { caseId });
  if (!ack.ok) throw new Error(`${name}: ${ack.error.code}`);
  (opens[name] ??= []).push({ caseId, data: ack.data, seq } as never);
}

/** Waits until every listed client has received everything sent so far. */
async function settle(): Promise<void> {
  await Promise.all(USERS.map((n) => u[n]!.cmd('case:leave', { caseId: 'cs_barrier' as CaseId })));
}

async function add(name: string, text: string, only?: string[]): Promise<ItemId> {
  const r = await u[name]!.cmd('item:add', {
    caseId,
    phase: 'beeldvorming',
    text,
    visibility: only ? { kind: 'orgs', orgIds: only as OrgId[] } : { kind: 'table' },
  });
  if (!r.ok) throw new Error(r.error.code);
  return r.data.itemId;
}

const code = (r: { ok: boolean; error?: { code: string } }) => (r.ok ? 'ok' : r.error!.code);

beforeAll(async () => {
  srv = await startTestServer({ commandsPerSecond: 10_000 });
  for (const n of USERS) u[n] = await TestClient.connect(srv.url, n);
  const created = await u.regisseur!.cmd('case:create', {
    tableId: 'tbl_topx' as never,
    title: 'Casus toestemming',
    subjectNote: '',
    goal: 'Overlast stoppen.',
    participants: [
      { orgId: 'org_zvh' as OrgId, role: 'voorzitter', userIds: ['usr_regisseur' as never] },
      { orgId: 'org_politie' as OrgId, role: 'aanmelder', userIds: ['usr_politie' as never] },
      { orgId: 'org_ggz' as OrgId, role: 'deelnemer', userIds: ['usr_ggz' as never] },
      { orgId: 'org_om' as OrgId, role: 'deelnemer', userIds: ['usr_om' as never] },
      { orgId: 'org_leeuwarden' as OrgId, role: 'deelnemer', userIds: ['usr_gemeente' as never] },
    ],
    persons: [{ name: 'Betrokkene', birthDate: '1990-01-01' }],
    informDueDate: '2026-12-31',
  });
  if (!created.ok) throw new Error(created.error.code);
  caseId = created.data.caseId;
  meetingId = await discuss(u.regisseur!, caseId);
  const openers = USERS.filter((x) => x !== 'veiligthuis');
  for (const n of openers) await open(n);
  // Presence is sent a moment after the last open; it must be in before the tests count messages.
  await Promise.all(
    openers.map((n) => u[n]!.waitFor((r) => r.event === 'presence:update' && (r.args[0] as { present: unknown[] }).present.length === openers.length)),
  );
  item.pol = await add('politie', 'Politie: meldingen van overlast.');
  item.polOm = await add('politie', 'Politie: alleen voor OM.', ['org_om']);
  item.ggz = await add('ggz', 'GGZ: eerder in zorg.');
  item.om = await add('om', 'OM: lopende zaak.');
  item.gem = await add('gemeente', 'Gemeente: schulden.');
  await settle();
});

afterAll(async () => {
  for (const c of Object.values(u)) c.close();
  await srv?.close();
});

const reuseOf = (name: string, itemId: ItemId): ConsentView | undefined =>
  meta(name).consents.find((r) => r.kind === 'reuse' && r.items.some((i) => i.itemId === itemId));

describe('R-REUSE: no automatic reuse', () => {
  let req: ConsentId;
  it('R-REUSE: a request reaches the contributor and those who see the item, live, and nobody else', async () => {
    const own = await u.ggz!.cmd('consent:request', { caseId, itemIds: [item.ggz!], purpose: 'eigen' });
    expect(code(own)).toBe('BAD_REQUEST');
    const hidden = await u.ggz!.cmd('consent:request', { caseId, itemIds: [item.polOm!], purpose: 'x' });
    expect(code(hidden)).toBe('NOT_FOUND');
    const r = await u.ggz!.cmd('consent:request', { caseId, itemIds: [item.pol!], purpose: 'Toeleiding naar behandeling' });
    if (!r.ok) throw new Error(r.error.code);
    req = r.data.requestId;
    await settle();
    expect(reuseOf('politie', item.pol!)?.items[0]).toMatchObject({ answer: null, orgId: 'org_politie' });
    expect(reuseOf('om', item.pol!)?.purpose).toBe('Toeleiding naar behandeling');
    expect(reuseOf('ggz', item.pol!)?.forOrgId).toBe('org_ggz');
    expect(u.veiligthuis!.received.some((x) => JSON.stringify(x.args).includes(req))).toBe(false);
    const summary = u.politie!.received.filter((x) => x.event === 'cases:upsert').at(-1)!.args[0] as { awaitingMyAnswer: number };
    expect(summary.awaitingMyAnswer).toBe(1);
  });

  it('R-NEED: activity around an item kept from a participant sends that participant nothing at all', async () => {
    const before = { ggz: u.ggz!.nextSeq, gemeente: u.gemeente!.nextSeq };
    const r = await u.om!.cmd('consent:request', { caseId, itemIds: [item.polOm!], purpose: 'Strafzaak' });
    expect(r.ok).toBe(true);
    await settle();
    expect(reuseOf('politie', item.polOm!)?.purpose).toBe('Strafzaak');
    expect(u.ggz!.received.filter((x) => x.seq >= before.ggz)).toEqual([]);
    expect(u.gemeente!.received.filter((x) => x.seq >= before.gemeente)).toEqual([]);
  });

  it('R-REUSE: only the contributing organisation answers, and a no needs a reason', async () => {
    expect(code(await u.ggz!.cmd('consent:answer', { caseId, requestId: req, answers: [{ itemId: item.pol!, answer: 'yes' }] }))).toBe('FORBIDDEN');
    expect(code(await u.om!.cmd('consent:answer', { caseId, requestId: req, answers: [{ itemId: item.pol!, answer: 'yes' }] }))).toBe('FORBIDDEN');
    expect(code(await u.politie!.cmd('consent:answer', { caseId, requestId: req, answers: [{ itemId: item.pol!, answer: 'no' }] }))).toBe('BAD_REQUEST');
    expect(code(await u.veiligthuis!.cmd('consent:answer', { caseId, requestId: req, answers: [{ itemId: item.pol!, answer: 'yes' }] }))).toBe('NOT_FOUND');
  });

  it('R-REUSE: the answer and its reason reach the asker live; a changed answer is a new record', async () => {
    const no = await u.politie!.cmd('consent:answer', { caseId, requestId: req, answers: [{ itemId: item.pol!, answer: 'no', reason: 'Lopend onderzoek.' }] });
    expect(no.ok).toBe(true);
    await settle();
    expect(reuseOf('ggz', item.pol!)!.items[0]).toMatchObject({ answer: 'no', reason: 'Lopend onderzoek.', byName: 'Jan Dijkstra' });
    expect((await u.politie!.cmd('consent:answer', { caseId, requestId: req, answers: [{ itemId: item.pol!, answer: 'yes' }] })).ok).toBe(true);
    await settle();
    expect(reuseOf('ggz', item.pol!)!.items[0]).toMatchObject({ answer: 'yes', reason: null });
    expect(
      srv.app.cases
        .get(caseId)!
        .consents.get(req)!
        .answers.map((a) => a.answer),
    ).toEqual(['no', 'yes']);
    await srv.app.access.flush();
    const log = await srv.app.store.readAccess({ caseId });
    expect(log.filter((x) => x.operation === 'consent:answer' && x.outcome === 'ok').length).toBe(2);
    expect(log.some((x) => x.operation === 'consent:answer' && x.outcome === 'denied' && x.userId === 'usr_ggz')).toBe(true);
  });
});

describe('R-GOAL: a changed goal needs fresh consent', () => {
  it('R-GOAL: proposing freezes the goal; every item is out of use for everyone but its contributor', async () => {
    expect((await u.regisseur!.cmd('case:setPhase', { caseId, phase: 'oordelen' })).ok).toBe(true);
    expect((await u.regisseur!.cmd('case:setPhase', { caseId, phase: 'besluiten' })).ok).toBe(true);
    expect(code(await u.politie!.cmd('goal:propose', { caseId, text: 'Nieuw doel' }))).toBe('FORBIDDEN');
    expect((await u.regisseur!.cmd('goal:propose', { caseId, text: 'Veiligheid van de buren herstellen.' })).ok).toBe(true);
    await settle();
    expect(board('ggz')).toEqual(new Set([item.ggz]));
    expect(board('om')).toEqual(new Set([item.om]));
    expect(board('politie')).toEqual(new Set([item.pol, item.polOm]));
    expect(board('regisseur')).toEqual(new Set());
    expect(meta('ggz').goal.version).toBe(1);
    expect(meta('ggz').goalProposal?.version).toBe(2);
    expect(code(await u.regisseur!.cmd('decision:add', { caseId, text: 'Besluit' }))).toBe('GOAL_FROZEN');
    expect(code(await u.ggz!.cmd('intervention:add', { caseId, what: 'Intake', orgId: 'org_ggz' as OrgId, itemIds: [] }))).toBe('GOAL_FROZEN');
    // A frozen item cannot be asked about either.
    expect(code(await u.ggz!.cmd('consent:request', { caseId, itemIds: [item.pol!], purpose: 'x' }))).toBe('NOT_FOUND');
  });

  it('R-GOAL: progress counts only items the viewer may know of, and is live for everyone', () => {
    // GGZ may know 4 items (not the police item meant for the OM), the OM all 5.
    expect(meta('ggz').goalProgress).toEqual({
      settled: 0,
      total: 4,
      waitingOrgIds: expect.arrayContaining(['org_politie', 'org_ggz', 'org_om', 'org_leeuwarden']),
    });
    expect(meta('om').goalProgress!.total).toBe(5);
  });

  it('R-GOAL: contributors reconfirm or withdraw; at the last one the goal is in force and items return', async () => {
    const goalReq = (name: string) => meta(name).consents.find((r) => r.kind === 'goal' && !r.closed)!;
    const polReq = goalReq('politie');
    expect(polReq.items.map((i) => i.itemId).sort()).toEqual([item.pol, item.polOm].sort());
    // Another organisation cannot answer for the police.
    expect(code(await u.ggz!.cmd('consent:answer', { caseId, requestId: polReq.id, answers: [{ itemId: item.pol!, answer: 'yes' }] }))).toBe('NOT_FOUND');
    expect(
      (
        await u.politie!.cmd('consent:answer', {
          caseId,
          requestId: polReq.id,
          answers: polReq.items.map((i) => ({ itemId: i.itemId, answer: 'yes' as const })),
        })
      ).ok,
    ).toBe(true);
    const ggzReq = goalReq('ggz');
    expect(
      (
        await u.ggz!.cmd('consent:answer', {
          caseId,
          requestId: ggzReq.id,
          answers: [{ itemId: item.ggz!, answer: 'no', reason: 'Niet nodig voor dit doel.' }],
        })
      ).ok,
    ).toBe(true);
    expect((await u.om!.cmd('consent:answer', { caseId, requestId: goalReq('om').id, answers: [{ itemId: item.om!, answer: 'yes' }] })).ok).toBe(true);
    await settle();
    expect(meta('ggz').goalProgress).toEqual({ settled: 3, total: 4, waitingOrgIds: ['org_leeuwarden'] });
    // Still frozen: the returns wait for the last one.
    expect(board('ggz')).toEqual(new Set());
    expect((await u.gemeente!.cmd('consent:answer', { caseId, requestId: goalReq('gemeente').id, answers: [{ itemId: item.gem!, answer: 'yes' }] })).ok).toBe(
      true,
    );
    await settle();
    expect(meta('ggz').goal).toEqual({ text: 'Veiligheid van de buren herstellen.', version: 2 });
    expect(meta('ggz').goalProposal).toBeNull();
    expect(board('ggz')).toEqual(new Set([item.pol, item.om, item.gem]));
    expect(board('om')).toEqual(new Set([item.pol, item.polOm, item.om, item.gem]));
    expect(srv.app.cases.get(caseId)!.items.get(item.pol!)!.goalVersion).toBe(2);
  });

  it('R-GOAL: the chair can cancel a proposal, which restores the goal and the items as they were', async () => {
    expect((await u.regisseur!.cmd('goal:propose', { caseId, text: 'Een ander doel.' })).ok).toBe(true);
    const during = await add('politie', 'Politie: tijdens doelwijziging.');
    await settle();
    expect(board('om').has(during)).toBe(false);
    expect((await u.regisseur!.cmd('goal:cancel', { caseId })).ok).toBe(true);
    await settle();
    expect(meta('om').goal.version).toBe(2);
    expect(board('om')).toEqual(new Set([item.pol, item.polOm, item.om, item.gem, during]));
    expect(code(await u.regisseur!.cmd('goal:cancel', { caseId }))).toBe('BAD_REQUEST');
  });
});

describe('R-TAKEHOME: take home only what your intervention needs', () => {
  it('R-TAKEHOME: an intervention’s needed items of others become take-home requests to their contributors', async () => {
    expect((await u.regisseur!.cmd('decision:add', { caseId, text: 'We zetten in op behandeling en begeleiding.' })).ok).toBe(true);
    // GGZ was not chosen for the OM-only police item: an intervention cannot hand it over.
    const leak = await u.regisseur!.cmd('intervention:add', { caseId, what: 'x', orgId: 'org_ggz' as OrgId, itemIds: [item.polOm!] });
    expect(code(leak)).toBe('NOT_FOUND');
    const r = await u.regisseur!.cmd('intervention:add', {
      caseId,
      what: 'Intake en behandeling',
      orgId: 'org_ggz' as OrgId,
      dueDate: '2027-01-15',
      itemIds: [item.pol!, item.om!],
    });
    expect(r.ok).toBe(true);
    // A partner records interventions for itself only.
    expect(code(await u.om!.cmd('intervention:add', { caseId, what: 'x', orgId: 'org_ggz' as OrgId, itemIds: [] }))).toBe('FORBIDDEN');
    await settle();
    const th = meta('politie').consents.find((c) => c.kind === 'takehome')!;
    expect(th.forOrgId).toBe('org_ggz');
    // Everyone who may see the items sees the request; each contributor answers for its own.
    expect(th.items.map((i) => [i.itemId, i.orgId]).sort()).toEqual(
      [
        [item.pol, 'org_politie'],
        [item.om, 'org_om'],
      ].sort(),
    );
    expect(code(await u.politie!.cmd('consent:answer', { caseId, requestId: th.id, answers: [{ itemId: item.om!, answer: 'yes' }] }))).toBe('FORBIDDEN');
    expect((await u.politie!.cmd('consent:answer', { caseId, requestId: th.id, answers: [{ itemId: item.pol!, answer: 'yes' }] })).ok).toBe(true);
    expect(
      (await u.om!.cmd('consent:answer', { caseId, requestId: th.id, answers: [{ itemId: item.om!, answer: 'no', reason: 'Gevoelig strafdossier.' }] })).ok,
    ).toBe(true);
  });

  it('R-TAKEHOME: when the meeting closes each board shrinks, live, to own, consented and reused items', async () => {
    expect(code(await u.politie!.cmd('agenda:end', { caseId, meetingId }))).toBe('FORBIDDEN');
    expect((await u.regisseur!.cmd('agenda:end', { caseId, meetingId })).ok).toBe(true);
    await settle();
    // GGZ: no own active item (withdrawn under the goal change), the consented police item (also its reuse grant).
    expect(board('ggz')).toEqual(new Set([item.pol]));
    expect(board('om')).toEqual(new Set([item.om]));
    expect(board('gemeente')).toEqual(new Set([item.gem]));
    expect(board('regisseur')).toEqual(new Set());
    expect(meta('om').interventions).toEqual([]);
    expect(meta('ggz').interventions.map((i) => i.itemIds)).toEqual([[item.pol]]);
    expect(code(await u.regisseur!.cmd('decision:add', { caseId, text: 'na sluiting' }))).toBe('MEETING_CLOSED');
  });

  it('R-TAKEHOME: nothing else can be fetched afterwards by any route', async () => {
    await open('ggz');
    const view = (opens.ggz!.at(-1)!.data as { view: CaseView }).view;
    expect(view.items.map((i) => i.id)).toEqual([item.pol]);
    expect(code(await u.ggz!.cmd('item:edit', { caseId, itemId: item.gem!, text: 'x' }))).toBe('NOT_FOUND');
    expect(code(await u.ggz!.cmd('consent:request', { caseId, itemIds: [item.gem!], purpose: 'x' }))).toBe('NOT_FOUND');
    const since = (opens.ggz!.at(0)!.data as { view: CaseView }).view.cursor;
    const catchUp = await u.ggz!.cmd('case:open', { caseId, since });
    expect(JSON.stringify(catchUp)).not.toContain('Gemeente: schulden');
    expect(JSON.stringify(catchUp)).not.toContain('OM: lopende zaak');
  });

  it('R-TAKEHOME: discussing the case again in the meeting restores the table’s view', async () => {
    expect((await u.regisseur!.cmd('agenda:begin', { caseId, meetingId })).ok).toBe(true);
    await settle();
    for (const id of [item.pol, item.polOm, item.om, item.gem]) expect(board('om').has(id!)).toBe(true);
    expect(board('ggz').has(item.gem!)).toBe(true);
  });

  it('R-REUSE R-GOAL R-TAKEHOME: no message to any client carried what it was not entitled to', async () => {
    const oracle = new LeakOracle(srv.app);
    for (const n of USERS) {
      const user = srv.app.dir.userByUsername(n)!;
      await oracle.checkClient(u[n]!, { userId: user.id, orgId: user.orgId }, opens[n] ?? []);
    }
    expect(oracle.violations).toEqual([]);
  });
});

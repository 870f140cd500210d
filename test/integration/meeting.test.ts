import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseId, ItemId, OrgId, UserId } from '../../shared/ids.js';
import type { CasePatch, CaseSummary, CaseView, OpenResult, PresenceUpdate } from '../../shared/protocol.js';
import { ERROR_TEXT_NL } from '../../shared/errors.js';
import { TestClient } from '../support/client.js';
import { LeakOracle } from '../support/oracle.js';
import { startTestServer, type TestServer } from '../support/server.js';

// A scripted meeting on the demo case "Casus R.": partners of several organisations, a restricted
// item, visibility changes, a participant removed, someone outside the case trying to look in.
let srv: TestServer;
const clients: Record<string, TestClient> = {};
const opens: Record<string, { caseId: CaseId; data: unknown }[]> = {};
let caseR: CaseId;

const users = ['regisseur', 'politie', 'om', 'ggz', 'veiligthuis', 'thuisbegeleiding', 'reclassering'] as const;

async function open(name: string, caseId: CaseId): Promise<CaseView> {
  const r = await clients[name]!.cmd('case:open', { caseId });
  if (!r.ok) throw new Error(`${name} open: ${r.error.code}`);
  (opens[name] ??= []).push({ caseId, data: r.data });
  return (r.data as { view: CaseView }).view;
}

const patches = (c: TestClient, from = 0): CasePatch[] =>
  c.received.filter((r) => r.seq >= from && r.event === 'case:patch').map((r) => r.args[0] as CasePatch);

const waitItem = (c: TestClient, itemId: ItemId, from: number) =>
  c.waitFor((r) => r.event === 'case:patch' && (r.args[0] as CasePatch).ops.some((o) => o.op === 'item' && o.item.id === itemId), 5000, from);

const waitRemoved = (c: TestClient, itemId: ItemId, from: number) =>
  c.waitFor((r) => r.event === 'case:patch' && (r.args[0] as CasePatch).ops.some((o) => o.op === 'itemRemoved' && o.itemId === itemId), 5000, from);

beforeAll(async () => {
  srv = await startTestServer();
  for (const u of users) clients[u] = await TestClient.connect(srv.url, u);
  const snap = await clients.regisseur!.waitFor((r) => r.event === 'cases:snapshot');
  caseR = (snap.args[0] as CaseSummary[]).find((c) => c.title.startsWith('Casus R.'))!.id;
});

afterAll(async () => {
  for (const c of Object.values(clients)) c.close();
  await srv?.close();
});

describe('R-ROLE scripted meeting', () => {
  it('R-ROLE: each user lists only the cases its organisation and person take part in', async () => {
    const titles = async (u: string) => ((await clients[u]!.waitFor((r) => r.event === 'cases:snapshot')).args[0] as CaseSummary[]).map((c) => c.title).sort();
    expect(await titles('politie')).toEqual(['Casus R. (1991), Leeuwarden-Oost', 'Gezin B., Sneek']);
    expect(await titles('om')).toEqual(['Casus R. (1991), Leeuwarden-Oost', 'Casus T. (1984), Heerenveen']);
    expect(await titles('veiligthuis')).toEqual(['Gezin B., Sneek']);
    expect(await titles('thuisbegeleiding')).toEqual([]);
  });

  it('R-NEED: a restricted item reaches only the organisations named, from the first snapshot on', async () => {
    const pol = await open('politie', caseR);
    const om = await open('om', caseR);
    const ggz = await open('ggz', caseR);
    const chair = await open('regisseur', caseR);
    const restricted = pol.items.find((i) => i.text.includes('Lopend onderzoek'))!;
    expect(restricted.visibility).toEqual({ kind: 'orgs', orgIds: ['org_om'] });
    expect(om.items.some((i) => i.id === restricted.id)).toBe(true);
    expect(ggz.items.some((i) => i.id === restricted.id)).toBe(false);
    expect(chair.items.some((i) => i.id === restricted.id)).toBe(false);
    expect(ggz.items.length).toBe(4);
  });

  it('R-ROLE: someone outside the case gets the same NOT_FOUND as for a case that does not exist', async () => {
    const hidden = await clients.veiligthuis!.cmd('case:open', { caseId: caseR });
    const absent = await clients.veiligthuis!.cmd('case:open', { caseId: 'cs_doesnotexist' as CaseId });
    expect(hidden).toEqual({ ok: false, error: { code: 'NOT_FOUND', message: ERROR_TEXT_NL.NOT_FOUND } });
    expect(absent).toEqual(hidden);
    const add = await clients.veiligthuis!.cmd('item:add', { caseId: caseR, phase: 'beeldvorming', text: 'x', visibility: { kind: 'table' } });
    expect(add).toEqual(hidden);
  });

  it('R-NEED: items appear live for whom they are meant, and move with visibility changes', async () => {
    const from = Object.fromEntries(users.map((u) => [u, clients[u]!.nextSeq]));
    const added = await clients.ggz!.cmd('item:add', {
      caseId: caseR,
      phase: 'beeldvorming',
      text: 'GGZ ziet kansen voor een nieuwe intake.',
      visibility: { kind: 'table' },
    });
    expect(added.ok).toBe(true);
    const ggzItem = (added as { data: { itemId: ItemId } }).data.itemId;
    await Promise.all(['politie', 'om', 'regisseur', 'ggz'].map((u) => waitItem(clients[u]!, ggzItem, from[u]!)));

    const r = await clients.politie!.cmd('item:add', {
      caseId: caseR,
      phase: 'beeldvorming',
      text: 'Alleen voor het OM: nieuwe aangifte.',
      visibility: { kind: 'orgs', orgIds: ['org_om' as OrgId] },
    });
    const polItem = (r as { data: { itemId: ItemId } }).data.itemId;
    await waitItem(clients.om!, polItem, from.om!);
    await waitItem(clients.politie!, polItem, from.politie!);

    // Widen to the table: GGZ and the chair receive it.
    const f2 = Object.fromEntries(users.map((u) => [u, clients[u]!.nextSeq]));
    expect((await clients.politie!.cmd('item:setVisibility', { caseId: caseR, itemId: polItem, visibility: { kind: 'table' } })).ok).toBe(true);
    await waitItem(clients.ggz!, polItem, f2.ggz!);
    await waitItem(clients.regisseur!, polItem, f2.regisseur!);

    // Narrow to GGZ only: the OM and the chair lose it.
    const f3 = Object.fromEntries(users.map((u) => [u, clients[u]!.nextSeq]));
    await clients.politie!.cmd('item:setVisibility', { caseId: caseR, itemId: polItem, visibility: { kind: 'orgs', orgIds: ['org_ggz' as OrgId] } });
    await waitRemoved(clients.om!, polItem, f3.om!);
    await waitRemoved(clients.regisseur!, polItem, f3.regisseur!);
    await waitItem(clients.ggz!, polItem, f3.ggz!);

    // R-OWN: GGZ sees it but cannot change it; the OM cannot see it, so it does not exist for them.
    const ggzEdit = await clients.ggz!.cmd('item:edit', { caseId: caseR, itemId: polItem, text: 'gewijzigd' });
    expect(ggzEdit.ok ? null : ggzEdit.error.code).toBe('FORBIDDEN');
    const omEdit = await clients.om!.cmd('item:edit', { caseId: caseR, itemId: polItem, text: 'gewijzigd' });
    expect(omEdit.ok ? null : omEdit.error.code).toBe('NOT_FOUND');

    // R-OWN: the contributor withdraws it; it leaves every board.
    const f4 = clients.ggz!.nextSeq;
    expect((await clients.politie!.cmd('item:withdraw', { caseId: caseR, itemId: polItem })).ok).toBe(true);
    await waitRemoved(clients.ggz!, polItem, f4);
  });

  it('R-ROLE: presence lists only participants and reaches only participants', async () => {
    const u = await clients.ggz!.waitFor((r) => r.event === 'presence:update' && (r.args[0] as PresenceUpdate).present.length === 4);
    const names = (u.args[0] as PresenceUpdate).present.map((p) => p.orgId).sort();
    expect(names).toEqual(['org_ggz', 'org_om', 'org_politie', 'org_zvh']);
    expect(clients.veiligthuis!.received.some((r) => r.event === 'presence:update')).toBe(false);
  });

  it('R-ROLE: a removed participant loses the board, the list entry and presence at once', async () => {
    const fOm = clients.om!.nextSeq;
    const fGgz = clients.ggz!.nextSeq;
    expect((await clients.regisseur!.cmd('case:removeParticipant', { caseId: caseR, orgId: 'org_om' as OrgId })).ok).toBe(true);
    await clients.om!.waitFor((r) => r.event === 'case:patch' && (r.args[0] as CasePatch).ops.some((o) => o.op === 'revoked'), 5000, fOm);
    await clients.om!.waitFor((r) => r.event === 'cases:removed' && r.args[0] === caseR, 5000, fOm);
    await clients.ggz!.waitFor((r) => r.event === 'presence:update' && !(r.args[0] as PresenceUpdate).present.some((p) => p.orgId === 'org_om'), 5000, fGgz);
    const after = clients.om!.nextSeq;
    await clients.ggz!.cmd('item:add', { caseId: caseR, phase: 'beeldvorming', text: 'Na vertrek OM.', visibility: { kind: 'table' } });
    const again = await clients.om!.cmd('case:open', { caseId: caseR });
    expect(again.ok ? null : again.error.code).toBe('NOT_FOUND');
    expect(patches(clients.om!, after)).toEqual([]);
  });

  it('R-PROTOCOL: an organisation that did not sign the protocol cannot be added', async () => {
    const r = await clients.regisseur!.cmd('case:setParticipant', {
      caseId: caseR,
      participant: { orgId: 'org_walde' as OrgId, role: 'deelnemer', userIds: ['usr_thuisbegeleiding' as UserId] },
    });
    expect(r.ok ? null : r.error.code).toBe('NOT_SIGNED');
    const f = clients.reclassering!.nextSeq;
    const ok = await clients.regisseur!.cmd('case:setParticipant', {
      caseId: caseR,
      participant: { orgId: 'org_reclassering' as OrgId, role: 'deelnemer', userIds: ['usr_reclassering' as UserId] },
    });
    expect(ok.ok).toBe(true);
    await clients.reclassering!.waitFor((r) => r.event === 'cases:upsert' && (r.args[0] as CaseSummary).id === caseR, 5000, f);
  });

  it('R-BOB: only the chair moves the phase; items cannot be placed in a phase not yet reached', async () => {
    const notChair = await clients.politie!.cmd('case:setPhase', { caseId: caseR, phase: 'oordelen' });
    expect(notChair.ok ? null : notChair.error.code).toBe('FORBIDDEN');
    const early = await clients.politie!.cmd('item:add', { caseId: caseR, phase: 'besluiten', text: 'te vroeg', visibility: { kind: 'table' } });
    expect(early.ok ? null : early.error.code).toBe('WRONG_PHASE');
    const f = clients.politie!.nextSeq;
    expect((await clients.regisseur!.cmd('case:setPhase', { caseId: caseR, phase: 'oordelen' })).ok).toBe(true);
    await clients.politie!.waitFor(
      (r) => r.event === 'case:patch' && (r.args[0] as CasePatch).ops.some((o) => o.op === 'meta' && o.meta.phase === 'oordelen'),
      5000,
      f,
    );
  });

  it('R-INFORM: the informing organisation marks it done; postponing needs a ground; others may not', async () => {
    const due = '2026-12-04';
    const personId = [...srv.app.cases.all()].find((s) => s.id === caseR)!.persons[0]!.id;
    const ggz = await clients.ggz!.cmd('person:setInforming', {
      caseId: caseR,
      personId,
      informing: { status: 'done', informerOrgId: 'org_politie' as OrgId, dueDate: due },
    });
    expect(ggz.ok ? null : ggz.error.code).toBe('FORBIDDEN');
    const noGround = await clients.regisseur!.cmd('person:setInforming', {
      caseId: caseR,
      personId,
      informing: { status: 'postponed', informerOrgId: 'org_politie' as OrgId, dueDate: due } as never,
    });
    expect(noGround.ok ? null : noGround.error.code).toBe('BAD_REQUEST');
    const post = await clients.regisseur!.cmd('person:setInforming', {
      caseId: caseR,
      personId,
      informing: {
        status: 'postponed',
        informerOrgId: 'org_politie' as OrgId,
        dueDate: due,
        ground: 'Lopend strafrechtelijk onderzoek (AVG art. 23).',
        reviewDate: '2027-01-15',
      },
    });
    expect(post.ok).toBe(true);
    // A postponement is the chair's decision: the informing organisation cannot overrule it.
    const overrule = await clients.politie!.cmd('person:setInforming', {
      caseId: caseR,
      personId,
      informing: { status: 'done', informerOrgId: 'org_politie' as OrgId, dueDate: due },
    });
    expect(overrule.ok ? null : overrule.error.code).toBe('FORBIDDEN');
    expect(
      (
        await clients.regisseur!.cmd('person:setInforming', {
          caseId: caseR,
          personId,
          informing: { status: 'open', informerOrgId: 'org_politie' as OrgId, dueDate: due },
        })
      ).ok,
    ).toBe(true);
    const f = clients.ggz!.nextSeq;
    const done = await clients.politie!.cmd('person:setInforming', {
      caseId: caseR,
      personId,
      informing: { status: 'done', informerOrgId: 'org_politie' as OrgId, dueDate: due },
    });
    expect(done.ok).toBe(true);
    const m = await clients.ggz!.waitFor(
      (r) => r.event === 'case:patch' && (r.args[0] as CasePatch).ops.some((o) => o.op === 'meta' && o.meta.persons[0]!.informing.status === 'done'),
      5000,
      f,
    );
    const meta = (m.args[0] as CasePatch).ops.find((o) => o.op === 'meta')!;
    if (meta.op !== 'meta') throw new Error('no meta');
    expect(meta.meta.persons[0]!.informingHistory.map((h) => h.status)).toEqual(['open', 'postponed', 'open', 'done']);
    expect(meta.meta.persons[0]!.informingHistory[1]!.ground).toContain('art. 23');
  });

  it('R-FILE: every read and change is in the access log with the NEN 7513 fields', async () => {
    await srv.app.access.flush();
    const log = await srv.app.store.readAccess({ caseId: caseR });
    const change = log.find((r) => r.operation === 'item:withdraw')!;
    expect(change).toMatchObject({
      action: 'delete',
      userId: 'usr_politie',
      orgId: 'org_politie',
      role: 'aanmelder',
      purpose: expect.stringMatching(/^bespreking in overleg mt_/),
      outcome: 'ok',
    });
    expect(change.itemId).toMatch(/^it_/);
    expect(change.address).toMatch(/127\.0\.0\.1/);
    expect(log.some((r) => r.action === 'read' && r.userId === 'usr_om' && r.operation === 'case:open')).toBe(true);
    expect(log.some((r) => r.outcome === 'denied' && r.userId === 'usr_veiligthuis')).toBe(true);
  });

  it('R-ROLE R-NEED: no message to any client carried what it was not entitled to at that moment', async () => {
    const oracle = new LeakOracle(srv.app);
    for (const u of users) {
      const user = srv.app.dir.userByUsername(u)!;
      await oracle.checkClient(clients[u]!, { userId: user.id, orgId: user.orgId }, opens[u]);
    }
    expect(oracle.violations).toEqual([]);
    expect(oracle.checked).toBeGreaterThan(30);
  });
});

export type { OpenResult };

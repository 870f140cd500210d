import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMonths, houseDay } from '../../shared/day.js';
import type { CaseId, ItemId, OrgId } from '../../shared/ids.js';
import type { Art15ReportView, Art15RequestView, CasePatch } from '../../shared/protocol.js';
import { art15Purpose } from '../../server/privacy/art15.js';
import { TestClient } from '../support/client.js';
import { createCase, discuss } from '../support/meetings.js';
import { startTestServer, type TestServer } from '../support/server.js';

// R-ACCESS, AVG art. 15: for one person the privacy officer produces everything held on them in
// every case, with who brought each datum in, who was shown it and for what, and when it goes;
// a contributor's art. 23 restriction keeps an item's content out of the report. The request is
// registered (received, due in a month, delivered), and every step is in the access log.

let srv: TestServer;
const c: Record<string, TestClient> = {};
let topx: CaseId;
let hg: CaseId;
let shared: ItemId;
let restricted: ItemId;
let request: Art15RequestView;
const today = houseDay();
const PERSON = { name: 'Anna de Wit', birthDate: '1985-05-05' };
const orgName = (id: string): string => srv.app.dir.org(id as OrgId)!.name;

beforeAll(async () => {
  srv = await startTestServer();
  for (const u of ['regisseur', 'regisseur2', 'politie', 'ggz', 'om', 'privacy']) c[u] = await TestClient.connect(srv.url, u);
  topx = await createCase(
    c.regisseur!,
    'Casus W. (1985)',
    [
      ['zvh', 'voorzitter', 'regisseur'],
      ['politie', 'aanmelder', 'politie'],
      ['ggz', 'deelnemer', 'ggz'],
      ['om', 'deelnemer', 'om'],
    ],
    'tbl_topx',
    [PERSON, { name: 'Someone Else', birthDate: '1990-02-02' }],
  );
  // The same person at another table, written another way.
  hg = await createCase(
    c.regisseur2!,
    'Gezin W.',
    [
      ['zvh', 'voorzitter', 'regisseur2'],
      ['veiligthuis', 'aanmelder', 'veiligthuis'],
    ],
    'tbl_hg',
    [{ name: 'anna  DE wit', birthDate: '1985-05-05' }],
  );
  await discuss(c.regisseur!, topx);
  const add = async (u: string, text: string): Promise<ItemId> => {
    const r = await c[u]!.cmd('item:add', { caseId: topx, phase: 'beeldvorming', text, visibility: { kind: 'table' } });
    if (!r.ok) throw new Error(r.error.code);
    return r.data.itemId;
  };
  shared = await add('politie', 'Melding van overlast op 1 december.');
  restricted = await add('ggz', 'In behandeling bij het FACT-team.');
  // The OM asks to reuse it; the GGZ says no, with a reason that tells what the item holds.
  const asked = await c.om!.cmd('consent:request', { caseId: topx, itemIds: [restricted], purpose: 'Behandeling bij het FACT-team toetsen.' });
  if (!asked.ok) throw new Error(asked.error.code);
  const answered = await c.ggz!.cmd('consent:answer', {
    caseId: topx,
    requestId: asked.data.requestId,
    answers: [{ itemId: restricted, answer: 'no', reason: 'Behandelrelatie met het FACT-team.' }],
  });
  if (!answered.ok) throw new Error(answered.error.code);
  // The OM opens the case: it is shown both items, in the meeting.
  expect((await c.om!.cmd('case:open', { caseId: topx })).ok).toBe(true);
  expect((await c.ggz!.cmd('case:open', { caseId: topx })).ok).toBe(true);
});

afterAll(async () => {
  for (const cl of Object.values(c)) cl.close();
  await srv?.close();
});

describe('R-ACCESS: an art. 23 restriction', () => {
  it('R-ACCESS: only the contributor restricts its item, with a ground; nobody else is shown that anything happened', async () => {
    // Another's item is refused as an unknown one.
    const r = await c.politie!.cmd('item:restrict', { caseId: topx, itemId: restricted, ground: 'x' });
    expect(r.ok ? null : r.error.code).toBe('NOT_FOUND');
    const fromOm = c.om!.nextSeq;
    const fromGgz = c.ggz!.nextSeq;
    expect((await c.ggz!.cmd('item:restrict', { caseId: topx, itemId: restricted, ground: 'Grond: AVG art. 23 lid 1 onder i.' })).ok).toBe(true);
    const own = await c.ggz!.waitFor(
      (m) => m.event === 'case:patch' && (m.args[0] as CasePatch).ops.some((o) => o.op === 'item' && o.item.restrictedOn !== null),
      5000,
      fromGgz,
    );
    expect(JSON.stringify(own.args[0])).toContain('lid 1 onder i');
    // The OM's board hears nothing of it: a later change reaches it first.
    await c.regisseur!.cmd('case:setPhase', { caseId: topx, phase: 'oordelen' });
    await c.om!.waitFor((m) => m.event === 'case:patch' && JSON.stringify(m.args[0]).includes('oordelen'), 5000, fromOm);
    const seen = c.om!.received.slice(fromOm).filter((m) => m.event === 'case:patch');
    expect(seen.length).toBe(1);
    expect(JSON.stringify(seen)).not.toContain('lid 1 onder i');
  });
});

describe('R-ACCESS: the art. 15 report', () => {
  it('R-ACCESS: the privacy officer registers a request, due one month after receipt; a partner may not', async () => {
    const r = await c.privacy!.http<{ request: Art15RequestView }>('POST', '/api/privacy/requests', {
      personName: 'Anna de Wit',
      birthDate: '1985-05-05',
      receivedOn: today,
      note: 'Per brief.',
    });
    expect(r.status).toBe(201);
    request = r.body.request;
    expect(request).toMatchObject({ receivedOn: today, dueOn: addMonths(today, 1), deliveredOn: null, registeredBy: 'Sietske Hoogland' });
    expect((await c.politie!.http('GET', '/api/privacy/requests')).status).toBe(403);
    expect((await c.politie!.http('GET', `/api/privacy/requests/${request.id}/report`)).status).toBe(403);
    expect(
      (await c.privacy!.http('POST', '/api/privacy/requests', { personName: 'X', birthDate: '1985-05-05', receivedOn: '2099-01-01', note: '' })).status,
    ).toBe(400);
  });

  it('R-ACCESS: the report holds every case of the person, each item with its contributor, who was shown it and for what; a restricted item without its content', async () => {
    await srv.app.access.flush();
    const r = await c.privacy!.http<Art15ReportView>('GET', `/api/privacy/requests/${request.id}/report`);
    expect(r.status).toBe(200);
    expect(r.body.cases.map((x) => x.caseId).sort()).toEqual([topx, hg].sort());
    const section = r.body.cases.find((x) => x.caseId === topx)!;
    expect(section.person).toEqual({ name: 'Anna de Wit', birthDate: '1985-05-05', bsn: null });
    expect(section.retainUntil).toBeNull();
    const item = section.items.find((i) => i.id === shared)!;
    expect(item).toMatchObject({ contributor: orgName('org_politie'), text: 'Melding van overlast op 1 december.', restricted: false });
    expect(item.receivedBy).toContain(orgName('org_om'));
    expect(item.receivedBy).not.toContain(orgName('org_politie'));
    expect(item.purposes.some((p) => p.startsWith('bespreking in overleg'))).toBe(true);
    const kept = section.items.find((i) => i.id === restricted)!;
    expect(kept).toMatchObject({ contributor: orgName('org_ggz'), text: null, restricted: true });
    expect(JSON.stringify(r.body)).not.toContain('FACT-team');
    expect(section.goals.at(-1)!.text).toBe('Overlast stoppen.');
    // Each case the report showed is in the access log, for this request.
    await srv.app.access.flush();
    const records = (await srv.app.store.searchAccess({ userId: 'usr_privacy' as never, limit: 200 })).records.filter((x) =>
      x.operation.startsWith('privacy:art15-report'),
    );
    expect(records.map((x) => x.caseId).sort()).toEqual([null, topx, hg].sort());
    expect(new Set(records.map((x) => x.purpose))).toEqual(new Set([art15Purpose(request.id)]));
  });

  it('R-ACCESS: the request is marked delivered once, and the register says so', async () => {
    const r = await c.privacy!.http<{ request: Art15RequestView }>('POST', `/api/privacy/requests/${request.id}/delivered`);
    expect(r.body.request.deliveredOn).toBe(today);
    expect((await c.privacy!.http('POST', `/api/privacy/requests/${request.id}/delivered`)).status).toBe(409);
    const list = await c.privacy!.http<{ requests: Art15RequestView[] }>('GET', '/api/privacy/requests');
    expect(list.body.requests.find((x) => x.id === request.id)!.deliveredOn).toBe(today);
    expect((await c.privacy!.http('GET', '/api/privacy/requests/av_000000000000000000000000/report')).status).toBe(404);
  });
});

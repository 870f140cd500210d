import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseId } from '../../shared/ids.js';
import type { AccessRecordView, CaseSummary, PrivacyCaseView } from '../../shared/protocol.js';
import { houseDay } from '../../shared/day.js';
import { csvField } from '../../server/privacy/routes.js';
import { TestClient } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';

// R-ACCESS: the house's privacy officer answers "who saw what of case X, and when" from the
// product alone: the access log per case, person, organisation and period, page by page, as CSV;
// without seeing any case on the board; and every look is itself in the log.
let srv: TestServer;
const c: Record<string, TestClient> = {};
let caseR: CaseId;

type Page = { records: AccessRecordView[]; next: string | null };
const search = (query: string) => c.privacy!.http<Page>('GET', `/api/privacy/access?${query}`);
async function everything(query: string): Promise<AccessRecordView[]> {
  const out: AccessRecordView[] = [];
  let after: string | null = null;
  do {
    const r = await search(`${query}${after ? `&after=${after}` : ''}`);
    expect(r.status).toBe(200);
    out.push(...r.body.records);
    after = r.body.next;
  } while (after);
  return out;
}

beforeAll(async () => {
  srv = await startTestServer({ commandsPerSecond: 10_000 });
  for (const u of ['privacy', 'regisseur', 'om', 'beheer']) c[u] = await TestClient.connect(srv.url, u);
  caseR = [...srv.app.cases.all()].find((s) => s.title.startsWith('Casus R.'))!.id;
  // Enough reads of Casus R. for more than one page.
  for (let i = 0; i < 30; i++) {
    await c.om!.cmd('case:open', { caseId: caseR });
    await c.om!.cmd('case:leave', { caseId: caseR });
  }
  await srv.app.access.flush();
});

afterAll(async () => {
  for (const cl of Object.values(c)) cl.close();
  await srv?.close();
});

describe('R-ACCESS: the privacy officer’s view of the access log', () => {
  it('R-ACCESS: only the privacy officer reads the log; it is shown no case on the board', async () => {
    for (const u of ['regisseur', 'om', 'beheer']) expect((await c[u]!.http('GET', `/api/privacy/access?caseId=${caseR}`)).status).toBe(403);
    const list = (await c.privacy!.waitFor((r) => r.event === 'cases:snapshot')).args[0] as CaseSummary[];
    expect(list).toEqual([]);
    expect(await c.privacy!.cmd('case:open', { caseId: caseR })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    const cases = (await c.privacy!.http<{ cases: PrivacyCaseView[] }>('GET', '/api/privacy/cases')).body.cases;
    expect(cases.find((x) => x.id === caseR)).toMatchObject({ title: expect.stringMatching(/^Casus R\./), tableId: 'tbl_topx' });
    expect(Object.keys(cases[0]!).sort()).toEqual(['createdAt', 'id', 'tableId', 'title']);
  });

  it('R-ACCESS: who saw what of a case and when: newest first, with the NEN 7513 fields named, page by page, each record once', async () => {
    const first = await search(`caseId=${caseR}`);
    expect(first.status).toBe(200);
    expect(first.body.records.length).toBe(200);
    expect(first.body.next).not.toBeNull();
    const all = await everything(`caseId=${caseR}`);
    expect(all.length).toBeGreaterThan(200);
    expect(all.every((r) => r.caseId === caseR)).toBe(true);
    expect(all.every((r, i) => i === 0 || all[i - 1]!.at >= r.at)).toBe(true);
    const omRead = all.find((r) => r.userId === 'usr_om' && r.operation === 'case:open')!;
    expect(omRead).toMatchObject({
      action: 'read',
      userName: 'Pieter van der Meer',
      orgId: 'org_om',
      orgName: 'Openbaar Ministerie Noord-Nederland',
      role: 'deelnemer',
      // The real purpose: the discussion of the case in today's meeting.
      purpose: expect.stringMatching(/^bespreking in overleg mt_/),
      address: expect.stringMatching(/127\.0\.0\.1/),
      outcome: 'ok',
    });
  });

  it('R-ACCESS: by person, organisation and period', async () => {
    const om = await everything(`userId=usr_om`);
    expect(om.length).toBeGreaterThan(30);
    expect(om.every((r) => r.userId === 'usr_om')).toBe(true);
    const byOrg = await everything(`orgId=org_om&caseId=${caseR}`);
    expect(byOrg.every((r) => r.orgId === 'org_om' && r.caseId === caseR)).toBe(true);
    expect(byOrg.length).toBeGreaterThan(30);
    const today = houseDay();
    expect((await everything(`caseId=${caseR}&from=${today}&to=${today}`)).length).toBeGreaterThan(200);
    expect(await everything(`caseId=${caseR}&from=${houseDay(1)}`)).toEqual([]);
    expect(await everything(`caseId=${caseR}&to=${houseDay(-1)}`)).toEqual([]);
  });

  it('R-ACCESS: a selection exports as CSV, the same records as the pages', async () => {
    const res = await fetch(`${srv.url}/api/privacy/access.csv?caseId=${caseR}&userId=usr_om`, { headers: { cookie: c.privacy!.cookie } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('content-disposition')).toMatch(/attachment; filename="toegangslog-/);
    const bytes = Buffer.from(await res.arrayBuffer());
    // A byte order mark first: a spreadsheet then reads the names as UTF-8.
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = bytes.subarray(3).toString('utf8').trimEnd().split('\r\n');
    expect(lines[0]).toBe('tijdstip;handeling;bewerking;casus;inbreng;gebruiker;naam;organisatie;rol;doel;adres;uitkomst');
    const pages = await everything(`caseId=${caseR}&userId=usr_om`);
    expect(lines.length - 1).toBe(pages.length);
    expect(lines[1]!.split(';')[6]).toBe('Pieter van der Meer');
    // A field a spreadsheet would run as a formula is not one; separators and quotes are quoted.
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField('a;b')).toBe('"a;b"');
    expect(csvField('gewoon')).toBe('gewoon');
  });

  it('R-ACCESS: every look at the log is in the log, for what it was (privacy review)', async () => {
    await srv.app.access.flush();
    const looks = (await srv.app.store.searchAccess({ userId: 'usr_privacy' as never, limit: 1000 })).records;
    expect(looks.some((r) => r.operation === `privacy:access caseId=${caseR}` && r.caseId === caseR && r.purpose === 'privacytoezicht')).toBe(true);
    expect(looks.some((r) => r.action === 'export' && r.operation.startsWith('privacy:export') && r.caseId === caseR)).toBe(true);
    expect(looks.some((r) => r.operation === 'privacy:cases')).toBe(true);
  });

  it('R-ACCESS: after the discussion each read names what it is for: one’s own contribution, the chair’s file', async () => {
    const running = srv.app.cases.get(caseR)!.agenda.find((a) => a.state === 'running')!;
    expect((await c.regisseur!.cmd('agenda:end', { caseId: caseR, meetingId: running.meetingId })).ok).toBe(true);
    await c.om!.cmd('case:open', { caseId: caseR });
    await c.regisseur!.cmd('case:open', { caseId: caseR });
    await srv.app.access.flush();
    const recent = (await search(`caseId=${caseR}`)).body.records;
    const omItem = [...srv.app.cases.get(caseR)!.items.values()].find((i) => i.orgId === 'org_om')!;
    expect(recent.find((r) => r.userId === 'usr_om' && r.itemId === omItem.id)?.purpose).toBe('eigen inbreng');
    expect(recent.find((r) => r.userId === 'usr_om' && r.operation === 'case:open' && r.itemId === null)?.purpose).toBe('eigen inbreng en afspraken');
    expect(recent.find((r) => r.userId === 'usr_regisseur' && r.operation === 'case:open' && r.itemId === null)?.purpose).toBe(
      'dossier van de casus (voorzitter)',
    );
  });

  it('R-ACCESS: an export from past the end of the log ends, with the whole selection', async () => {
    const res = await fetch(`${srv.url}/api/privacy/access.csv?userId=usr_om&after=9999999999999999`, { headers: { cookie: c.privacy!.cookie } });
    expect(res.status).toBe(200);
    const lines = (await res.text()).trimEnd().split('\r\n');
    expect(lines.length - 1).toBe((await everything('userId=usr_om')).length);
  });

  it('R-ACCESS: the privacy officer takes part in no case and has no other role', async () => {
    const r = await c.regisseur!.cmd('case:setParticipant', {
      caseId: caseR,
      participant: { orgId: 'org_zvh' as never, role: 'voorzitter', userIds: ['usr_regisseur', 'usr_privacy'] as never },
    });
    expect(r).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', message: expect.stringMatching(/privacyfunctionaris/) } });
    const base = { displayName: 'Nieuwe functionaris', password: 'een-lang-wachtwoord-2026' };
    for (const body of [
      { ...base, username: 'fg2', orgId: 'org_zvh', roles: ['privacy', 'chair'] },
      { ...base, username: 'fg3', orgId: 'org_politie', roles: ['privacy'] },
    ])
      expect((await c.beheer!.http('POST', '/api/admin/users', body)).status).toBe(400);
  });

  it('R-ACCESS: a question that is not one is refused and shows nothing', async () => {
    for (const q of [
      'caseId=bad id',
      'from=2026-02-31',
      'after=abc',
      'onbekend=1',
      'caseId=a&caseId=b',
      `from=${houseDay(1)}&to=${houseDay()}`,
      'to=9999-12-31',
      'from=0050-01-01',
    ]) {
      const r = await search(q);
      expect({ q, status: r.status }).toEqual({ q, status: 400 });
    }
  });
});

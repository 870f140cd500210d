import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseId, OrgId, PersonId } from '../../shared/ids.js';
import type { CaseMetaView, CaseSummary, CaseView, PersonMatchView } from '../../shared/protocol.js';
import { houseDay } from '../../shared/day.js';
import { TestClient } from '../support/client.js';
import { createCase } from '../support/meetings.js';
import { startTestServer, type TestServer } from '../support/server.js';

// R-INFORM per person: a case concerns one or more persons (a family), each informed on its own.
// R-ROLE: every participant sees the persons of its case; only the house (its chairs and its
// privacy officer) finds a person across cases and tables, and every such look is logged.

let srv: TestServer;
const c: Record<string, TestClient> = {};
let family: CaseId;

const meta = async (u: string, caseId = family): Promise<CaseMetaView> => {
  const r = await c[u]!.cmd('case:open', { caseId });
  if (!r.ok || !('view' in r.data)) throw new Error(`${u} open`);
  return (r.data as { view: CaseView }).view.meta;
};
const code = (r: { ok: boolean; error?: { code: string } }): string | null => (r.ok ? null : r.error!.code);
/** The case as a fresh connection of the user lists it. */
async function summary(u: string, caseId = family): Promise<CaseSummary> {
  const fresh = await TestClient.connect(srv.url, u);
  try {
    const m = await fresh.waitFor((r) => r.event === 'cases:snapshot', 5000);
    return (m.args[0] as CaseSummary[]).find((s) => s.id === caseId)!;
  } finally {
    fresh.close();
  }
}
const search = (u: string, query: string) => c[u]!.http<{ matches: PersonMatchView[] }>('GET', `/api/persons?${query}`);
const future = (days: number): string => houseDay(days);

beforeAll(async () => {
  srv = await startTestServer();
  for (const u of ['regisseur', 'politie', 'ggz', 'privacy']) c[u] = await TestClient.connect(srv.url, u);
  family = await createCase(
    c.regisseur!,
    'Gezin de V.',
    [
      ['zvh', 'voorzitter', 'regisseur'],
      ['politie', 'aanmelder', 'politie'],
      ['ggz', 'deelnemer', 'ggz'],
    ],
    'tbl_topx',
    [
      { name: 'José de Vries', birthDate: '1987-04-02' },
      { name: 'Noa de Vries', birthDate: '2016-09-30' },
    ],
  );
});

afterAll(async () => {
  for (const cl of Object.values(c)) cl.close();
  await srv?.close();
});

describe('R-INFORM: each person of a case is informed on its own', () => {
  it('R-INFORM: every participant sees the persons; marking one informed leaves the other open', async () => {
    const seen = await meta('ggz');
    expect(seen.persons.map((p) => [p.name, p.birthDate, p.informing.informerOrgId])).toEqual([
      ['José de Vries', '1987-04-02', 'org_politie'],
      ['Noa de Vries', '2016-09-30', 'org_politie'],
    ]);
    const [jose, noa] = seen.persons;
    const done = { status: 'done' as const, informerOrgId: 'org_politie' as OrgId, dueDate: '2026-12-31' };
    expect(code(await c.ggz!.cmd('person:setInforming', { caseId: family, personId: jose!.id, informing: done }))).toBe('FORBIDDEN');
    expect(code(await c.politie!.cmd('person:setInforming', { caseId: family, personId: jose!.id, informing: done }))).toBeNull();
    const after = await meta('ggz');
    expect(after.persons.map((p) => p.informing.status)).toEqual(['done', 'open']);
    const listed = await summary('ggz');
    expect(listed).toMatchObject({ personNames: ['José de Vries', 'Noa de Vries'], informingOpen: true, informingDue: '2026-12-31', informingReview: null });
    // A postponement is reviewed on a day still to come; once postponed, it is the chair's task by that day.
    const postpone = (reviewDate: string) => ({ ...done, status: 'postponed' as const, ground: 'Veiligheid van het kind.', reviewDate });
    expect(code(await c.regisseur!.cmd('person:setInforming', { caseId: family, personId: noa!.id, informing: postpone(houseDay()) }))).toBe('BAD_REQUEST');
    expect(code(await c.regisseur!.cmd('person:setInforming', { caseId: family, personId: noa!.id, informing: postpone(future(30)) }))).toBeNull();
    expect(await summary('regisseur')).toMatchObject({ informingOpen: true, informingDue: null, informingReview: future(30) });
  });

  it('R-INFORM: the chair keeps the list of persons; a partner cannot change it; a BSN is refused where the house records none', async () => {
    const add = { caseId: family, person: { name: 'Sem de Vries', birthDate: '2019-01-15' }, informerOrgId: 'org_ggz' as OrgId, informDueDate: '2026-12-20' };
    expect(code(await c.politie!.cmd('person:add', add))).toBe('FORBIDDEN');
    expect(code(await c.regisseur!.cmd('person:add', { ...add, person: { ...add.person, bsn: '111222333' } }))).toBe('BAD_REQUEST');
    const added = await c.regisseur!.cmd('person:add', add);
    if (!added.ok) throw new Error(added.error.code);
    const sem = added.data.personId;
    // The same person twice is refused; a correction is an edit.
    expect(code(await c.regisseur!.cmd('person:add', add))).toBe('BAD_REQUEST');
    expect(
      code(await c.regisseur!.cmd('person:edit', { caseId: family, personId: sem, person: { name: 'Sem de Vries', birthDate: '2019-01-16' } })),
    ).toBeNull();
    expect((await meta('politie')).persons.find((p) => p.id === sem)).toMatchObject({ birthDate: '2019-01-16', informing: { informerOrgId: 'org_ggz' } });
    // GGZ informs Sem: it cannot leave the table until someone else does.
    expect(code(await c.regisseur!.cmd('case:removeParticipant', { caseId: family, orgId: 'org_ggz' as OrgId }))).toBe('BAD_REQUEST');
    expect(code(await c.regisseur!.cmd('person:remove', { caseId: family, personId: sem }))).toBeNull();
    expect((await meta('politie')).persons.map((p) => p.name)).toEqual(['José de Vries', 'Noa de Vries']);
    // A person of another case is no person of this one, whatever its id.
    const other = (await meta('regisseur', [...srv.app.cases.all()].find((s) => s.title.startsWith('Casus R.'))!.id)).persons[0]!.id;
    expect(code(await c.regisseur!.cmd('person:remove', { caseId: family, personId: other }))).toBe('BAD_REQUEST');
    expect(code(await c.regisseur!.cmd('person:remove', { caseId: family, personId: 'prs_onbekend' as PersonId }))).toBe('BAD_REQUEST');
  });
});

describe('R-ROLE: only the house finds a person across cases and tables', () => {
  it('R-ROLE: a chair of the house finds a person by name or birth date in every case, whichever table; a partner may not search', async () => {
    const byName = await search('regisseur', 'name=jose%20DE%20vries');
    expect(byName.status).toBe(200);
    expect(byName.body.matches.map((m) => [m.name, m.caseId, m.participating])).toEqual([['José de Vries', family, true]]);
    // The demo's family case is at another table, with another chair.
    const byBirth = await search('regisseur', 'birthDate=1988-01-20');
    expect(byBirth.body.matches.map((m) => [m.name, m.caseTitle, m.tableId, m.participating])).toEqual([['Mark B.', 'Gezin B., Sneek', 'tbl_hg', false]]);
    expect((await search('politie', 'name=jose')).status).toBe(403);
    expect((await search('regisseur', 'name=j')).status).toBe(400);
    expect((await search('regisseur', '')).status).toBe(400);
  });

  it('R-ACCESS: every search, and each case it showed, is in the access log before the answer', async () => {
    const before = srv.app.access.backlog;
    const found = await search('privacy', 'birthDate=1987-04-02');
    expect(found.body.matches.map((m) => m.caseId)).toEqual([family]);
    // Written, not gathered: nothing of this search waits in the buffer.
    expect(srv.app.access.backlog).toBe(before);
    const looks = (await srv.app.store.searchAccess({ userId: 'usr_privacy' as never, limit: 50 })).records.filter((r) =>
      r.operation.startsWith('persons:search'),
    );
    expect(looks.map((r) => [r.caseId, r.purpose, r.outcome])).toEqual([
      [family, 'privacytoezicht', 'ok'],
      [null, 'privacytoezicht', 'ok'],
    ]);
  });
});

describe('R-INFORM: the BSN, where the house records it', () => {
  it('R-INFORM: with PERSON_BSN on, a valid BSN is kept, shown to the participants and found by the house', async () => {
    const bsnSrv = await startTestServer({ env: { PERSON_BSN: 'true' } });
    const chair = await TestClient.connect(bsnSrv.url, 'regisseur');
    try {
      const id = await createCase(
        chair,
        'Casus K.',
        [
          ['zvh', 'voorzitter', 'regisseur'],
          ['politie', 'aanmelder', 'politie'],
        ],
        'tbl_topx',
        [{ name: 'Kees K.', birthDate: '1970-02-03', bsn: '111222333' }],
      );
      const bad = await chair.cmd('person:add', {
        caseId: id,
        person: { name: 'Anna K.', birthDate: '1972-05-06', bsn: '123456789' },
        informerOrgId: 'org_politie' as OrgId,
        informDueDate: '2026-12-20',
      });
      expect(code(bad)).toBe('BAD_REQUEST');
      const r = await chair.cmd('case:open', { caseId: id });
      if (!r.ok || !('view' in r.data)) throw new Error('open');
      expect(r.data.view.meta.persons[0]!.bsn).toBe('111222333');
      const found = await chair.http<{ matches: PersonMatchView[] }>('GET', '/api/persons?bsn=111222333');
      expect(found.body.matches.map((m) => m.caseId)).toEqual([id]);
    } finally {
      chair.close();
      await bsnSrv.close();
    }
  });
});

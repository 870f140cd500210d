import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseId, OrgId } from '../../shared/ids.js';
import type { CaseMetaView, CaseView } from '../../shared/protocol.js';
import { TestClient } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';

// R-NEED for the case's own texts: the ground of a postponed informing (here a criminal
// investigation) reaches only those it names, the one that recorded it and the chair.
let srv: TestServer;
const c: Record<string, TestClient> = {};
let caseR: CaseId;
const GROUND = 'Lopend strafrechtelijk onderzoek naar de bedreiging van de buren.';

const meta = async (u: string): Promise<CaseMetaView> => {
  const r = await c[u]!.cmd('case:open', { caseId: caseR });
  if (!r.ok || !('view' in r.data)) throw new Error(`${u} open`);
  return (r.data as { view: CaseView }).view.meta;
};

beforeAll(async () => {
  srv = await startTestServer();
  for (const u of ['regisseur', 'om', 'ggz']) c[u] = await TestClient.connect(srv.url, u);
  caseR = [...srv.app.cases.all()].find((s) => s.title.startsWith('Casus R.'))!.id;
  for (const u of ['om', 'ggz']) await meta(u);
});

afterAll(async () => {
  for (const cl of Object.values(c)) cl.close();
  await srv?.close();
});

describe('R-NEED: the ground of a postponement', () => {
  it('R-NEED: a ground restricted to the OM reaches the OM and the chair, and nobody else by any route', async () => {
    const from = c.ggz!.nextSeq;
    const informing = { status: 'postponed' as const, informerOrgId: 'org_politie' as OrgId, dueDate: '2026-12-31', reviewDate: '2027-01-15', ground: GROUND };
    const personId = (await meta('regisseur')).persons[0]!.id;
    const bad = await c.regisseur!.cmd('person:setInforming', {
      caseId: caseR,
      personId,
      informing: { ...informing, groundVisibility: { kind: 'orgs', orgIds: ['org_veiligthuis' as OrgId] } },
    });
    expect(bad.ok ? null : bad.error.code).toBe('BAD_REQUEST');
    const r = await c.regisseur!.cmd('person:setInforming', {
      caseId: caseR,
      personId,
      informing: { ...informing, groundVisibility: { kind: 'orgs', orgIds: ['org_om' as OrgId] } },
    });
    expect(r.ok).toBe(true);
    // The change itself is seen by all: the informing is postponed, until when it is reviewed.
    await c.ggz!.waitFor((m) => m.event === 'case:patch' && JSON.stringify(m.args[0]).includes('postponed'), 5000, from);
    expect((await meta('om')).persons[0]!.informing.ground).toBe(GROUND);
    expect((await meta('regisseur')).persons[0]!.informing.ground).toBe(GROUND);
    const ggz = await meta('ggz');
    expect(ggz.persons[0]!.informing).toMatchObject({ status: 'postponed', ground: null, groundVisibility: null, reviewDate: '2027-01-15' });
    expect(ggz.persons[0]!.informingHistory.at(-1)!.ground).toBeNull();
    expect(JSON.stringify(c.ggz!.received.slice(from))).not.toContain('strafrechtelijk');
    expect(JSON.stringify(c.ggz!.received.slice(from))).not.toContain('org_om"]');
  });
});

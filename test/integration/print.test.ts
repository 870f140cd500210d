import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_TEXT_NL } from '../../shared/errors.js';
import type { CaseId, UserId } from '../../shared/ids.js';
import { TestClient } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';

// R-FILE: what is printed leaves the board, so every print is an access-log record of its own:
// the plan of action by the case's chair for the house's file, a partner's own take-home list.
let srv: TestServer;
const c: Record<string, TestClient> = {};
let caseR: CaseId;

beforeAll(async () => {
  srv = await startTestServer();
  for (const u of ['regisseur', 'politie', 'veiligthuis']) c[u] = await TestClient.connect(srv.url, u);
  caseR = [...srv.app.cases.all()].find((s) => s.title.startsWith('Casus R.'))!.id;
});

afterAll(async () => {
  for (const cl of Object.values(c)) cl.close();
  await srv?.close();
});

const prints = async (userId: string) => {
  await srv.app.access.flush();
  return (await srv.app.store.readAccess({ userId: userId as UserId }))
    .filter((r) => r.action === 'export')
    .map((r) => ({ operation: r.operation, caseId: r.caseId, outcome: r.outcome, role: r.role }));
};

describe('R-FILE: printing', () => {
  it('R-FILE: the case’s chair prints the plan of action; the print is in the access log', async () => {
    expect(await c.regisseur!.cmd('case:print', { caseId: caseR, what: 'plan' })).toEqual({ ok: true, data: null });
    expect(await prints('usr_regisseur')).toEqual([{ operation: 'case:print plan', caseId: caseR, outcome: 'ok', role: 'voorzitter' }]);
  });

  it('R-TAKEHOME: a partner prints only its own take-home list; the refused plan is logged as refused', async () => {
    const plan = await c.politie!.cmd('case:print', { caseId: caseR, what: 'plan' });
    expect(plan.ok ? null : plan.error.code).toBe('FORBIDDEN');
    expect((await c.politie!.cmd('case:print', { caseId: caseR, what: 'meeneemlijst' })).ok).toBe(true);
    expect(await prints('usr_politie')).toEqual([
      { operation: 'case:print plan', caseId: caseR, outcome: 'denied', role: 'aanmelder' },
      { operation: 'case:print meeneemlijst', caseId: caseR, outcome: 'ok', role: 'aanmelder' },
    ]);
  });

  it('R-ROLE: someone outside the case is answered as for a case that does not exist', async () => {
    const hidden = await c.veiligthuis!.cmd('case:print', { caseId: caseR, what: 'meeneemlijst' });
    const absent = await c.veiligthuis!.cmd('case:print', { caseId: 'cs_onbekend' as CaseId, what: 'meeneemlijst' });
    expect(hidden).toEqual({ ok: false, error: { code: 'NOT_FOUND', message: ERROR_TEXT_NL.NOT_FOUND } });
    expect(absent).toEqual(hidden);
    expect((await prints('usr_veiligthuis')).map((r) => r.outcome)).toEqual(['denied', 'denied']);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseId, OrgId } from '../../shared/ids.js';
import type { CaseSummary } from '../../shared/protocol.js';
import { TestClient } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';

// The case list a socket gets on connecting is built once per kind of viewer and shared by the
// sockets that connect until any case changes (a restart brings every socket back at once).
let srv: TestServer;
const clients: TestClient[] = [];

const connect = async (user: string): Promise<TestClient> => {
  const c = await TestClient.connect(srv.url, user);
  clients.push(c);
  return c;
};
const titles = async (c: TestClient): Promise<string[]> =>
  ((await c.waitFor((r) => r.event === 'cases:snapshot')).args[0] as CaseSummary[]).map((s) => s.title).sort();

beforeAll(async () => {
  srv = await startTestServer();
});

afterAll(async () => {
  for (const c of clients) c.close();
  await srv?.close();
});

describe('R-ROLE: the case list on connecting', () => {
  it('R-ROLE: a socket that connects after a change lists the cases as they stand then, not as an earlier socket of the same user was told', async () => {
    const first = await connect('om');
    expect(await titles(first)).toEqual(['Casus R. (1991), Leeuwarden-Oost', 'Casus T. (1984), Heerenveen']);
    const second = await connect('om');
    expect(await titles(second)).toEqual(['Casus R. (1991), Leeuwarden-Oost', 'Casus T. (1984), Heerenveen']);
    const chair = await connect('regisseur');
    const caseR = ((await chair.waitFor((r) => r.event === 'cases:snapshot')).args[0] as CaseSummary[]).find((s) => s.title.startsWith('Casus R.'))!
      .id as CaseId;
    expect((await chair.cmd('case:removeParticipant', { caseId: caseR, orgId: 'org_om' as OrgId })).ok).toBe(true);
    const after = await connect('om');
    expect(await titles(after)).toEqual(['Casus T. (1984), Heerenveen']);
  });
});

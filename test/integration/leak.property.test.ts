import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Username } from '../support/leakScenario.js';
import { runScenario, scenarios, USERS } from '../support/leakScenario.js';
import { login } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';

let srv: TestServer;
const cookies = new Map<Username, string>();

beforeAll(async () => {
  srv = await startTestServer({ commandsPerSecond: 10_000 });
  for (const u of USERS) cookies.set(u, await login(srv.url, u));
});
afterAll(async () => srv?.close());

describe('R-ROLE R-NEED R-GOAL R-TAKEHOME property: no client ever receives what it may not see', () => {
  it('R-ROLE R-NEED R-GOAL R-TAKEHOME R-REUSE: random meetings leak nothing and every open board converges', async () => {
    const backend = {
      urlFor: () => srv.url,
      cookie: (u: Username) => cookies.get(u)!,
      state: async (caseId: Parameters<typeof srv.app.cases.get>[0]) => srv.app.cases.get(caseId)!,
      settle: async () => undefined,
      orgOf: (userId: Parameters<typeof srv.app.dir.user>[0]) => srv.app.dir.user(userId)!.orgId,
      oracle: srv.app,
    };
    await fc.assert(
      fc.asyncProperty(scenarios, (batches) => runScenario(backend, batches)),
      { numRuns: 15, seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31), verbose: 1 },
    );
  });
});

import fs from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import type { CaseId, UserId } from '../../shared/ids.js';
import type { LeakBackend, Scenario, Username } from '../support/leakScenario.js';
import { runScenario, scenarios, USERS } from '../support/leakScenario.js';
import { login } from '../support/client.js';
import { progress, propertyRuns, propertySeed, timeoutFor } from '../support/property.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { LEAK_ONE_PROCESS, regressionName, replaying } from '../support/regressions.js';

// Every meeting adds a case that all ten users take part in, and each connect lists them all: a
// fresh server every RUNS_PER_SERVER meetings keeps a long run's meetings equally fast.
const RUNS_PER_SERVER = 100;
const RUNS = propertyRuns(15);

let srv: TestServer | undefined;
let runsOnServer = 0;
const cookies = new Map<Username, string>();

async function freshServer(): Promise<TestServer> {
  if (srv) {
    await srv.close();
    fs.rmSync(srv.dataDir, { recursive: true, force: true });
  }
  srv = await startTestServer({ commandsPerSecond: 10_000 });
  for (const u of USERS) cookies.set(u, await login(srv.url, u));
  runsOnServer = 0;
  return srv;
}

afterAll(async () => {
  await srv?.close();
  if (srv) fs.rmSync(srv.dataDir, { recursive: true, force: true });
});

const app = () => srv!.app;
const backend: LeakBackend = {
  urlFor: () => srv!.url,
  cookie: (u) => cookies.get(u)!,
  state: async (caseId: CaseId) => app().cases.get(caseId)!,
  // What the process holds is all there is: it sent nothing of a later version.
  logHead: async (caseId: CaseId) => app().cases.get(caseId)?.version ?? 0,
  // One process: applied as committed; what it had queued for the case has run once this does.
  settle: (caseId: CaseId) => app().cases.withCase(caseId, async () => undefined),
  orgOf: (userId: UserId) => app().dir.user(userId)!.orgId,
  get oracle() {
    return app();
  },
};

/** One meeting; on a fresh server when this one has held enough. */
async function meeting(batches: Scenario): Promise<void> {
  if (!srv || runsOnServer >= RUNS_PER_SERVER) await freshServer();
  runsOnServer++;
  await runScenario(backend, batches);
}

describe('R-ROLE R-NEED R-GOAL R-TAKEHOME property: no client ever receives what it may not see', () => {
  for (const r of LEAK_ONE_PROCESS) {
    it(regressionName(r), async () => {
      await fc.assert(fc.asyncProperty(scenarios, meeting), replaying(r));
    });
  }

  it(
    'R-ROLE R-NEED R-GOAL R-TAKEHOME R-REUSE P-ORDER: random meetings, co-editing included, leak nothing and every open board converges',
    async () => {
      const tick = progress('leak property', RUNS);
      await fc.assert(
        fc.asyncProperty(scenarios, async (batches) => {
          await meeting(batches);
          tick();
        }),
        { numRuns: RUNS, seed: propertySeed(), verbose: 1 },
      );
    },
    timeoutFor(RUNS, 1_000),
  );
});

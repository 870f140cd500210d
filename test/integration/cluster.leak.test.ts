import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import type { CaseId, OrgId, UserId } from '../../shared/ids.js';
import { newId } from '../../shared/ids.js';
import type { CaseView } from '../../shared/protocol.js';
import { replay } from '../../server/cases/events.js';
import { Directory } from '../../server/directory/directory.js';
import { Cursors } from '../../server/realtime/cursor.js';
import { RedisStore } from '../../server/store/redis.js';
import { login, TestClient } from '../support/client.js';
import { runScenario, scenarios, USERS, type LeakBackend, type Scenario, type Username } from '../support/leakScenario.js';
import { spawnServer, type ServerProcess } from '../support/process.js';
import { progress, propertyRuns, propertySeed, timeoutFor } from '../support/property.js';
import { quietLog, startRedis, type PrivateRedis } from '../support/redis.js';
import { poll } from '../support/wait.js';
import { LEAK_THREE_PROCESSES, regressionName, replaying } from '../support/regressions.js';

// The foundation's leak property, run across three server processes on one Redis: users are spread
// over the processes and move to another one when they reconnect. As on one process, the
// processes and Redis start afresh every RUNS_PER_CLUSTER meetings, so a long run stays fast.
const RUNS_PER_CLUSTER = 100;
const RUNS = propertyRuns(6);

interface Cluster {
  procs: ServerProcess[];
  store: RedisStore;
  dir: Directory;
  cursors: Cursors;
  cookies: Map<Username, string>;
  /** One chair's socket per process, to see when that process has caught up with a case. */
  observers: TestClient[];
}

let redis: PrivateRedis | undefined;
let cluster: Cluster | undefined;
let runsOnCluster = 0;
/** How far each case's log is known to reach: a read of its extent starts there. */
const logHeads = new Map<CaseId, number>();

async function stopCluster(c: Cluster): Promise<void> {
  for (const o of c.observers) o.close();
  for (const p of c.procs) await p.kill('SIGKILL');
  await c.store.close();
}

async function freshCluster(): Promise<Cluster> {
  if (cluster) {
    await stopCluster(cluster);
    // Without persistence a restart empties it: the old meetings' keys go with it.
    await redis!.restart();
  }
  redis ??= await startRedis();
  const prefix = newId('t');
  const env = { REDIS_URL: redis.url, REDIS_PREFIX: prefix, COMMANDS_PER_SECOND: '100000', LOG_LEVEL: 'info' };
  const procs = await Promise.all([spawnServer(env), spawnServer(env), spawnServer(env)]);
  const store = await RedisStore.connect(redis.url, prefix, quietLog);
  const dir = new Directory(store);
  await dir.load();
  const cursors = new Cursors(Buffer.from((await store.getMeta('cursor-key'))!, 'base64'));
  const cookies = new Map<Username, string>();
  for (const u of USERS) cookies.set(u, await login(procs[0]!.url, u));
  const observers = [];
  for (const p of procs) observers.push(await TestClient.connect(p.url, 'regisseur', cookies.get('regisseur')));
  runsOnCluster = 0;
  return (cluster = { procs, store, dir, cursors, cookies, observers });
}

afterAll(async () => {
  if (cluster) await stopCluster(cluster);
  await redis?.stop();
});

const now = (): Cluster => cluster!;
const backend: LeakBackend = {
  urlFor: (user, n) => now().procs[(USERS.indexOf(user) + n) % now().procs.length]!.url,
  cookie: (u) => now().cookies.get(u)!,
  state: async (caseId) => replay(await now().store.readEvents(caseId))!,
  async logHead(caseId) {
    // Read after the call: no process can have sent anything of a later version before it.
    const from = logHeads.get(caseId) ?? 0;
    const v = from + (await now().store.readEvents(caseId, from)).length;
    logHeads.set(caseId, Math.max(v, logHeads.get(caseId) ?? 0));
    return v;
  },
  async settle(caseId: CaseId, version: number) {
    // The chair always takes part, so its open answer carries each process's position.
    for (const [i, o] of now().observers.entries()) {
      await poll(
        `process ${i + 1} to reach version ${version} of the case`,
        async () => {
          const r = await o.cmd('case:open', { caseId });
          return r.ok && (now().cursors.decode(caseId, (r.data as { view: CaseView }).view.cursor) ?? 0) >= version;
        },
        { ms: 30_000 },
      );
    }
  },
  orgOf: (userId: UserId) => now().dir.user(userId)!.orgId as OrgId,
  get oracle() {
    return { cursors: now().cursors, store: now().store, dir: now().dir };
  },
};

async function meeting(batches: Scenario): Promise<void> {
  if (!cluster || runsOnCluster >= RUNS_PER_CLUSTER) await freshCluster();
  runsOnCluster++;
  await runScenario(backend, batches);
}

describe('R-ROLE R-NEED property across processes', () => {
  for (const r of LEAK_THREE_PROCESSES) {
    it(regressionName(r), async () => {
      await fc.assert(fc.asyncProperty(scenarios, meeting), replaying(r));
    });
  }

  it(
    'R-ROLE R-NEED R-GOAL R-TAKEHOME P-ORDER: random meetings over three processes, co-editing included, leak nothing and every open board converges',
    async () => {
      const tick = progress('leak property over three processes', RUNS);
      await fc.assert(
        fc.asyncProperty(scenarios, async (batches) => {
          await meeting(batches);
          tick();
        }),
        { numRuns: RUNS, seed: propertySeed(), verbose: 1 },
      );
    },
    timeoutFor(RUNS, 2_000),
  );
});

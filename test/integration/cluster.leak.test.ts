import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { CaseId, OrgId, UserId } from '../../shared/ids.js';
import { newId } from '../../shared/ids.js';
import type { CaseView } from '../../shared/protocol.js';
import { replay } from '../../server/cases/events.js';
import { Directory } from '../../server/directory/directory.js';
import { Cursors } from '../../server/realtime/cursor.js';
import { RedisStore } from '../../server/store/redis.js';
import { login, TestClient } from '../support/client.js';
import { runScenario, scenarios, USERS, type LeakBackend, type Username } from '../support/leakScenario.js';
import { spawnServer, type ServerProcess } from '../support/process.js';
import { startRedis, type PrivateRedis } from '../support/redis.js';

// The foundation's leak property, run across three server processes on one Redis: users are spread
// over the processes and move to another one when they reconnect.
let redis: PrivateRedis;
const prefix = newId('t');
const procs: ServerProcess[] = [];
let store: RedisStore;
let dir: Directory;
let cursors: Cursors;
const cookies = new Map<Username, string>();
const observers: TestClient[] = [];

beforeAll(async () => {
  redis = await startRedis();
  const env = { REDIS_URL: redis.url, REDIS_PREFIX: prefix, COMMANDS_PER_SECOND: '100000', LOG_LEVEL: 'info' };
  procs.push(...(await Promise.all([spawnServer(env), spawnServer(env), spawnServer(env)])));
  store = await RedisStore.connect(redis.url, prefix);
  dir = new Directory(store);
  await dir.load();
  cursors = new Cursors(Buffer.from((await store.getMeta('cursor-key'))!, 'base64'));
  for (const u of USERS) cookies.set(u, await login(procs[0]!.url, u));
  // One chair's socket per process, to see when that process has caught up with a case.
  for (const p of procs) observers.push(await TestClient.connect(p.url, 'regisseur', cookies.get('regisseur')));
});

afterAll(async () => {
  for (const o of observers) o.close();
  for (const p of procs) await p.kill('SIGKILL');
  await store?.close();
  await redis?.stop();
});

const backend: LeakBackend = {
  urlFor: (user, n) => procs[(USERS.indexOf(user) + n) % procs.length]!.url,
  cookie: (u) => cookies.get(u)!,
  state: async (caseId) => replay(await store.readEvents(caseId))!,
  async settle(caseId: CaseId, version: number) {
    // The chair always takes part, so its open answer carries each process's position.
    for (const o of observers) {
      for (;;) {
        const r = await o.cmd('case:open', { caseId });
        if (r.ok && (cursors.decode(caseId, (r.data as { view: CaseView }).view.cursor) ?? 0) >= version) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  },
  orgOf: (userId: UserId) => dir.user(userId)!.orgId as OrgId,
  get oracle() {
    return { cursors, store, dir };
  },
};

describe('R-ROLE R-NEED property across processes', () => {
  it('R-ROLE R-NEED R-GOAL R-TAKEHOME: random meetings over three processes leak nothing and every open board converges', async () => {
    await fc.assert(
      fc.asyncProperty(scenarios, (batches) => runScenario(backend, batches)),
      { numRuns: 6, seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31), verbose: 1 },
    );
  });
});

import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../shared/ids.js';
import { loadConfig } from '../../server/config.js';
import { seedDemo } from '../../server/seed/demo.js';
import { RedisStore } from '../../server/store/redis.js';
import { SqliteStore } from '../../server/store/sqlite.js';
import type { Store } from '../../server/store/types.js';
import { TestClient } from '../support/client.js';
import { startServerProcess, type StartingProcess } from '../support/process.js';
import { startRedis, type PrivateRedis } from '../support/redis.js';
import { tempDir } from '../support/server.js';

const running = new Set<StartingProcess>();
afterEach(async () => {
  await Promise.all([...running].map((p) => p.kill('SIGKILL')));
  running.clear();
});

function start(env: Record<string, string>): StartingProcess {
  const p = startServerProcess({ NODE_ENV: 'test', ...env });
  running.add(p);
  return p;
}

/** What the demo seed writes, without its random ids: orgs, people, tables, and per case its events. */
async function demoContent(store: Store): Promise<unknown> {
  const cases = [];
  for (const id of await store.caseIds()) {
    const events = await store.readEvents(id);
    const created = events[0]!.payload as { title: string };
    cases.push({ title: created.title, events: events.map((e) => [e.type, (e.payload as { text?: string }).text ?? null]) });
  }
  return {
    orgs: (await store.listOrgs()).map((o) => o.id).sort(),
    users: (await store.listUsers()).map((u) => [u.id, u.username, u.roles]).sort(),
    tables: (await store.listTables()).map((t) => t.id).sort(),
    cases: cases.sort((a, b) => a.title.localeCompare(b.title)),
  };
}

let expectedDemo: unknown;
let redis: PrivateRedis;
beforeAll(async () => {
  const store = new SqliteStore(path.join(tempDir(), 'reference.sqlite'));
  await seedDemo(store);
  expectedDemo = await demoContent(store);
  await store.close();
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe('P-START: a start killed while seeding the demo data leaves a store the next start completes', () => {
  const stores = {
    sqlite: () => {
      const dir = tempDir();
      return { env: { DATA_DIR: dir }, open: async (): Promise<Store> => new SqliteStore(path.join(dir, 'casusbord.sqlite')) };
    },
    redis: () => {
      const prefix = newId('start');
      return { env: { REDIS_URL: redis.url, REDIS_PREFIX: prefix }, open: (): Promise<Store> => RedisStore.connect(redis.url, prefix) };
    },
  };
  it.each(Object.keys(stores) as (keyof typeof stores)[])('%s', async (kind) => {
    const { env, open } = stores[kind]();
    const first = start({ ...env, TEST_HOLD_DEMO_SEED: 'true' });
    await first.waitFor(/demo data held half-way/);
    expect((await first.kill('SIGKILL')).signal).toBe('SIGKILL');

    // Killed half-way: some of it is there, not all, and it is not marked done.
    let store = await open();
    expect(await store.getMeta('seeded')).toBeUndefined();
    expect((await store.caseIds()).length).toBe(1);
    await store.close();

    const second = start(env);
    await second.waitFor(/"port":\d+/);
    expect(second.output()).toContain('demo data seeded');
    const port = Number(/"port":(\d+)/.exec(second.output())![1]);
    const chair = await TestClient.connect(`http://127.0.0.1:${port}`, 'regisseur');
    chair.close();
    expect((await second.kill('SIGTERM')).code).toBe(0);

    store = await open();
    expect(await store.getMeta('seeded')).toBeDefined();
    expect(await demoContent(store)).toEqual(expectedDemo);
    await store.close();
  });

  it('the hold is for tests only', () => {
    expect(() => loadConfig({ TEST_HOLD_DEMO_SEED: 'true' })).toThrow(/TEST_HOLD_DEMO_SEED: only for tests/);
    expect(loadConfig({ TEST_HOLD_DEMO_SEED: 'true', NODE_ENV: 'test' }).TEST_HOLD_DEMO_SEED).toBe(true);
  });

  it.each(Object.keys(stores) as (keyof typeof stores)[])('%s: two seeds at once (processes starting together) leave one copy', async (kind) => {
    const store = await stores[kind]().open();
    await Promise.all([seedDemo(store), seedDemo(store)]);
    expect(await demoContent(store)).toEqual(expectedDemo);
    await store.close();
  });
});

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../shared/ids.js';
import { loadConfig } from '../../server/config.js';
import { seedDemo } from '../../server/seed/demo.js';
import { RedisStore } from '../../server/store/redis.js';
import { checkRedis } from '../../server/store/redisCheck.js';
import { SqliteStore } from '../../server/store/sqlite.js';
import type { Store } from '../../server/store/types.js';
import { TestClient } from '../support/client.js';
import { startServerProcess, type StartingProcess } from '../support/process.js';
import { quietLog, startRedis, type PrivateRedis } from '../support/redis.js';
import { tempDir } from '../support/server.js';
import { within } from '../support/wait.js';

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

/** A start that must be refused: how it ended and what it said; one that listens fails the test. */
async function refused(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const p = start(env);
  // The wait for the port line ends either way: with the line, or with the process.
  const listening = await p.waitFor(/"port":\d+/).then(
    () => true,
    () => false,
  );
  if (listening) throw new Error(`the server started:\n${p.output()}`);
  const { code } = await within('the refused start to end', p.exited, 30_000);
  return { code, stderr: p.stderr() };
}

/** One line on stderr, as a bad configuration gets. */
function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  return lines[0]!;
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
      return { env: { REDIS_URL: redis.url, REDIS_PREFIX: prefix }, open: (): Promise<Store> => RedisStore.connect(redis.url, prefix, quietLog) };
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

describe('P-START: a data directory or database file that cannot serve stops the start, naming it (exit 2)', () => {
  it('a data directory under a regular file', async () => {
    const file = path.join(tempDir(), 'een-bestand');
    fs.writeFileSync(file, 'geen map');
    const dataDir = path.join(file, 'data');
    const { code, stderr } = await refused({ DATA_DIR: dataDir });
    expect(code).toBe(2);
    expect(oneLine(stderr)).toContain(`data directory ${dataDir} cannot be created`);
  });

  const mounted: string[] = [];
  afterAll(() => {
    for (const dir of mounted) spawnSync('umount', [dir]);
  });
  it('a data directory on a read-only file system', async (ctx) => {
    if (process.getuid?.() !== 0) return ctx.skip('mounting a read-only tmpfs needs root');
    const dir = tempDir();
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,ro', 'tmpfs', dir], { encoding: 'utf8' });
    expect(m.status, m.stderr).toBe(0);
    mounted.push(dir);
    const { code, stderr } = await refused({ DATA_DIR: dir });
    expect(code).toBe(2);
    expect(oneLine(stderr)).toMatch(new RegExp(`data directory ${dir} is not writable.*read-only`));
  });

  it('a database file that is a directory', async () => {
    const dbFile = path.join(tempDir(), 'casusbord.sqlite');
    fs.mkdirSync(dbFile);
    const { code, stderr } = await refused({ DB_FILE: dbFile });
    expect(code).toBe(2);
    expect(oneLine(stderr)).toContain(`database file ${dbFile} is not a regular file`);
  });

  it('a file that is not a database', async () => {
    const dir = tempDir();
    const dbFile = path.join(dir, 'casusbord.sqlite');
    fs.writeFileSync(dbFile, 'Dit is een notitie, geen database.\n'.repeat(200));
    const { code, stderr } = await refused({ DATA_DIR: dir });
    expect(code).toBe(2);
    expect(oneLine(stderr)).toContain(`database file ${dbFile} is not a SQLite database`);
  });

  it('a database with a corrupt page in the middle', async () => {
    const dir = tempDir();
    const dbFile = path.join(dir, 'casusbord.sqlite');
    const first = start({ DATA_DIR: dir });
    await first.waitFor(/"port":\d+/);
    expect((await first.kill('SIGTERM')).code).toBe(0);

    const db = new Database(dbFile, { readonly: true });
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const pages = db.pragma('page_count', { simple: true }) as number;
    // Every page is in use, so the one overwritten is part of a table or index.
    expect(db.pragma('freelist_count', { simple: true })).toBe(0);
    db.close();
    const page = Math.floor(pages / 2) + 1;
    const fd = fs.openSync(dbFile, 'r+');
    fs.writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (page - 1) * pageSize);
    fs.closeSync(fd);

    const { code, stderr } = await refused({ DATA_DIR: dir });
    expect(code).toBe(2);
    expect(oneLine(stderr)).toContain(`database file ${dbFile} is corrupt`);
  });
});

/** One command as a Redis client sends it (an array of bulk strings), if all of it is in `buf`. */
function takeCommand(buf: string): { args: string[]; used: number } | null {
  let at = 0;
  const line = (): string | null => {
    const end = buf.indexOf('\r\n', at);
    if (end < 0) return null;
    const l = buf.slice(at, end);
    at = end + 2;
    return l;
  };
  const head = line();
  if (head === null) return null;
  const args: string[] = [];
  for (let i = 0; i < Number(head.slice(1)); i++) {
    const len = line();
    if (len === null) return null;
    const size = Number(len.slice(1));
    if (buf.length < at + size + 2) return null;
    args.push(buf.slice(at, at + size));
    at += size + 2;
  }
  return { args, used: at };
}

describe('P-START: an unreachable or wrong REDIS_URL stops the start, naming it (exit 2)', () => {
  async function closedPort(): Promise<number> {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const { port } = srv.address() as net.AddressInfo;
    await new Promise((r) => srv.close(r));
    return port;
  }

  it('a closed port; the password in the URL is not shown', async () => {
    const port = await closedPort();
    const { code, stderr } = await refused({ REDIS_URL: `redis://casus:geheim-wachtwoord@127.0.0.1:${port}` });
    expect(code).toBe(2);
    const line = oneLine(stderr);
    expect(line).toContain(`REDIS_URL redis://casus:***@127.0.0.1:${port}`);
    expect(line).toContain('ECONNREFUSED');
    expect(line).not.toContain('geheim-wachtwoord');
  });

  it('a TCP server that does not speak Redis', async () => {
    const garbage = net.createServer((s) => {
      s.on('error', () => undefined);
      s.on('data', () => s.write('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
    });
    await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
    const { port } = garbage.address() as net.AddressInfo;
    try {
      const { code, stderr } = await refused({ REDIS_URL: `redis://127.0.0.1:${port}` });
      expect(code).toBe(2);
      expect(oneLine(stderr)).toMatch(new RegExp(`REDIS_URL redis://127\\.0\\.0\\.1:${port}.*not a Redis server`));
    } finally {
      garbage.close();
    }
  });

  it('a host that does not resolve', async () => {
    const { code, stderr } = await refused({ REDIS_URL: 'redis://casusbord-redis.invalid:6379' });
    expect(code).toBe(2);
    // A resolver that cannot be reached answers EAI_AGAIN, or nothing within the bound.
    expect(oneLine(stderr)).toMatch(/REDIS_URL redis:\/\/casusbord-redis\.invalid:6379: (cannot connect: getaddrinfo (ENOTFOUND|EAI_AGAIN)|no answer)/);
  });

  it('a Redis still loading its data is waited for, and the wait is logged', async () => {
    const loading = 3;
    let pings = 0;
    const fake = net.createServer((s) => {
      s.on('error', () => undefined);
      let buf = '';
      s.on('data', (c: Buffer) => {
        buf += c.toString('latin1');
        for (let cmd = takeCommand(buf); cmd; cmd = takeCommand(buf)) {
          buf = buf.slice(cmd.used);
          if (cmd.args[0]?.toUpperCase() !== 'PING') s.write('+OK\r\n');
          else s.write(++pings <= loading ? '-LOADING Redis is loading the dataset in memory\r\n' : '+PONG\r\n');
        }
      });
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    try {
      await checkRedis('REDIS_URL', `redis://127.0.0.1:${(fake.address() as net.AddressInfo).port}`, log);
    } finally {
      fake.close();
    }
    expect(pings).toBe(loading + 1);
    expect(lines.join('')).toContain('Redis is loading its data');
  });

  it('the bus Redis is checked too: REDIS_BUS_URL on a closed port', async () => {
    const port = await closedPort();
    const { code, stderr } = await refused({ REDIS_URL: redis.url, REDIS_PREFIX: newId('start'), REDIS_BUS_URL: `redis://127.0.0.1:${port}` });
    expect(code).toBe(2);
    expect(oneLine(stderr)).toContain(`REDIS_BUS_URL redis://127.0.0.1:${port}`);
  });
});

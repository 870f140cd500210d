import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../shared/ids.js';
import { RedisStore } from '../../server/store/redis.js';
import { startRedis, type PrivateRedis } from '../support/redis.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { when } from '../support/wait.js';

// Every Redis client of a server logs its errors (none is swallowed), and a Redis that stays away
// does not flood the log: one line per message, the repeats counted into the line after.
interface Line {
  msg: string;
  link?: string;
  err?: string;
  repeated?: number;
}

const LINKS = ['store', 'bus', 'cluster publish', 'cluster subscribe', 'socket.io adapter'];
let storeRedis: PrivateRedis;
let busRedis: PrivateRedis;
let srv: TestServer;
const lines: Line[] = [];
const watchers = new Set<() => void>();

/** Resolves once `done` holds, checked at every log line and client error; fails naming `what`. */
const until = (what: string, done: () => boolean): Promise<boolean> =>
  when(what, done, (fn) => {
    watchers.add(fn);
    return () => watchers.delete(fn);
  });

const clientErrors = (link: string): Line[] => lines.filter((l) => l.msg === 'Redis client error' && l.link === link);
const repeats = (link: string): Line[] => lines.filter((l) => l.msg === 'Redis client error: repeats' && l.link === link);

beforeAll(async () => {
  [storeRedis, busRedis] = await Promise.all([startRedis(), startRedis()]);
  const logger = pino(
    { level: 'info' },
    {
      write: (l: string) => {
        lines.push(JSON.parse(l) as Line);
        for (const w of [...watchers]) w();
      },
    },
  );
  srv = await startTestServer({ logger, env: { REDIS_URL: storeRedis.url, REDIS_BUS_URL: busRedis.url, REDIS_PREFIX: newId('t') } });
});

afterAll(async () => {
  try {
    await srv?.close();
  } finally {
    await Promise.all([storeRedis?.stop(), busRedis?.stop()]);
  }
});

describe('P-REDIS: Redis client errors are logged, never swallowed', () => {
  it('P-REDIS: every client logs its errors while Redis is away; repeats are counted, and told when it is back', async () => {
    const store = srv.app.store;
    if (!(store instanceof RedisStore)) throw new Error('the server runs on Redis');
    let seen = 0;
    store.redis.on('error', () => {
      seen++;
      for (const w of [...watchers]) w();
    });
    await Promise.all([storeRedis.stop(), busRedis.stop()]);

    // The store's client retries at most ~600 ms apart: several errors, of one or two messages.
    await until('four errors of the store client', () => seen >= 4);
    for (const link of LINKS) await until(`a logged error of the ${link} client`, () => clientErrors(link).length > 0);
    const during = clientErrors('store');
    expect(during.length).toBeLessThan(seen);
    expect(new Set(during.map((l) => l.err)).size).toBe(during.length);

    const ready = new Promise<void>((resolve) => store.redis.once('ready', () => resolve()));
    await Promise.all([storeRedis.restart(), busRedis.restart()]);
    await ready;
    // Each error line stands for itself and the repeats before it, a repeats line for its count.
    const told = clientErrors('store').reduce((n, l) => n + 1 + (l.repeated ?? 0), 0) + repeats('store').reduce((n, l) => n + l.repeated!, 0);
    expect(repeats('store').length).toBeGreaterThan(0);
    expect(told).toBe(seen);
  });
});

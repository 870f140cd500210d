import { createClient, type RedisClientType } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../shared/ids.js';
import { RedisCluster, SESSION_END_ACK_MS } from '../../server/cluster/cluster.js';
import { createLogger } from '../../server/log.js';
import { redisKeys, type RedisKeys } from '../../server/store/keys.js';
import { runClusterContract, within } from '../support/cluster.contract.js';
import { startRedis, type PrivateRedis } from '../support/redis.js';
import { startTcpProxy } from '../support/tcpProxy.js';

const log = createLogger('silent');
let redis: PrivateRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => redis?.stop());

/** As open.ts makes them: duplicates of a client that is never connected itself. */
const template = (url: string): RedisClientType => createClient({ url }) as RedisClientType;

/** Links of one cluster, each under its own key prefix per test so tests never hear each other. */
const connectLinks = (keys: RedisKeys, count: number, store?: RedisClientType): Promise<RedisCluster[]> =>
  Promise.all(Array.from({ length: count }, () => RedisCluster.connect(template(redis.url), keys, log, store)));

// The same contract as one process alone, over a real redis-server of this test's own.
runClusterContract('Redis pub/sub', async () => {
  const keys = redisKeys(newId('t'));
  return {
    links: (count) => connectLinks(keys, count),
    breakLinks: () => redis.restart(),
  };
});

/** A raw client on the test's Redis, for what no link would send. */
async function raw(): Promise<RedisClientType> {
  const c = createClient({ url: redis.url }) as RedisClientType;
  // Expected while a test restarts Redis; unheard, an 'error' would end the run.
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

describe('the Redis link on the wire', () => {
  it('P-SESSION: a session end waits for a link whose way back is slow, until that link has run its listeners', async () => {
    const keys = redisKeys(newId('t'));
    const proxy = await startTcpProxy(redis.port);
    const [a, c] = await connectLinks(keys, 2);
    const slow = await RedisCluster.connect(template(`redis://127.0.0.1:${proxy.port}`), keys, log);
    let resolved = false;
    /** At each call of the slow link's listener: had the end resolved already? */
    const seen: boolean[] = [];
    slow.onSessionsEnded(() => seen.push(resolved));
    const cHeard = new Promise<void>((resolve) => c!.onSessionsEnded(() => resolve()));
    const cDirectory = new Promise<void>((resolve) => c!.onDirectory(resolve));
    try {
      proxy.holdAnswers();
      const end = a!.sessionsEnded([`s${'1'.repeat(42)}`]).then(() => void (resolved = true));
      // Sent after the end: once the other link has it, Redis has long answered the end's publish.
      a!.directoryChanged();
      await within('the quick link hearing both', Promise.all([cHeard, cDirectory]));
      proxy.flow();
      await within('the session end', end);
      expect(seen).toEqual([false]);
    } finally {
      proxy.flow();
      await Promise.all([a!.close(), c!.close(), slow.close()]);
      await proxy.close();
    }
  });

  it('a link that never answers holds a session end no longer than SESSION_END_ACK_MS', async () => {
    const keys = redisKeys(newId('t'));
    const [a, b] = await connectLinks(keys, 2);
    // Subscribed like a link, but it never answers (a process hung, or of a version that does not).
    const deaf = await raw();
    await deaf.subscribe(keys.caseChannel, () => undefined);
    const ended: string[][] = [];
    b!.onSessionsEnded((ids) => ended.push(ids));
    try {
      const t0 = performance.now();
      await within('the bound', a!.sessionsEnded([`s${'0'.repeat(42)}`]), 2 * SESSION_END_ACK_MS);
      // It waited for the one that never answers, and then no longer.
      expect(performance.now() - t0).toBeGreaterThanOrEqual(SESSION_END_ACK_MS - 50);
      expect(ended).toHaveLength(1);
    } finally {
      await deaf.quit();
      await Promise.all([a!.close(), b!.close()]);
    }
  });

  it('a notice whose events do not parse arrives with none, so the receiver reads the log', async () => {
    const keys = redisKeys(newId('t'));
    const [a] = await connectLinks(keys, 1);
    const pub = await raw();
    const heard: unknown[] = [];
    let arrived!: () => void;
    const both = new Promise<void>((resolve) => (arrived = resolve));
    a!.onCase((caseId, version, events) => {
      heard.push({ caseId, version, events });
      if (heard.length === 2) arrived();
    });
    try {
      await pub.publish(keys.caseChannel, JSON.stringify({ from: 'elders', kind: 'case', caseId: 'cs_a', version: 3, events: [{ kapot: true }] }));
      await pub.publish(keys.caseChannel, JSON.stringify({ from: 'elders', kind: 'case', caseId: 'cs_a', version: 4 }));
      await within('both notices', both);
      expect(heard).toEqual([
        { caseId: 'cs_a', version: 3, events: [] },
        { caseId: 'cs_a', version: 4, events: [] },
      ]);
    } finally {
      await pub.quit();
      await a!.close();
    }
  });

  it('a document message without a case version (a process of an older version) is dropped', async () => {
    const keys = redisKeys(newId('t'));
    const [a, b] = await connectLinks(keys, 2);
    const pub = await raw();
    const heard: [number, number[]][] = [];
    let arrived!: () => void;
    const good = new Promise<void>((resolve) => (arrived = resolve));
    await b!.subscribeDoc('doc_1', (v, m) => {
      heard.push([v, [...m]]);
      arrived();
    });
    try {
      // The older framing: the sender's 12-byte id, then the Yjs message as it is.
      await pub.sendCommand(['PUBLISH', keys.docChannel('doc_1'), Buffer.from([...Array(12).fill(1), 0, 1, 2])]);
      a!.publishDoc('doc_1', 5, Uint8Array.from([0, 1, 2]));
      await within('the framed message', good);
      expect(heard).toEqual([[5, [0, 1, 2]]]);
    } finally {
      await pub.quit();
      await Promise.all([a!.close(), b!.close()]);
    }
  });

  it('with the bus on a Redis of its own, the store’s link coming back resyncs too', async () => {
    const storeRedis = await startRedis();
    const storeClient = createClient({ url: storeRedis.url }) as RedisClientType;
    storeClient.on('error', () => undefined);
    await storeClient.connect();
    const [a] = await connectLinks(redisKeys(newId('t')), 1, storeClient);
    let resynced!: () => void;
    const resync = new Promise<void>((resolve) => (resynced = resolve));
    a!.onResync(() => resynced());
    try {
      await storeRedis.restart();
      await within('a resync', resync);
    } finally {
      await a!.close();
      storeClient.destroy();
      await storeRedis.stop();
    }
  });
});

import { createClient, type RedisClientType } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../shared/ids.js';
import { RedisCluster } from '../../server/cluster/cluster.js';
import { createLogger } from '../../server/log.js';
import { redisKeys } from '../../server/store/keys.js';
import { startRedis, type PrivateRedis } from '../support/redis.js';

// The document lock that orders board edits of one text over processes (Cluster.lockDoc): two
// cluster links on one Redis, as two processes hold them.
let redis: PrivateRedis;
let client: RedisClientType;
let one: RedisCluster;
let two: RedisCluster;
const keys = redisKeys(newId('t'));

beforeAll(async () => {
  redis = await startRedis();
  client = createClient({ url: redis.url }) as RedisClientType;
  // Expected while the test stops or kills Redis; unheard, an 'error' would end the run.
  client.on('error', () => undefined);
  await client.connect();
  const log = createLogger('silent');
  [one, two] = await Promise.all([RedisCluster.connect(client, keys, log), RedisCluster.connect(client, keys, log)]);
});
afterAll(async () => {
  await one?.close();
  await two?.close();
  await client?.quit();
  await redis?.stop();
});

describe('R-OWN one writer of a document at a time over processes', () => {
  it('R-OWN: a second process gets the document only once the first released it', async () => {
    const order: string[] = [];
    const release = await one.lockDoc('doc_a');
    const second = two.lockDoc('doc_a').then((r) => {
      order.push('two holds it');
      return r;
    });
    // Another document is not held up by it.
    await (await two.lockDoc('doc_b'))();
    order.push('one releases');
    await release();
    await (await second)();
    expect(order).toEqual(['one releases', 'two holds it']);
  });

  it('R-OWN: a holder whose lock lapsed does not release the next holder’s', async () => {
    const lapsed = await one.lockDoc('doc_c');
    // As if its time ran out: the key is gone, and another process takes the lock.
    await client.del(keys.docLock('doc_c'));
    const next = await two.lockDoc('doc_c');
    await lapsed();
    expect(await client.exists(keys.docLock('doc_c'))).toBe(1);
    await next();
    expect(await client.exists(keys.docLock('doc_c'))).toBe(0);
  });

  it('R-OWN: waiters on one process take the document in turn', async () => {
    let inside = 0;
    let most = 0;
    await Promise.all(
      [0, 1, 2].map(async () => {
        const release = await one.lockDoc('doc_d');
        most = Math.max(most, ++inside);
        await client.ping();
        inside--;
        await release();
      }),
    );
    expect(most).toBe(1);
    expect(await client.exists(keys.docLock('doc_d'))).toBe(0);
  });
});

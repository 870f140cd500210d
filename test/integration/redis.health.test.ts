import { createClient, type RedisClientType } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisHealth } from '../../server/store/health.js';
import { STORE_UNAVAILABLE_AFTER_MS } from '../../shared/limits.js';
import { quietLog, startRedis, type PrivateRedis } from '../support/redis.js';

/** Blocks this process, as thousands of boards reconnecting at once keep a server busy. */
function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // The event loop reads nothing meanwhile: timers and I/O wait until this returns.
  }
}

describe('P-REDIS: a process too busy to read an answer is not a Redis that does not answer', () => {
  let redis: PrivateRedis;
  let client: RedisClientType;
  beforeAll(async () => {
    redis = await startRedis();
    client = createClient({ url: redis.url }) as RedisClientType;
    client.on('error', () => undefined);
    await client.connect();
  });
  afterAll(async () => {
    client.destroy();
    await redis.stop();
  });

  it('a call answered at once but read after the bound succeeds, and the link stays up', async () => {
    const health = new RedisHealth('store', client, quietLog);
    try {
      const call = health.guard(() => client.ping(), false);
      // Sent (node-redis writes in the next turn), answered by Redis at once, read only after the bound.
      await new Promise((r) => setImmediate(r));
      busyFor(STORE_UNAVAILABLE_AFTER_MS + 500);
      await expect(call).resolves.toBe('PONG');
      expect(health.ready).toBe(true);
      // And what comes next is served, not refused as if Redis were away.
      await expect(health.guard(() => client.ping(), false)).resolves.toBe('PONG');
    } finally {
      health.close();
    }
  });
});

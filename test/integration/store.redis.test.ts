import { afterAll, beforeAll } from 'vitest';
import { newId } from '../../shared/ids.js';
import { RedisStore } from '../../server/store/redis.js';
import { startRedis, type PrivateRedis } from '../support/redis.js';
import { runStoreContract } from '../support/store.contract.js';

let redis: PrivateRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => redis?.stop());

// The same contract as SQLite, against a real redis-server of this test's own.
runStoreContract('Redis', async () => {
  const prefix = newId('t');
  return {
    store: await RedisStore.connect(redis.url, prefix),
    reopen: () => RedisStore.connect(redis.url, prefix),
  };
});

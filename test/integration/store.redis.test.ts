import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { newCommandId, newId, type CaseId, type OrgId, type UserId } from '../../shared/ids.js';
import { COMMAND_ANSWER_KEEP_MS, LOGIN_DEVICE_TRUST_MS, LOGIN_THROTTLE_ACCOUNT } from '../../shared/limits.js';
import { OutcomeUnknownError, VersionConflictError, type AccessRecord, type NewEvent } from '../../server/store/types.js';
import { RedisStore } from '../../server/store/redis.js';
import { quietLog, startRedis, type PrivateRedis } from '../support/redis.js';
import { runStoreContract } from '../support/store.contract.js';
import { poll } from '../support/wait.js';

let redis: PrivateRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => redis?.stop());

// The same contract as SQLite, against a real redis-server of this test's own.
runStoreContract('Redis', async () => {
  const prefix = newId('t');
  return {
    store: await RedisStore.connect(redis.url, prefix, quietLog),
    reopen: () => RedisStore.connect(redis.url, prefix, quietLog),
  };
});

const testEvent = (): NewEvent => ({
  type: 'test.event',
  payload: { n: 1 },
  at: new Date().toISOString(),
  actorUserId: 'usr_a' as UserId,
  actorOrgId: 'org_a' as OrgId,
});

// Scripts run by their SHA1; a Redis that lost its script cache (a restart) gets the text once.
describe('Redis scripts after a restart emptied the script cache', () => {
  it('an append after SCRIPT FLUSH is applied exactly once', async () => {
    const store = await RedisStore.connect(redis.url, newId('t'), quietLog);
    try {
      const caseId = newId<CaseId>('cs');
      const event = testEvent();
      expect(await store.appendEvents(caseId, 0, [event])).toBe(1);
      await store.redis.sendCommand(['SCRIPT', 'FLUSH']);
      expect(await store.appendEvents(caseId, 1, [event])).toBe(2);
      expect(await store.readEvents(caseId)).toHaveLength(2);
    } finally {
      await store.close();
    }
  });
});

describe('P-CATCHUP: a lost append race', () => {
  it('P-CATCHUP: is answered with the entries it missed, numbered as the log holds them; none when it missed more than a few', async () => {
    const store = await RedisStore.connect(redis.url, newId('t'), quietLog);
    const eventN = (n: number): NewEvent => ({
      type: 'test.event',
      payload: { n },
      at: '2026-11-01T10:00:00.000Z',
      actorUserId: 'usr_a' as UserId,
      actorOrgId: 'org_a' as OrgId,
    });
    try {
      const caseId = newId<CaseId>('cs');
      await store.appendEvents(caseId, 0, [eventN(1), eventN(2), eventN(3)]);
      const lost = await store.appendEvents(caseId, 1, [eventN(9)]).catch((e: unknown) => e);
      expect(lost).toBeInstanceOf(VersionConflictError);
      expect((lost as VersionConflictError).missed).toEqual([
        { caseId, version: 2, ...eventN(2) },
        { caseId, version: 3, ...eventN(3) },
      ]);
      await store.appendEvents(
        caseId,
        3,
        Array.from({ length: 100 }, (_, i) => eventN(10 + i)),
      );
      const far = await store.appendEvents(caseId, 1, [eventN(9)]).catch((e: unknown) => e);
      expect(far).toBeInstanceOf(VersionConflictError);
      expect((far as VersionConflictError).missed).toBeUndefined();
      expect(await store.readEvents(caseId)).toHaveLength(103);
    } finally {
      await store.close();
    }
  });
});

/** A read by usr_a of org_a, at a fixed moment. */
const accessRecordOf = (caseId: CaseId, operation: string): AccessRecord => ({
  at: '2026-11-01T10:00:00.000Z',
  action: 'read',
  operation,
  caseId,
  itemId: null,
  userId: 'usr_a' as UserId,
  orgId: 'org_a' as OrgId,
  role: 'deelnemer',
  purpose: 'casusoverleg',
  address: '10.0.0.1',
  outcome: 'ok',
});

// Redis does not roll a script back when a command in it fails: the events go in last.
describe('R-FILE: an append that fails inside Redis', () => {
  it('R-FILE: leaves no event without its access record', async () => {
    const store = await RedisStore.connect(redis.url, newId('t'), quietLog);
    try {
      const caseId = newId<CaseId>('cs');
      const event = testEvent();
      const record: AccessRecord = { ...accessRecordOf(caseId, 'item:add'), at: event.at, action: 'create' };
      // The records' hash made unwritable: the script fails when it writes the record.
      await store.redis.set(store.keyNames.accessRecords, 'geen hash');
      const refused = await store.appendEvents(caseId, 0, [event], [record]).catch((e: unknown) => e);
      expect(String(refused)).toMatch(/WRONGTYPE/);
      // Redis answered: known not committed, never reported as an unknown outcome (P-ONCE).
      expect(refused).not.toBeInstanceOf(OutcomeUnknownError);
      expect(await store.readEvents(caseId)).toEqual([]);
      await store.redis.del(store.keyNames.accessRecords);
      expect(await store.appendEvents(caseId, 0, [event], [record])).toBe(1);
      expect((await store.readAccess({ caseId })).map((r) => r.operation)).toEqual(['item:add']);
    } finally {
      await store.close();
    }
  });
});

describe('P-ONCE: which failed appends may have committed', () => {
  const event = (): NewEvent => ({
    type: 'test.event',
    payload: { n: 1 },
    at: new Date().toISOString(),
    actorUserId: 'usr_a' as UserId,
    actorOrgId: 'org_a' as OrgId,
  });

  it('P-ONCE: an append sent to a Redis that then died unanswered is an unknown outcome', async () => {
    const own = await startRedis();
    const store = await RedisStore.connect(own.url, newId('t'), quietLog);
    const watcher = createClient({ url: own.url });
    // Expected while the test stops or kills Redis; unheard, an 'error' would end the run.
    watcher.on('error', () => undefined);
    await watcher.connect();
    try {
      const caseId = newId<CaseId>('cs');
      // Writes held: the append reaches Redis and waits there, unanswered.
      await watcher.sendCommand(['CLIENT', 'PAUSE', '60000', 'WRITE']);
      const append = store
        .appendEvents(caseId, 0, [event()], [], { userId: 'usr_a' as UserId, commandId: newCommandId(), answer: 'null', at: Date.now() })
        .catch((e: unknown) => e);
      await poll('the held append to reach Redis (CLIENT LIST shows its evalsha)', async () =>
        String(await watcher.sendCommand(['CLIENT', 'LIST'])).includes('cmd=evalsha'),
      );
      await own.restart({ signal: 'SIGKILL' });
      expect(await append).toBeInstanceOf(OutcomeUnknownError);
    } finally {
      watcher.destroy();
      store.redis.destroy();
      await own.stop();
    }
  });

  it('P-ONCE: an append on a closed client was never sent: a plain failure', async () => {
    const store = await RedisStore.connect(redis.url, newId('t'), quietLog);
    await store.close();
    const refused = await store.appendEvents(newId<CaseId>('cs'), 0, [event()]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Error);
    expect(refused).not.toBeInstanceOf(OutcomeUnknownError);
  });

  it('P-ONCE: a command record lives no longer than COMMAND_ANSWER_KEEP_MS in Redis either', async () => {
    const store = await RedisStore.connect(redis.url, newId('t'), quietLog);
    try {
      const commandId = newCommandId();
      await store.appendEvents(newId<CaseId>('cs'), 0, [event()], [], { userId: 'usr_a' as UserId, commandId, answer: 'null', at: Date.now() });
      const ttl = await store.redis.pTTL(store.keyNames.commandAnswer('usr_a', commandId));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(COMMAND_ANSWER_KEEP_MS);
    } finally {
      await store.close();
    }
  });
});

describe('P-THROTTLE: Redis login buckets and known devices', () => {
  it('P-THROTTLE: keeps moments to the millisecond and lets each key expire with its window or trust', async () => {
    const store = await RedisStore.connect(redis.url, newId('t'), quietLog);
    try {
      const t = Date.UTC(2026, 10, 29, 10, 0, 0, 123);
      const key = store.keyNames.loginThrottle('k');
      expect(await store.takeLoginAttempt([{ key: 'k', policy: LOGIN_THROTTLE_ACCOUNT }], t)).toBe(0);
      expect(await store.takeLoginAttempt([{ key: 'k', policy: LOGIN_THROTTLE_ACCOUNT }], t + 7)).toBe(0);
      expect(await store.redis.hGetAll(key)).toEqual({ count: '2', firstAt: String(t), lastAt: String(t + 7) });
      // The window counts from the first failure: 7 ms of it have gone.
      const ttl = await store.redis.pTTL(key);
      expect(ttl).toBeLessThanOrEqual(LOGIN_THROTTLE_ACCOUNT.windowMs - 7);
      expect(ttl).toBeGreaterThan(LOGIN_THROTTLE_ACCOUNT.windowMs - 60_000);
      await store.rememberLoginDevice('dev', 'usr_a' as UserId, t, LOGIN_DEVICE_TRUST_MS);
      const deviceTtl = await store.redis.pTTL(store.keyNames.loginDevice('usr_a', 'dev'));
      expect(deviceTtl).toBeLessThanOrEqual(LOGIN_DEVICE_TRUST_MS);
      expect(deviceTtl).toBeGreaterThan(LOGIN_DEVICE_TRUST_MS - 60_000);
      // Taken back to nothing, the key goes.
      await store.returnLoginAttempt(['k', 'k']);
      expect(await store.redis.exists(key)).toBe(0);
    } finally {
      await store.close();
    }
  });
});

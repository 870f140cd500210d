import { createClient, RESP_TYPES, type RedisClientType } from 'redis';
import type { Organisation, Table } from '../../shared/domain.js';
import type { CaseId, UserId } from '../../shared/ids.js';
import { redisKeys, type RedisKeys } from './keys.js';
import { AccessRow, OrganisationRow, SessionRow, StoredEventRow, TableRow, UserRow } from './rows.js';
import {
  VersionConflictError,
  type AccessQuery,
  type AccessRecord,
  type LoginFailures,
  type NewEvent,
  type SessionRecord,
  type Store,
  type StoredEvent,
  type UserRecord,
} from './types.js';

// Appends a case's events only if the log has exactly the expected length, and writes the change
// records in the same atomic step: one order per case across every process.
const APPEND = `
local len = redis.call('LLEN', KEYS[1])
local expected = tonumber(ARGV[1])
if len ~= expected then return {-1, len} end
local nEvents = tonumber(ARGV[2])
for i = 1, nEvents do redis.call('RPUSH', KEYS[1], ARGV[2 + i]) end
redis.call('SADD', KEYS[2], ARGV[3 + nEvents])
local i = 4 + nEvents
while i <= #ARGV do
  redis.call('RPUSH', KEYS[3], ARGV[i + 2])
  redis.call('RPUSH', ARGV[i], ARGV[i + 2])
  if ARGV[i + 1] ~= '' then redis.call('RPUSH', ARGV[i + 1], ARGV[i + 2]) end
  i = i + 3
end
return {1, len + nEvents}`;

const RECORD_FAILURE = `
local count = tonumber(redis.call('HGET', KEYS[1], 'count') or '0')
local locked = tonumber(redis.call('HGET', KEYS[1], 'lockedUntil') or '0')
local now = tonumber(ARGV[1])
if locked > 0 and locked <= now then count = 1 else count = count + 1 end
local lockedUntil = 0
if count >= tonumber(ARGV[2]) then lockedUntil = now + tonumber(ARGV[3]) end
redis.call('HSET', KEYS[1], 'count', count, 'lockedUntil', lockedUntil)
return {count, lockedUntil}`;

const PUT_USER = `
local owner = redis.call('HGET', KEYS[2], ARGV[2])
if owner and owner ~= ARGV[1] then return 0 end
local previous = redis.call('HGET', KEYS[1], ARGV[1])
if previous then
  local old = cjson.decode(previous)['username']
  if old ~= ARGV[2] then redis.call('HDEL', KEYS[2], old) end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
return 1`;

const TOUCH_SESSION = `if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'lastSeenAt', ARGV[1]) end return 1`;

const COMPACT_DOC = `redis.call('LTRIM', KEYS[1], tonumber(ARGV[2]), -1) redis.call('LPUSH', KEYS[1], ARGV[1]) return 1`;

/**
 * The store for several server processes on one Redis: the same contract as SQLite
 * (test/support/store.contract.ts). Redis must run with append-only persistence in production;
 * a command is acknowledged only after Redis has answered the append.
 */
export class RedisStore implements Store {
  private readonly keys: RedisKeys;

  private constructor(
    private readonly client: RedisClientType,
    prefix: string,
  ) {
    this.keys = redisKeys(prefix);
  }

  static async connect(url: string, prefix = 'casusbord'): Promise<RedisStore> {
    const client = createClient({ url }) as RedisClientType;
    // Reconnects on its own; errors are reported through failed commands, not crashes.
    client.on('error', () => undefined);
    await client.connect();
    return new RedisStore(client, prefix);
  }

  get redis(): RedisClientType {
    return this.client;
  }

  get keyNames(): RedisKeys {
    return this.keys;
  }

  async appendEvents(caseId: CaseId, expectedVersion: number, events: NewEvent[], access: AccessRecord[] = []): Promise<number> {
    const args: string[] = [String(expectedVersion), String(events.length), ...events.map((e) => JSON.stringify(e)), caseId];
    for (const r of access) {
      args.push(r.caseId ? this.keys.accessByCase(r.caseId) : this.keys.accessByCase('-'), r.userId ? this.keys.accessByUser(r.userId) : '', JSON.stringify(r));
    }
    const [ok, version] = (await this.client.sendCommand(['EVAL', APPEND, '3', this.keys.caseEvents(caseId), this.keys.cases, this.keys.access, ...args])) as [number, number];
    if (ok !== 1) throw new VersionConflictError(caseId, expectedVersion, version);
    return version;
  }

  async readEvents(caseId: CaseId, afterVersion = 0, upToVersion = Number.MAX_SAFE_INTEGER): Promise<StoredEvent[]> {
    const end = upToVersion >= Number.MAX_SAFE_INTEGER ? -1 : upToVersion - 1;
    if (end !== -1 && end < afterVersion) return [];
    const rows = await this.client.lRange(this.keys.caseEvents(caseId), afterVersion, end);
    return rows.map((json, i) => StoredEventRow.parse({ ...(JSON.parse(json) as object), caseId, version: afterVersion + i + 1 }));
  }

  async caseIds(): Promise<CaseId[]> {
    return (await this.client.sMembers(this.keys.cases)) as CaseId[];
  }

  async listOrgs(): Promise<Organisation[]> {
    return Object.values(await this.client.hGetAll(this.keys.orgs)).map((j) => OrganisationRow.parse(JSON.parse(j)));
  }
  async putOrg(org: Organisation): Promise<void> {
    await this.client.hSet(this.keys.orgs, org.id, JSON.stringify(org));
  }
  async listUsers(): Promise<UserRecord[]> {
    return Object.values(await this.client.hGetAll(this.keys.users)).map((j) => UserRow.parse(JSON.parse(j)));
  }
  async putUser(user: UserRecord): Promise<void> {
    const ok = await this.client.sendCommand(['EVAL', PUT_USER, '2', this.keys.users, this.keys.usernames, user.id, user.username, JSON.stringify(user)]);
    if ((ok as unknown) !== 1) throw new Error('UNIQUE constraint failed: users.username');
  }
  async listTables(): Promise<Table[]> {
    return Object.values(await this.client.hGetAll(this.keys.tables)).map((j) => TableRow.parse(JSON.parse(j)));
  }
  async putTable(table: Table): Promise<void> {
    await this.client.hSet(this.keys.tables, table.id, JSON.stringify(table));
  }

  async putSession(s: SessionRecord): Promise<void> {
    await this.client
      .multi()
      .hSet(this.keys.session(s.idHash), { userId: s.userId, createdAt: String(s.createdAt), lastSeenAt: String(s.lastSeenAt) })
      .sAdd(this.keys.userSessions(s.userId), s.idHash)
      .exec();
  }
  async getSession(idHash: string): Promise<SessionRecord | undefined> {
    const h = await this.client.hGetAll(this.keys.session(idHash));
    if (!h.userId) return undefined;
    return SessionRow.parse({ idHash, userId: h.userId, createdAt: Number(h.createdAt), lastSeenAt: Number(h.lastSeenAt) });
  }
  async touchSession(idHash: string, lastSeenAt: number): Promise<void> {
    await this.client.sendCommand(['EVAL', TOUCH_SESSION, '1', this.keys.session(idHash), String(lastSeenAt)]);
  }
  async deleteSession(idHash: string): Promise<void> {
    const userId = await this.client.hGet(this.keys.session(idHash), 'userId');
    const m = this.client.multi().del(this.keys.session(idHash));
    if (userId) m.sRem(this.keys.userSessions(userId), idHash);
    await m.exec();
  }
  async deleteSessionsOf(userId: UserId): Promise<string[]> {
    const ids = await this.client.sMembers(this.keys.userSessions(userId));
    const m = this.client.multi().del(this.keys.userSessions(userId));
    for (const id of ids) m.del(this.keys.session(id));
    await m.exec();
    return ids;
  }

  async getLoginFailures(key: string): Promise<LoginFailures> {
    const h = await this.client.hGetAll(this.keys.loginFailures(key));
    return { count: Number(h.count ?? 0), lockedUntil: Number(h.lockedUntil ?? 0) };
  }
  async recordLoginFailure(key: string, now: number, maxFailures: number, lockMs: number): Promise<LoginFailures> {
    const [count, lockedUntil] = (await this.client.sendCommand([
      'EVAL',
      RECORD_FAILURE,
      '1',
      this.keys.loginFailures(key),
      String(now),
      String(maxFailures),
      String(lockMs),
    ])) as [number, number];
    return { count, lockedUntil };
  }
  async clearLoginFailures(key: string): Promise<void> {
    await this.client.del(this.keys.loginFailures(key));
  }

  async appendAccess(records: AccessRecord[]): Promise<void> {
    if (records.length === 0) return;
    // One RPUSH per list with all its records: a batch of reads touches few lists many times.
    const lists = new Map<string, string[]>();
    const push = (key: string, json: string): void => {
      const l = lists.get(key);
      if (l) l.push(json);
      else lists.set(key, [json]);
    };
    for (const r of records) {
      const json = JSON.stringify(r);
      push(this.keys.access, json);
      push(this.keys.accessByCase(r.caseId ?? '-'), json);
      if (r.userId) push(this.keys.accessByUser(r.userId), json);
    }
    const m = this.client.multi();
    for (const [key, values] of lists) m.rPush(key, values);
    await m.exec();
  }
  async readAccess(q: AccessQuery): Promise<AccessRecord[]> {
    const key = q.caseId ? this.keys.accessByCase(q.caseId) : q.userId ? this.keys.accessByUser(q.userId) : this.keys.access;
    const rows = await this.client.lRange(key, 0, (q.limit ?? 10_000) - 1);
    return rows.map((j) => AccessRow.parse(JSON.parse(j)));
  }

  async appendDocUpdate(docId: string, update: Uint8Array): Promise<void> {
    await this.client.sendCommand(['RPUSH', this.keys.doc(docId), Buffer.from(update)]);
  }
  async readDocUpdates(docId: string): Promise<Uint8Array[]> {
    const binary = this.client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    const rows = (await binary.lRange(this.keys.doc(docId), 0, -1)) as unknown as Buffer[];
    return rows.map((b) => new Uint8Array(b));
  }
  async compactDoc(docId: string, merged: Uint8Array, count: number): Promise<void> {
    await this.client.sendCommand(['EVAL', COMPACT_DOC, '1', this.keys.doc(docId), Buffer.from(merged), String(count)]);
  }

  async getMeta(key: string): Promise<string | undefined> {
    return (await this.client.hGet(this.keys.meta, key)) ?? undefined;
  }
  async initMeta(key: string, value: string): Promise<string> {
    await this.client.hSetNX(this.keys.meta, key, value);
    return (await this.client.hGet(this.keys.meta, key))!;
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.quit();
  }
}

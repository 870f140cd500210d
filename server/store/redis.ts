import { ClientClosedError, ClientOfflineError, createClient, ErrorReply, RESP_TYPES, type RedisClientType } from 'redis';
import type { Meeting, MeetingRoom, Organisation, RoomChange, Table } from '../../shared/domain.js';
import type { CaseId, CommandId, MeetingId, UserId } from '../../shared/ids.js';
import { COMMAND_ANSWER_KEEP_MS } from '../../shared/limits.js';
import { logRedisErrors, type Logger } from '../log.js';
import { redisKeys, type RedisKeys } from './keys.js';
import { LuaScript } from './luaScript.js';
import { groupAccess, unpackAccess } from './redisAccess.js';
import { MeetingRoomRow, MeetingRow, OrganisationRow, SessionRow, StoredEventRow, TableRow, UserRow } from './rows.js';
import { closeRedis } from './redisClose.js';
import {
  CommandDoneError,
  type DocSnapshot,
  ACCESS_PURGE_META,
  OutcomeUnknownError,
  VersionConflictError,
  type AccessPage,
  type AccessQuery,
  type AccessSearch,
  type AccessRecord,
  type CommandRecord,
  type LoginBucket,
  type NewEvent,
  type SessionRecord,
  type Store,
  type StoredEvent,
  type UserRecord,
} from './types.js';

// Writes access-record groups given in ARGV from `first` on, each as: the packed group, the
// number of lists it goes to, those lists (redisAccess.ts). Each group is one hash field `g<seq>`;
// one HSET for the batch and one RPUSH per list.
const WRITE_ACCESS = `
local function chunked(cmd, key, t)
  for s = 1, #t, 2000 do redis.call(cmd, key, unpack(t, s, math.min(s + 1999, #t))) end
end
local function writeAccess(seqKey, recKey, first)
  local fields, lists, order = {}, {}, {}
  local i = first
  while i <= #ARGV do
    local ref = 'g' .. redis.call('INCR', seqKey)
    fields[#fields + 1] = ref
    fields[#fields + 1] = ARGV[i]
    local n = tonumber(ARGV[i + 1])
    for k = i + 2, i + 1 + n do
      local key = ARGV[k]
      local l = lists[key]
      if not l then l = {}; lists[key] = l; order[#order + 1] = key end
      l[#l + 1] = ref
    end
    i = i + 2 + n
  end
  if #fields == 0 then return end
  chunked('HSET', recKey, fields)
  for _, key in ipairs(order) do chunked('RPUSH', key, lists[key]) end
end`;

/** A lost race is answered with the entries it missed, up to this many (a busy co-edited text is a few behind). */
const MISSED_MAX = 64;

// Appends a case's events only if the log has exactly the expected length, and writes the change
// records in the same atomic step: one order per case across every process. Redis does not roll
// a script back when a command in it fails, so the events go last, in one RPUSH (up to 2,000): a failure
// before it leaves at most a record of a change that was not made, never a change without its record.
// With a command (KEYS[5]): nothing is appended when that command is recorded and still kept, and
// its record follows the events as one SET, which no key's type can make fail (P-ONCE).
// ARGV: expected, n, the n events, caseId, at, until, answer, keep (ms), then the access groups.
// A lost race answers {-1, length} and, when few, the entries past the expected length.
// The record is "<until> <answer>": the value decides (in the caller's clock), the expiry clears it away.
const APPEND = new LuaScript(`${WRITE_ACCESS}
local nEvents = tonumber(ARGV[2])
local c = 3 + nEvents
if KEYS[5] then
  local old = redis.call('GET', KEYS[5])
  if old then
    local sp = string.find(old, ' ', 1, true)
    if sp and tonumber(string.sub(old, 1, sp - 1)) > tonumber(ARGV[c + 1]) then return {0, string.sub(old, sp + 1)} end
  end
end
local len = redis.call('LLEN', KEYS[1])
local expected = tonumber(ARGV[1])
if len ~= expected then
  if len > expected and len - expected <= ${MISSED_MAX} then return {-1, len, redis.call('LRANGE', KEYS[1], expected, len - 1)} end
  return {-1, len}
end
redis.call('SADD', KEYS[2], ARGV[c])
writeAccess(KEYS[3], KEYS[4], c + 5)
local events = {}
for i = 1, nEvents do events[i] = ARGV[2 + i] end
chunked('RPUSH', KEYS[1], events)
if KEYS[5] then redis.call('SET', KEYS[5], ARGV[c + 2] .. ' ' .. ARGV[c + 3], 'PX', ARGV[c + 4]) end
return {1, len + nEvents}`);

/**
 * Whether a failed script may have run: unless Redis answered (an error reply: the append script
 * writes its events last, so it failed before them) or the command was never sent (the client
 * closed or offline), its answer was lost on the way and Redis may have run it.
 */
const mayHaveRun = (err: unknown): boolean => !(err instanceof ErrorReply || err instanceof ClientClosedError || err instanceof ClientOfflineError);

const APPEND_ACCESS = new LuaScript(`${WRITE_ACCESS}
writeAccess(KEYS[1], KEYS[2], 1)
return 1`);

// takeLoginAttempt: loginRetryAt (types.ts) over every bucket, then the count in each, in one
// step. ARGV: now, then per key its policy: freeFailures, firstDelayMs, maxDelayMs, maxFailures
// (0: none), windowMs. Times are written as they came (strings), not as Lua numbers, whose
// printing into a command differs between Redis versions. The expiry only clears the key away;
// the window decides.
const TAKE_LOGIN_ATTEMPT = new LuaScript(`
local now = tonumber(ARGV[1])
local seen = {}
local retryAt = 0
for i, key in ipairs(KEYS) do
  local o = 1 + (i - 1) * 5
  local free, first, maxDelay = tonumber(ARGV[o + 1]), tonumber(ARGV[o + 2]), tonumber(ARGV[o + 3])
  local cap, window = tonumber(ARGV[o + 4]), tonumber(ARGV[o + 5])
  local h = redis.call('HMGET', key, 'count', 'firstAt', 'lastAt')
  local count, firstAt, lastAt = tonumber(h[1]) or 0, tonumber(h[2]) or 0, tonumber(h[3]) or 0
  if count <= 0 or now >= firstAt + window then count = 0 end
  local at = 0
  if count > 0 and cap > 0 and count >= cap then at = firstAt + window
  elseif count > 0 and count >= free then at = lastAt + math.min(maxDelay, first * 2 ^ (count - free)) end
  if at > retryAt then retryAt = at end
  seen[i] = { count, h[2], firstAt, window }
end
if retryAt > now then return retryAt end
for i, key in ipairs(KEYS) do
  local count, firstText, firstAt, window = seen[i][1], seen[i][2], seen[i][3], seen[i][4]
  if count == 0 then firstText, firstAt = ARGV[1], now end
  redis.call('HSET', key, 'count', tostring(count + 1), 'firstAt', firstText, 'lastAt', ARGV[1])
  redis.call('PEXPIRE', key, string.format('%d', math.max(1, math.ceil(firstAt + window - now))))
end
return 0`);

const RETURN_LOGIN_ATTEMPT = new LuaScript(`
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 and redis.call('HINCRBY', key, 'count', -1) <= 0 then redis.call('DEL', key) end
end
return 1`);

const PUT_USER = new LuaScript(`
local owner = redis.call('HGET', KEYS[2], ARGV[2])
if owner and owner ~= ARGV[1] then return 0 end
local previous = redis.call('HGET', KEYS[1], ARGV[1])
if previous then
  local old = cjson.decode(previous)['username']
  if old ~= ARGV[2] then redis.call('HDEL', KEYS[2], old) end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
return 1`);

/** How many groups a search with no case or person looks through per page (see SQLite's window). */
const ACCESS_SCAN_GROUPS = 20_000;

// Closing is for good: a closed meeting is not written over (by a process that had not heard).
const PUT_MEETING = new LuaScript(`
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local closed = cjson.decode(old)['closedAt']
  if closed ~= nil and closed ~= cjson.null then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`);

// Like PUT_MEETING: a closed (or unknown) meeting's room is not written. ARGV: meeting id, the
// number entering, who enters, who leaves. Answers {1, version, who is in the room...} or {0}.
const CHANGE_MEETING_ROOM = new LuaScript(`
local m = redis.call('HGET', KEYS[1], ARGV[1])
if not m then return {0} end
local closed = cjson.decode(m)['closedAt']
if closed ~= nil and closed ~= cjson.null then return {0} end
local entering = tonumber(ARGV[2])
for i = 3, #ARGV do
  if i - 2 <= entering then redis.call('SADD', KEYS[2], ARGV[i]) else redis.call('SREM', KEYS[2], ARGV[i]) end
end
redis.call('SADD', KEYS[3], ARGV[1])
local version = redis.call('HINCRBY', KEYS[4], ARGV[1], 1)
local out = redis.call('SMEMBERS', KEYS[2])
table.insert(out, 1, version)
table.insert(out, 1, 1)
return out`);

const TOUCH_SESSION = new LuaScript(`if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'lastSeenAt', ARGV[1]) end return 1`);

// Keeps a snapshot only when it is past the stored one.
/** R-RETAIN: the purge, only of a log still at the version that was sealed (ARGV[1]); -1 and nothing done otherwise. */
const PURGE_CASE = new LuaScript(`
local n = redis.call('LLEN', KEYS[1])
if n ~= tonumber(ARGV[1]) then return {-1, n} end
redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[3])
redis.call('SREM', KEYS[3], ARGV[2])
for i = 1, #KEYS do if i ~= 2 and i ~= 3 then redis.call('DEL', KEYS[i]) end end
return {n, n}`);

const PUT_DOC_SNAPSHOT = new LuaScript(`
local v = redis.call('HGET', KEYS[1], 'version')
if v and tonumber(v) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'state', ARGV[2])
return 1`);

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

  /**
   * @param failFast the server's store (see store/health.ts): a call made while the connection is
   *   down fails at once (no offline queue), instead of waiting out the outage and then being
   *   applied after its caller was told it failed; and it reconnects at most half a second apart
   *   (not node-redis's 2 s), since until then the server answers UNAVAILABLE. Tools and tests
   *   that read the store keep node-redis's defaults.
   */
  static async connect(url: string, prefix: string, log: Logger, { failFast = false } = {}): Promise<RedisStore> {
    const reconnectStrategy = (retries: number): number => Math.min(50 * 2 ** retries, 500) + Math.floor(Math.random() * 100);
    const client = createClient(failFast ? { url, disableOfflineQueue: true, socket: { reconnectStrategy } } : { url }) as RedisClientType;
    // Reconnects on its own; its callers hear of errors through failed commands, the log from here.
    logRedisErrors(client, 'store', log);
    await client.connect();
    return new RedisStore(client, prefix);
  }

  get redis(): RedisClientType {
    return this.client;
  }

  get keyNames(): RedisKeys {
    return this.keys;
  }

  private accessArgs(records: AccessRecord[]): string[] {
    const args: string[] = [];
    for (const g of groupAccess(records)) {
      const lists = new Set<string>();
      for (const r of g.records) lists.add(this.keys.accessByCase(r.caseId ?? '-'));
      for (const r of g.records) if (r.userId) lists.add(this.keys.accessByUser(r.userId));
      args.push(g.packed, String(lists.size), ...lists);
    }
    return args;
  }

  async appendEvents(caseId: CaseId, expectedVersion: number, events: NewEvent[], access: AccessRecord[] = [], command?: CommandRecord): Promise<number> {
    const cmd = command
      ? [String(command.at), String(command.at + COMMAND_ANSWER_KEEP_MS), command.answer, String(COMMAND_ANSWER_KEEP_MS)]
      : ['0', '0', '', '0'];
    const args: string[] = [
      String(expectedVersion),
      String(events.length),
      ...events.map((e) => JSON.stringify(e)),
      caseId,
      ...cmd,
      ...this.accessArgs(access),
    ];
    const keys = [this.keys.caseEvents(caseId), this.keys.cases, this.keys.accessSeq, this.keys.accessRecords];
    if (command) keys.push(this.keys.commandAnswer(command.userId, command.commandId));
    let reply: [number, number | string, string[]?];
    try {
      reply = (await APPEND.run(this.client, keys, args)) as [number, number | string, string[]?];
    } catch (err) {
      throw mayHaveRun(err) ? new OutcomeUnknownError(err) : err;
    }
    const [ok, value, missed] = reply;
    if (ok === 0) throw new CommandDoneError(String(value));
    if (ok !== 1) throw new VersionConflictError(caseId, expectedVersion, Number(value), missed && this.rows(caseId, expectedVersion, missed));
    return Number(value);
  }

  async commandAnswer(userId: UserId, commandId: CommandId, now: number): Promise<string | undefined> {
    const kept = await this.client.get(this.keys.commandAnswer(userId, commandId));
    const sp = kept?.indexOf(' ') ?? -1;
    if (!kept || sp < 0 || Number(kept.slice(0, sp)) <= now) return undefined;
    return kept.slice(sp + 1);
  }

  async readEvents(caseId: CaseId, afterVersion = 0, upToVersion = Number.MAX_SAFE_INTEGER): Promise<StoredEvent[]> {
    const end = upToVersion >= Number.MAX_SAFE_INTEGER ? -1 : upToVersion - 1;
    if (end !== -1 && end < afterVersion) return [];
    return this.rows(caseId, afterVersion, await this.client.lRange(this.keys.caseEvents(caseId), afterVersion, end));
  }

  /** Stored events as the list holds them, the first after `afterVersion`. */
  private rows(caseId: CaseId, afterVersion: number, json: string[]): StoredEvent[] {
    return json.map((j, i) => StoredEventRow.parse({ ...(JSON.parse(j) as object), caseId, version: afterVersion + i + 1 }));
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
    const ok = await PUT_USER.run(this.client, [this.keys.users, this.keys.usernames], [user.id, user.username, JSON.stringify(user)]);
    if ((ok as unknown) !== 1) throw new Error('UNIQUE constraint failed: users.username');
  }
  async listTables(): Promise<Table[]> {
    return Object.values(await this.client.hGetAll(this.keys.tables)).map((j) => TableRow.parse(JSON.parse(j)));
  }
  async putTable(table: Table): Promise<void> {
    await this.client.hSet(this.keys.tables, table.id, JSON.stringify(table));
  }
  async listMeetings(): Promise<Meeting[]> {
    return Object.values(await this.client.hGetAll(this.keys.meetings)).map((j) => MeetingRow.parse(JSON.parse(j)));
  }
  async putMeeting(meeting: Meeting): Promise<boolean> {
    return ((await PUT_MEETING.run(this.client, [this.keys.meetings], [meeting.id, JSON.stringify(meeting)])) as unknown) === 1;
  }

  async listMeetingRooms(): Promise<MeetingRoom[]> {
    const ids = await this.client.sMembers(this.keys.meetingRooms);
    if (ids.length === 0) return [];
    // One transaction for every room (the directory reloads often): a version never goes with
    // another change's people, and a reload is one round trip however many meetings had a room.
    const read = this.client.multi();
    for (const meetingId of ids) read.sMembers(this.keys.meetingRoom(meetingId)).hGet(this.keys.meetingRoomVersions, meetingId);
    const replies = (await read.exec()) as unknown as (string[] | string | null)[];
    return ids.map((meetingId, i) =>
      MeetingRoomRow.parse({ meetingId, userIds: replies[2 * i] as string[], version: Number((replies[2 * i + 1] as string | null) ?? 0) }),
    );
  }
  async changeMeetingRoom(meetingId: MeetingId, change: RoomChange): Promise<MeetingRoom | null> {
    const out = (await CHANGE_MEETING_ROOM.run(
      this.client,
      [this.keys.meetings, this.keys.meetingRoom(meetingId), this.keys.meetingRooms, this.keys.meetingRoomVersions],
      [meetingId, String(change.enter.length), ...change.enter, ...change.leave],
    )) as unknown as [number, number, ...string[]];
    return out[0] === 1 ? { meetingId, version: Number(out[1]), userIds: out.slice(2) as UserId[] } : null;
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
    await TOUCH_SESSION.run(this.client, [this.keys.session(idHash)], [String(lastSeenAt)]);
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

  async takeLoginAttempt(buckets: LoginBucket[], now: number): Promise<number> {
    const args = [String(now)];
    for (const { policy: p } of buckets)
      args.push(String(p.freeFailures), String(p.firstDelayMs), String(p.maxDelayMs), String(p.maxFailures ?? 0), String(p.windowMs));
    return (await TAKE_LOGIN_ATTEMPT.run(
      this.client,
      buckets.map((b) => this.keys.loginThrottle(b.key)),
      args,
    )) as number;
  }
  async returnLoginAttempt(keys: string[]): Promise<void> {
    await RETURN_LOGIN_ATTEMPT.run(
      this.client,
      keys.map((k) => this.keys.loginThrottle(k)),
      [],
    );
  }
  async clearLoginFailures(key: string): Promise<void> {
    await this.client.del(this.keys.loginThrottle(key));
  }
  async rememberLoginDevice(deviceHash: string, userId: UserId, now: number, trustMs: number): Promise<void> {
    // The value decides (in the caller's clock); the expiry clears the key away.
    await this.client.set(this.keys.loginDevice(userId, deviceHash), String(now + trustMs), { expiration: { type: 'PX', value: trustMs } });
  }
  async isLoginDevice(deviceHash: string, userId: UserId, now: number): Promise<boolean> {
    const until = await this.client.get(this.keys.loginDevice(userId, deviceHash));
    return until !== null && Number(until) > now;
  }

  async appendAccess(records: AccessRecord[]): Promise<void> {
    if (records.length === 0) return;
    await APPEND_ACCESS.run(this.client, [this.keys.accessSeq, this.keys.accessRecords], this.accessArgs(records));
  }
  async readAccess(q: AccessQuery): Promise<AccessRecord[]> {
    const limit = q.limit ?? 10_000;
    const out: AccessRecord[] = [];
    const wanted = (r: AccessRecord): boolean => (q.caseId ? r.caseId === q.caseId : q.userId ? r.userId === q.userId : true);
    // A list entry names a group; pages of entries until the limit is reached.
    const PAGE = 1000;
    const last = q.caseId || q.userId ? 0 : Number((await this.client.get(this.keys.accessSeq)) ?? 0);
    for (let at = 0; out.length < limit; at += PAGE) {
      let fields: string[];
      if (q.caseId || q.userId) {
        fields = await this.client.lRange(q.caseId ? this.keys.accessByCase(q.caseId) : this.keys.accessByUser(q.userId!), at, at + PAGE - 1);
      } else {
        // Every sequence number is a group.
        fields = [];
        for (let n = at + 1; n <= Math.min(last, at + PAGE); n++) fields.push(`g${n}`);
      }
      if (fields.length === 0) break;
      const values = await this.client.hmGet(this.keys.accessRecords, fields);
      for (const json of values) if (json) for (const r of unpackAccess(json)) if (wanted(r) && out.length < limit) out.push(r);
    }
    return out;
  }

  /**
   * R-ACCESS: newest first. A case's or person's list names its groups in order; otherwise every
   * group number is a group, looked through ACCESS_SCAN_GROUPS at a time. A group's matching
   * records go into one page together; the cursor is the list position (or group number) to go on below.
   */
  async searchAccess(q: AccessSearch): Promise<AccessPage> {
    const limit = Math.max(1, Math.min(q.limit, 1000));
    const list = q.caseId ? this.keys.accessByCase(q.caseId) : q.userId ? this.keys.accessByUser(q.userId) : null;
    const given = q.after !== undefined && /^\d+$/.test(q.after) ? Number(q.after) : null;
    const end = list ? await this.client.lLen(list) : Number((await this.client.get(this.keys.accessSeq)) ?? 0) + 1;
    let below = given === null ? end : Math.min(given, end);
    const floor = list ? 0 : Math.max(1, below - ACCESS_SCAN_GROUPS);
    const wanted = (r: AccessRecord): boolean =>
      (!q.caseId || r.caseId === q.caseId) &&
      (!q.userId || r.userId === q.userId) &&
      (!q.orgId || r.orgId === q.orgId) &&
      (!q.from || r.at >= q.from) &&
      (!q.to || r.at < q.to);
    const records: AccessRecord[] = [];
    const PAGE = 500;
    while (records.length < limit && below > floor) {
      const start = Math.max(floor, below - PAGE);
      const fields = list ? (await this.client.lRange(list, start, below - 1)).reverse() : Array.from({ length: below - start }, (_, i) => `g${below - 1 - i}`);
      const values = fields.length === 0 ? [] : await this.client.hmGet(this.keys.accessRecords, fields);
      let taken = 0;
      for (const json of values) {
        taken++;
        if (json) records.push(...unpackAccess(json).filter(wanted).reverse());
        if (records.length >= limit) break;
      }
      below -= taken;
      if (fields.length === 0) break;
    }
    return { records, next: below > (list ? 0 : 1) ? String(below) : null };
  }

  async putDocSnapshot(docId: string, snapshot: DocSnapshot): Promise<boolean> {
    const done = await PUT_DOC_SNAPSHOT.run(this.client, [this.keys.doc(docId)], [String(snapshot.version), Buffer.from(snapshot.state)]);
    return (done as unknown) === 1;
  }
  async readDocSnapshot(docId: string): Promise<DocSnapshot | undefined> {
    const binary = this.client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    const [version, state] = (await binary.hmGet(this.keys.doc(docId), ['version', 'state'])) as unknown as (Buffer | null)[];
    return version && state ? { version: Number(version.toString()), state: new Uint8Array(state) } : undefined;
  }

  async getMeta(key: string): Promise<string | undefined> {
    return (await this.client.hGet(this.keys.meta, key)) ?? undefined;
  }
  async putMeta(key: string, value: string): Promise<void> {
    await this.client.hSet(this.keys.meta, key, value);
  }

  /** Groups after number `after`, up to the last one numbered; one that is gone is empty text. */
  async accessChain(after: number, limit: number): Promise<{ pos: number; data: string }[]> {
    const last = Number((await this.client.get(this.keys.accessSeq)) ?? 0);
    const from = Math.max(after, 0);
    const upTo = Math.min(last, from + limit);
    if (upTo <= from) return [];
    const fields = Array.from({ length: upTo - from }, (_, i) => `g${from + 1 + i}`);
    const values = await this.client.hmGet(this.keys.accessRecords, fields);
    return values.map((v, i) => ({ pos: from + 1 + i, data: v ?? '' }));
  }
  async putSeal(n: number, json: string): Promise<boolean> {
    return (await this.client.hSetNX(this.keys.seals, String(n), json)) === 1;
  }
  async listSeals(): Promise<string[]> {
    const all = await this.client.hGetAll(this.keys.seals);
    return Object.entries(all)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([, json]) => json);
  }

  async purgeCase(caseId: CaseId, expectedVersion: number, docIds: string[], marker: string): Promise<number> {
    // One script: the version check, the marker and the deletion go together or not at all.
    const keys = [this.keys.caseEvents(caseId), this.keys.purges, this.keys.cases, ...docIds.map((d) => this.keys.doc(d))];
    const [done, actual] = (await PURGE_CASE.run(this.client, keys, [String(expectedVersion), caseId, marker])) as [number, number];
    if (done === -1) throw new VersionConflictError(caseId, expectedVersion, Number(actual));
    return Number(done);
  }

  /**
   * An append-only file still holds the commands that wrote a purged case: it is rewritten from
   * what Redis holds now. One rewrite already running may have started before the purge, so the
   * next is asked for until Redis takes it (it schedules one while a snapshot runs). Without
   * append-only persistence the rewrite costs a fork and writes nothing the purge has to fear.
   */
  async flushPurged(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.sendCommand(['BGREWRITEAOF']);
        return;
      } catch (err) {
        if (!/already in progress/i.test((err as Error).message) || attempt >= 100) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
  async purgeAccess(upTo: number, marker: string): Promise<number> {
    const before = await this.client.hGet(this.keys.meta, ACCESS_PURGE_META);
    const from = before ? (JSON.parse(before) as { upTo: number }).upTo + 1 : 1;
    await this.client.hSet(this.keys.meta, ACCESS_PURGE_META, marker);
    // In steps: years of groups are too many for one command. (The case and user lists keep the
    // names of groups gone; a search passes over them as it does over any missing group.)
    let deleted = 0;
    for (let g = from; g <= upTo; g += 5000) {
      const fields = Array.from({ length: Math.min(5000, upTo - g + 1) }, (_, i) => `g${g + i}`);
      deleted += await this.client.hDel(this.keys.accessRecords, fields);
    }
    return deleted;
  }

  async putRegister(kind: string, id: string, json: string): Promise<void> {
    await this.client.hSet(this.keys.register(kind), id, json);
  }
  async getRegister(kind: string, id: string): Promise<string | undefined> {
    return (await this.client.hGet(this.keys.register(kind), id)) ?? undefined;
  }
  async listRegister(kind: string): Promise<string[]> {
    const all = await this.client.hGetAll(this.keys.register(kind));
    return Object.keys(all)
      .sort()
      .map((id) => all[id]!);
  }

  async listPurges(): Promise<{ caseId: CaseId; marker: string }[]> {
    const all = await this.client.hGetAll(this.keys.purges);
    return Object.entries(all)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([caseId, marker]) => ({ caseId: caseId as CaseId, marker }));
  }

  async initMeta(key: string, value: string): Promise<string> {
    await this.client.hSetNX(this.keys.meta, key, value);
    return (await this.client.hGet(this.keys.meta, key))!;
  }

  async close(): Promise<void> {
    if (!this.client.isOpen) return;
    // Without a connection nothing can be sent (no offline queue): then just let go.
    if (!this.client.isReady) return this.client.destroy();
    await closeRedis(this.client);
  }
}

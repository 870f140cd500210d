import type { AccessRecordView } from '../../shared/protocol.js';
import type { Meeting, MeetingRoom, Organisation, RoomChange, Table, User } from '../../shared/domain.js';
import type { CaseId, CommandId, MeetingId, OrgId, UserId } from '../../shared/ids.js';
import type { LoginThrottlePolicy } from '../../shared/limits.js';

/** One event as the store keeps it; the payload is parsed by its schema when read back. */
export interface StoredEvent {
  caseId: CaseId;
  version: number;
  type: string;
  payload: unknown;
  at: string;
  actorUserId: UserId;
  actorOrgId: OrgId;
}

export type NewEvent = Omit<StoredEvent, 'caseId' | 'version'>;

/** Thrown when a case log has moved on since the writer read it: two writers never interleave. */
export class VersionConflictError extends Error {
  constructor(
    readonly caseId: CaseId,
    readonly expected: number,
    readonly actual: number,
    /**
     * The entries after `expected` up to `actual`, where the store read them in the same step (so
     * the loser catches up without another round trip); absent otherwise.
     */
    readonly missed?: StoredEvent[],
  ) {
    super(`case ${caseId}: expected version ${expected}, log is at ${actual}`);
  }
}

/**
 * A client's command, recorded in the commit of its events (P-ONCE): per user, so nobody reads
 * another's answers by guessing ids. Kept until `at + COMMAND_ANSWER_KEEP_MS` (the caller's clock).
 */
export interface CommandRecord {
  userId: UserId;
  commandId: CommandId;
  /** The answer to give a retry, as JSON (the service's, opaque to the store). */
  answer: string;
  at: number;
}

/** The append was not made: this user's command of that id was committed before, with this answer. */
export class CommandDoneError extends Error {
  constructor(readonly answer: string) {
    super('command committed before');
  }
}

/**
 * The append may or may not have been committed: the store's answer was lost (a connection
 * dropped after the command was sent, a timeout, a writer that died mid-commit). Every other
 * failure of appendEvents means nothing of it was committed.
 */
export class OutcomeUnknownError extends Error {
  constructor(cause: unknown) {
    super(`outcome of the append unknown: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

export interface UserRecord extends User {
  passwordHash: string;
}

export interface SessionRecord {
  /** sha256 of the cookie value: a copy of the store does not hand out sessions. */
  idHash: string;
  userId: UserId;
  createdAt: number;
  lastSeenAt: number;
}

/** The failures a login bucket counts (an account, an account on one device, an address). */
export interface LoginFailures {
  count: number;
  /** When the first of them was counted: the window runs from here. */
  firstAt: number;
  lastAt: number;
}

/** One bucket an attempt is counted in, with the policy that bounds it. */
export interface LoginBucket {
  key: string;
  policy: LoginThrottlePolicy;
}

/**
 * From when a bucket lets the next attempt through (0 or a moment not after `now`: at once).
 * Both stores decide by this; Redis computes the same in Lua (redis.ts).
 */
export function loginRetryAt(f: LoginFailures | undefined, p: LoginThrottlePolicy, now: number): number {
  if (!f || f.count === 0 || now >= f.firstAt + p.windowMs) return 0;
  if (p.maxFailures !== undefined && f.count >= p.maxFailures) return f.firstAt + p.windowMs;
  if (f.count < p.freeFailures) return 0;
  return f.lastAt + Math.min(p.maxDelayMs, p.firstDelayMs * 2 ** (f.count - p.freeFailures));
}

/** One NEN 7513 access-log record (R-FILE): the fields as the privacy officer reads them, without the names. */
export type AccessRecord = Omit<AccessRecordView, 'userName' | 'orgName'>;

export interface AccessQuery {
  caseId?: CaseId;
  userId?: UserId;
  limit?: number;
}

/**
 * Everything Casusbord keeps, as the few parts its consumers need: each depends on the smallest
 * of them. SQLite now, Redis for scale-out: both implement all of them and run the one contract
 * suite in test/support/store.contract.ts. Methods are async so a networked store fits the same shape.
 */
export interface Store extends EventLog, DirectoryStore, SessionStore, AccessLogStore, DocStore, MetaStore, ChainStore, PurgeStore, RegisterStore {
  close(): Promise<void>;
}

/** The case logs: events and co-editing entries, with the commands that appended them (P-ONCE). */
export interface EventLog {
  /**
   * Appends atomically if the log is at `expectedVersion`; the access records and the command's
   * record go in the same commit. A command recorded before (and still kept) appends nothing:
   * CommandDoneError, checked before the version. Rejects with OutcomeUnknownError when the
   * append may have been committed; any other rejection means it was not.
   */
  appendEvents(caseId: CaseId, expectedVersion: number, events: NewEvent[], access?: AccessRecord[], command?: CommandRecord): Promise<number>;
  /** The answer recorded with a user's command, while kept (`now` before `at + COMMAND_ANSWER_KEEP_MS`). */
  commandAnswer(userId: UserId, commandId: CommandId, now: number): Promise<string | undefined>;
  /** Events with afterVersion < version <= upToVersion, in order. */
  readEvents(caseId: CaseId, afterVersion?: number, upToVersion?: number): Promise<StoredEvent[]>;
  caseIds(): Promise<CaseId[]>;
}

/** Organisations, people and tables. */
export interface DirectoryStore {
  listOrgs(): Promise<Organisation[]>;
  putOrg(org: Organisation): Promise<void>;
  listUsers(): Promise<UserRecord[]>;
  putUser(user: UserRecord): Promise<void>;
  listTables(): Promise<Table[]>;
  putTable(table: Table): Promise<void>;
  /** Meetings of every table, planned and past (a meeting's agenda is in its cases' logs). */
  listMeetings(): Promise<Meeting[]>;
  /** Writes a meeting, unless the stored one is closed: closing is for good. Whether it was written. */
  putMeeting(meeting: Meeting): Promise<boolean>;
  /** Who is recorded in each meeting's room; meetings with nobody recorded yet are left out. */
  listMeetingRooms(): Promise<MeetingRoom[]>;
  /**
   * Records people entering and leaving a meeting's room, in one step (two changes at once both
   * count), unless the meeting is unknown or closed. The room after it; null: nothing written.
   */
  changeMeetingRoom(meetingId: MeetingId, change: RoomChange): Promise<MeetingRoom | null>;
}

/** Sessions, and what logins leave behind: throttled failures and known devices. */
export interface SessionStore {
  putSession(s: SessionRecord): Promise<void>;
  getSession(idHash: string): Promise<SessionRecord | undefined>;
  /** Moves last-seen forward; never brings back a session deleted meanwhile. */
  touchSession(idHash: string, lastSeenAt: number): Promise<void>;
  deleteSession(idHash: string): Promise<void>;
  deleteSessionsOf(userId: UserId): Promise<string[]>;

  /**
   * Takes one login attempt, atomically over its buckets: when none holds attempts back at `now`
   * (loginRetryAt), the attempt is counted as a failure in each and 0 is returned; otherwise
   * nothing changes and the moment the attempt may be made is returned. Counting before the
   * password is checked keeps a burst of parallel guesses from all passing one look.
   */
  takeLoginAttempt(buckets: LoginBucket[], now: number): Promise<number>;
  /** The attempt succeeded: takes back the failure it counted in each bucket. */
  returnLoginAttempt(keys: string[]): Promise<void>;
  /** Forgets every failure of a bucket. */
  clearLoginFailures(key: string): Promise<void>;
  /** The device (sha256 of its cookie) logged in to the account: it stays known until now + trustMs. */
  rememberLoginDevice(deviceHash: string, userId: UserId, now: number, trustMs: number): Promise<void>;
  isLoginDevice(deviceHash: string, userId: UserId, now: number): Promise<boolean>;
}

/** R-ACCESS: a privacy officer's question to the access log; every field narrows it. */
export interface AccessSearch {
  caseId?: CaseId;
  userId?: UserId;
  orgId?: OrgId;
  /** ISO instants: from inclusive, to exclusive. */
  from?: string;
  to?: string;
  /** Where the previous page stopped (its `next`): this page goes on from there, to older records. */
  after?: string;
  /** About this many: a page may hold a few more (Redis keeps records of one moment together). */
  limit: number;
}

/**
 * One page, newest first. A page is bounded by the work of finding it, not only by its records: a
 * narrow question over a long log may come back with few records and a `next`, to look further.
 * `next` is null once the log holds nothing older.
 */
export interface AccessPage {
  records: AccessRecord[];
  next: string | null;
}

/** The NEN 7513 access log (change records also go in with the events: EventLog.appendEvents). */
export interface AccessLogStore {
  appendAccess(records: AccessRecord[]): Promise<void>;
  readAccess(q: AccessQuery): Promise<AccessRecord[]>;
  searchAccess(q: AccessSearch): Promise<AccessPage>;
}

/**
 * Collaborative text: a document's snapshot, its Yjs state as of the case log's `version`
 * (the entries after it are in the log).
 */
export interface DocStore {
  /** A snapshot only moves forward: one at a version not past the stored one is not kept (false). */
  putDocSnapshot(docId: string, snapshot: DocSnapshot): Promise<boolean>;
  readDocSnapshot(docId: string): Promise<DocSnapshot | undefined>;
}

/** Small values the server keeps once per store (the cursor key, whether the demo is seeded). */
export interface MetaStore {
  getMeta(key: string): Promise<string | undefined>;
  /** Sets the key only when it is absent; returns the value that is now stored. */
  initMeta(key: string, value: string): Promise<string>;
  /** Sets the key. */
  putMeta(key: string, value: string): Promise<void>;
}

/**
 * R-ACCESS, tamper evidence (`audit/chain.ts`): the access log in its stored order, as stored, and
 * the seals over it and the case logs.
 */
export interface ChainStore {
  /**
   * The access log after position `after`, in stored order, as stored text: a record (SQLite, at
   * its number) or a group of records (Redis, at its number; a group that is gone is empty text).
   */
  accessChain(after: number, limit: number): Promise<{ pos: number; data: string }[]>;
  /** Writes seal `n` unless there is one (another process sealed first). Whether it was written. */
  putSeal(n: number, json: string): Promise<boolean>;
  /** Every seal, in order. */
  listSeals(): Promise<string[]>;
}

/** The meta key of the access log's purge marker (audit/chain.ts). */
export const ACCESS_PURGE_META = 'access-purge';

/** The house's own registers (the art. 15 requests, R-ACCESS): small JSON records by kind and id. */
export interface RegisterStore {
  /** Writes the record (a new one, or the next state of one). */
  putRegister(kind: string, id: string, json: string): Promise<void>;
  getRegister(kind: string, id: string): Promise<string | undefined>;
  listRegister(kind: string): Promise<string[]>;
}

/**
 * R-RETAIN: deleting a case for real. Its log (events and co-editing entries, persons and texts
 * in them) and its documents' snapshots go in one step, which leaves the case's purge marker
 * (`audit/chain.ts`: what went and why, sealed). SQLite deletes with secure_delete and truncates
 * its write-ahead log before answering, so no copy of the bytes stays in either file.
 */
export interface PurgeStore {
  /**
   * Purges the case and keeps its marker (the first one, when purged before), if its log is at
   * `expectedVersion` (VersionConflictError otherwise: something was committed since it was
   * sealed, such as a later purge day, and nothing is deleted). Events deleted.
   */
  purgeCase(caseId: CaseId, expectedVersion: number, docIds: string[], marker: string): Promise<number>;
  /**
   * R-RETAIN: deletes the access records up to position `upTo` (their own term passed) and keeps
   * `marker` as the access log's purge marker (meta `access-purge`), written first: a deletion cut
   * short leaves records the verification no longer reads, never a marker missing. Records deleted.
   */
  purgeAccess(upTo: number, marker: string): Promise<number>;
  /** Removes what the store's own files still hold of purged cases (Redis: its append-only file). */
  flushPurged(): Promise<void>;
  /** Every purge marker, by case. */
  listPurges(): Promise<{ caseId: CaseId; marker: string }[]>;
}

/** A document's Yjs state as of one position of its case log. */
export interface DocSnapshot {
  version: number;
  state: Uint8Array;
}

import { createHash } from 'node:crypto';
import type { CaseRole, Organisation, Table, User } from '../../shared/domain.js';
import type { CaseId, ItemId, OrgId, UserId } from '../../shared/ids.js';

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
  ) {
    super(`case ${caseId}: expected version ${expected}, log is at ${actual}`);
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

export interface LoginFailures {
  count: number;
  lockedUntil: number;
}

/** One NEN 7513 access-log record (R-FILE). */
export interface AccessRecord {
  at: string;
  /** read, create, update, delete, or an authentication action. */
  action: 'read' | 'create' | 'update' | 'delete' | 'login' | 'logout' | 'admin';
  /** The command or view that caused it, e.g. `item:edit` or `case:open`. */
  operation: string;
  caseId: CaseId | null;
  itemId: ItemId | null;
  userId: UserId | null;
  orgId: OrgId | null;
  role: CaseRole | 'none';
  purpose: string;
  address: string;
  outcome: 'ok' | 'denied' | 'error';
}

export interface AccessQuery {
  caseId?: CaseId;
  userId?: UserId;
  limit?: number;
}

/**
 * Everything Casusbord keeps. SQLite now, Redis for scale-out: both run the one contract suite in
 * test/support/store.contract.ts. Methods are async so a networked store fits the same shape.
 */
export interface Store {
  /** Appends atomically if the log is at `expectedVersion`; the access records go in the same commit. */
  appendEvents(caseId: CaseId, expectedVersion: number, events: NewEvent[], access?: AccessRecord[]): Promise<number>;
  /** Events with afterVersion < version <= upToVersion, in order. */
  readEvents(caseId: CaseId, afterVersion?: number, upToVersion?: number): Promise<StoredEvent[]>;
  caseIds(): Promise<CaseId[]>;

  listOrgs(): Promise<Organisation[]>;
  putOrg(org: Organisation): Promise<void>;
  listUsers(): Promise<UserRecord[]>;
  putUser(user: UserRecord): Promise<void>;
  listTables(): Promise<Table[]>;
  putTable(table: Table): Promise<void>;

  putSession(s: SessionRecord): Promise<void>;
  getSession(idHash: string): Promise<SessionRecord | undefined>;
  /** Moves last-seen forward; never brings back a session deleted meanwhile. */
  touchSession(idHash: string, lastSeenAt: number): Promise<void>;
  deleteSession(idHash: string): Promise<void>;
  deleteSessionsOf(userId: UserId): Promise<string[]>;

  getLoginFailures(key: string): Promise<LoginFailures>;
  /** Counts one failure; locks the key for lockMs once maxFailures is reached. */
  recordLoginFailure(key: string, now: number, maxFailures: number, lockMs: number): Promise<LoginFailures>;
  clearLoginFailures(key: string): Promise<void>;

  appendAccess(records: AccessRecord[]): Promise<void>;
  readAccess(q: AccessQuery): Promise<AccessRecord[]>;

  /** Collaborative text: the updates of one Yjs document, in order. */
  appendDocUpdate(docId: string, update: Uint8Array): Promise<void>;
  /**
   * Stores a document's first update, only if it has none yet: of two processes that open a new
   * document at once, one starts it and the other (false) reads what that one stored, instead of
   * both writing the starting text, which would leave it there twice.
   */
  startDoc(docId: string, first: Uint8Array): Promise<boolean>;
  readDocUpdates(docId: string): Promise<Uint8Array[]>;
  /**
   * Compaction: replaces `replaced` — the first updates stored of a document, as read before
   * merging — with one merged update, atomically, and only if they are still the first ones
   * stored: a compaction that another one (on this process or another) overtook replaces nothing
   * and returns false, instead of deleting updates its merge never held. Updates appended
   * meanwhile stay: Yjs updates commute.
   */
  compactDoc(docId: string, merged: Uint8Array, replaced: Uint8Array[]): Promise<boolean>;

  getMeta(key: string): Promise<string | undefined>;
  /** Sets the key only when it is absent; returns the value that is now stored. */
  initMeta(key: string, value: string): Promise<string>;

  close(): Promise<void>;
}

/** Which updates a compaction replaces: sha1 over the sha1s of each (Redis computes the same in Lua). */
export function docUpdatesDigest(updates: Uint8Array[]): string {
  const all = createHash('sha1');
  for (const u of updates) all.update(createHash('sha1').update(u).digest('hex'));
  return all.digest('hex');
}

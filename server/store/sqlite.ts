import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Organisation, Table } from '../../shared/domain.js';
import type { CaseId, UserId } from '../../shared/ids.js';
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

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  case_id TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL, payload TEXT NOT NULL,
  at TEXT NOT NULL, actor_user TEXT NOT NULL, actor_org TEXT NOT NULL,
  PRIMARY KEY (case_id, version)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS orgs (id TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tables_ (id TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (id_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id);
CREATE TABLE IF NOT EXISTS login_failures (key TEXT PRIMARY KEY, count INTEGER NOT NULL, locked_until INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS access_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, action TEXT NOT NULL, operation TEXT NOT NULL,
  case_id TEXT, item_id TEXT, user_id TEXT, org_id TEXT, role TEXT NOT NULL, purpose TEXT NOT NULL,
  address TEXT NOT NULL, outcome TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS access_case ON access_log (case_id, seq);
CREATE INDEX IF NOT EXISTS access_user ON access_log (user_id, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS doc_updates (doc_id TEXT NOT NULL, seq INTEGER PRIMARY KEY AUTOINCREMENT, update_bytes BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS doc_updates_doc ON doc_updates (doc_id, seq);
`;

interface EventRowRaw {
  case_id: string;
  version: number;
  type: string;
  payload: string;
  at: string;
  actor_user: string;
  actor_org: string;
}

interface AccessRowRaw {
  at: string;
  action: string;
  operation: string;
  case_id: string | null;
  item_id: string | null;
  user_id: string | null;
  org_id: string | null;
  role: string;
  purpose: string;
  address: string;
  outcome: string;
}

/** The embedded default store: one SQLite file in WAL mode, every commit fsynced before it returns. */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmts;
  private pendingAppends: {
    caseId: CaseId;
    expectedVersion: number;
    events: NewEvent[];
    access: AccessRecord[];
    resolve: (v: number) => void;
    reject: (e: Error) => void;
  }[] = [];

  constructor(file: string) {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // FULL: a command is acknowledged only once its events survive a crash or power loss.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    const db = this.db;
    this.stmts = {
      head: db.prepare<[string], { v: number | null }>('SELECT MAX(version) AS v FROM events WHERE case_id = ?'),
      insertEvent: db.prepare(
        'INSERT INTO events (case_id, version, type, payload, at, actor_user, actor_org) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      readEvents: db.prepare<[string, number, number], EventRowRaw>(
        'SELECT * FROM events WHERE case_id = ? AND version > ? AND version <= ? ORDER BY version',
      ),
      caseIds: db.prepare<[], { case_id: string }>('SELECT DISTINCT case_id FROM events'),
      listOrgs: db.prepare<[], { json: string }>('SELECT json FROM orgs ORDER BY rowid'),
      putOrg: db.prepare('INSERT INTO orgs (id, json) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET json = excluded.json'),
      listUsers: db.prepare<[], { json: string }>('SELECT json FROM users ORDER BY rowid'),
      putUser: db.prepare(
        'INSERT INTO users (id, username, json) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET username = excluded.username, json = excluded.json',
      ),
      listTables: db.prepare<[], { json: string }>('SELECT json FROM tables_ ORDER BY rowid'),
      putTable: db.prepare('INSERT INTO tables_ (id, json) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET json = excluded.json'),
      putSession: db.prepare(
        'INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at) VALUES (?, ?, ?, ?) ON CONFLICT (id_hash) DO UPDATE SET last_seen_at = excluded.last_seen_at',
      ),
      getSession: db.prepare<[string], { id_hash: string; user_id: string; created_at: number; last_seen_at: number }>(
        'SELECT * FROM sessions WHERE id_hash = ?',
      ),
      deleteSession: db.prepare('DELETE FROM sessions WHERE id_hash = ?'),
      touchSession: db.prepare('UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?'),
      sessionsOf: db.prepare<[string], { id_hash: string }>('SELECT id_hash FROM sessions WHERE user_id = ?'),
      deleteSessionsOf: db.prepare('DELETE FROM sessions WHERE user_id = ?'),
      getFailures: db.prepare<[string], { count: number; locked_until: number }>(
        'SELECT count, locked_until FROM login_failures WHERE key = ?',
      ),
      putFailures: db.prepare(
        'INSERT INTO login_failures (key, count, locked_until) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET count = excluded.count, locked_until = excluded.locked_until',
      ),
      clearFailures: db.prepare('DELETE FROM login_failures WHERE key = ?'),
      insertAccess: db.prepare(
        'INSERT INTO access_log (at, action, operation, case_id, item_id, user_id, org_id, role, purpose, address, outcome) VALUES (@at, @action, @operation, @caseId, @itemId, @userId, @orgId, @role, @purpose, @address, @outcome)',
      ),
      accessByCase: db.prepare<[string, number], AccessRowRaw>('SELECT * FROM access_log WHERE case_id = ? ORDER BY seq LIMIT ?'),
      accessByUser: db.prepare<[string, number], AccessRowRaw>('SELECT * FROM access_log WHERE user_id = ? ORDER BY seq LIMIT ?'),
      accessAll: db.prepare<[number], AccessRowRaw>('SELECT * FROM access_log ORDER BY seq LIMIT ?'),
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      appendDoc: db.prepare('INSERT INTO doc_updates (doc_id, update_bytes) VALUES (?, ?)'),
      readDoc: db.prepare<[string], { update_bytes: Buffer }>('SELECT update_bytes FROM doc_updates WHERE doc_id = ? ORDER BY seq'),
      deleteDocFirst: db.prepare('DELETE FROM doc_updates WHERE seq IN (SELECT seq FROM doc_updates WHERE doc_id = ? ORDER BY seq LIMIT ?)'),
      initMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING'),
    };
  }

  private insertAccessMany(records: AccessRecord[]): void {
    for (const r of records) this.stmts.insertAccess.run(r);
  }

  private readonly appendTx = (caseId: CaseId, expected: number, events: NewEvent[], access: AccessRecord[]): number => {
    const actual = this.stmts.head.get(caseId)?.v ?? 0;
    if (actual !== expected) throw new VersionConflictError(caseId, expected, actual);
    let v = expected;
    for (const e of events) {
      v += 1;
      this.stmts.insertEvent.run(caseId, v, e.type, JSON.stringify(e.payload), e.at, e.actorUserId, e.actorOrgId);
    }
    this.insertAccessMany(access);
    return v;
  };

  /**
   * Appends of one turn of the event loop share one transaction, so one fsync: a busy house with
   * many live cases commits in groups. Each append keeps its own version check; a conflict fails
   * only that append. Every promise resolves only after the group is durably committed.
   */
  appendEvents(caseId: CaseId, expectedVersion: number, events: NewEvent[], access: AccessRecord[] = []): Promise<number> {
    return new Promise((resolve, reject) => {
      this.pendingAppends.push({ caseId, expectedVersion, events, access, resolve, reject });
      if (this.pendingAppends.length === 1) setImmediate(() => this.flushAppends());
    });
  }

  private flushAppends(): void {
    const group = this.pendingAppends;
    this.pendingAppends = [];
    const results: (number | VersionConflictError)[] = [];
    try {
      this.db
        .transaction(() => {
          for (const a of group) {
            try {
              results.push(this.appendTx(a.caseId, a.expectedVersion, a.events, a.access));
            } catch (e) {
              // The version check runs before any insert, so a conflict leaves nothing behind.
              if (!(e instanceof VersionConflictError)) throw e;
              results.push(e);
            }
          }
        })
        .immediate();
    } catch (e) {
      for (const a of group) a.reject(e as Error);
      return;
    }
    group.forEach((a, i) => {
      const r = results[i]!;
      if (r instanceof VersionConflictError) a.reject(r);
      else a.resolve(r);
    });
  }

  async readEvents(caseId: CaseId, afterVersion = 0, upToVersion = Number.MAX_SAFE_INTEGER): Promise<StoredEvent[]> {
    return this.stmts.readEvents.all(caseId, afterVersion, upToVersion).map((r) =>
      StoredEventRow.parse({
        caseId: r.case_id,
        version: r.version,
        type: r.type,
        payload: JSON.parse(r.payload),
        at: r.at,
        actorUserId: r.actor_user,
        actorOrgId: r.actor_org,
      }),
    );
  }

  async caseIds(): Promise<CaseId[]> {
    return this.stmts.caseIds.all().map((r) => r.case_id as CaseId);
  }

  async listOrgs(): Promise<Organisation[]> {
    return this.stmts.listOrgs.all().map((r) => OrganisationRow.parse(JSON.parse(r.json)));
  }
  async putOrg(org: Organisation): Promise<void> {
    this.stmts.putOrg.run(org.id, JSON.stringify(org));
  }
  async listUsers(): Promise<UserRecord[]> {
    return this.stmts.listUsers.all().map((r) => UserRow.parse(JSON.parse(r.json)));
  }
  async putUser(user: UserRecord): Promise<void> {
    this.stmts.putUser.run(user.id, user.username, JSON.stringify(user));
  }
  async listTables(): Promise<Table[]> {
    return this.stmts.listTables.all().map((r) => TableRow.parse(JSON.parse(r.json)));
  }
  async putTable(table: Table): Promise<void> {
    this.stmts.putTable.run(table.id, JSON.stringify(table));
  }

  async putSession(s: SessionRecord): Promise<void> {
    this.stmts.putSession.run(s.idHash, s.userId, s.createdAt, s.lastSeenAt);
  }
  async getSession(idHash: string): Promise<SessionRecord | undefined> {
    const r = this.stmts.getSession.get(idHash);
    return r && SessionRow.parse({ idHash: r.id_hash, userId: r.user_id, createdAt: r.created_at, lastSeenAt: r.last_seen_at });
  }
  async touchSession(idHash: string, lastSeenAt: number): Promise<void> {
    this.stmts.touchSession.run(lastSeenAt, idHash);
  }
  async deleteSession(idHash: string): Promise<void> {
    this.stmts.deleteSession.run(idHash);
  }
  async deleteSessionsOf(userId: UserId): Promise<string[]> {
    return this.db.transaction(() => {
      const ids = this.stmts.sessionsOf.all(userId).map((r) => r.id_hash);
      this.stmts.deleteSessionsOf.run(userId);
      return ids;
    })();
  }

  async getLoginFailures(key: string): Promise<LoginFailures> {
    const r = this.stmts.getFailures.get(key);
    return { count: r?.count ?? 0, lockedUntil: r?.locked_until ?? 0 };
  }
  async recordLoginFailure(key: string, now: number, maxFailures: number, lockMs: number): Promise<LoginFailures> {
    return this.db.transaction(() => {
      const r = this.stmts.getFailures.get(key);
      // A lock that has run out starts a fresh count.
      const count = r && r.locked_until > 0 && r.locked_until <= now ? 1 : (r?.count ?? 0) + 1;
      const lockedUntil = count >= maxFailures ? now + lockMs : 0;
      this.stmts.putFailures.run(key, count, lockedUntil);
      return { count, lockedUntil };
    })();
  }
  async clearLoginFailures(key: string): Promise<void> {
    this.stmts.clearFailures.run(key);
  }

  async appendAccess(records: AccessRecord[]): Promise<void> {
    if (records.length > 0) this.db.transaction(() => this.insertAccessMany(records))();
  }
  async readAccess(q: AccessQuery): Promise<AccessRecord[]> {
    const limit = q.limit ?? 10_000;
    const rows = q.caseId
      ? this.stmts.accessByCase.all(q.caseId, limit)
      : q.userId
        ? this.stmts.accessByUser.all(q.userId, limit)
        : this.stmts.accessAll.all(limit);
    return rows.map((r) =>
      AccessRow.parse({
        at: r.at,
        action: r.action,
        operation: r.operation,
        caseId: r.case_id,
        itemId: r.item_id,
        userId: r.user_id,
        orgId: r.org_id,
        role: r.role,
        purpose: r.purpose,
        address: r.address,
        outcome: r.outcome,
      }),
    );
  }

  async appendDocUpdate(docId: string, update: Uint8Array): Promise<void> {
    this.stmts.appendDoc.run(docId, Buffer.from(update));
  }
  async readDocUpdates(docId: string): Promise<Uint8Array[]> {
    return this.stmts.readDoc.all(docId).map((r) => new Uint8Array(r.update_bytes));
  }
  async compactDoc(docId: string, merged: Uint8Array, count: number): Promise<void> {
    this.db.transaction(() => {
      this.stmts.deleteDocFirst.run(docId, count);
      this.stmts.appendDoc.run(docId, Buffer.from(merged));
    })();
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.stmts.getMeta.get(key)?.value;
  }
  async initMeta(key: string, value: string): Promise<string> {
    this.stmts.initMeta.run(key, value);
    return this.stmts.getMeta.get(key)!.value;
  }

  async close(): Promise<void> {
    if (this.pendingAppends.length > 0) this.flushAppends();
    if (this.db.open) this.db.close();
  }
}

import fs from 'node:fs';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { Meeting, MeetingRoom, Organisation, RoomChange, Table } from '../../shared/domain.js';
import type { CaseId, CommandId, MeetingId, UserId } from '../../shared/ids.js';
import { AccessRow, MeetingRoomRow, MeetingRow, OrganisationRow, SessionRow, StoredEventRow, TableRow, UserRow } from './rows.js';
import { ACCESS_BLOCK_ROWS, configure, SCHEMA } from './sqliteSchema.js';
import type { CheckpointerReply } from './sqliteCheckpointer.worker.js';
import { startThread, stopThread } from './sqliteThread.js';
import { SqliteWriter } from './sqliteWriter.js';
import { accessColumns, type WriteOp } from './sqliteWrites.js';
import {
  type DocSnapshot,
  type AccessPage,
  type AccessQuery,
  type AccessRecord,
  type AccessSearch,
  type CommandRecord,
  type LoginBucket,
  type NewEvent,
  type SessionRecord,
  type Store,
  type StoredEvent,
  type UserRecord,
} from './types.js';

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
  seq: number;
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

function toAccessRecord(r: AccessRowRaw): AccessRecord {
  return AccessRow.parse({
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
  });
}

/**
 * How many records a search with no case or person looks through per page, newest first: a page
 * costs about the same however rare the answer is in the log.
 */
const ACCESS_SCAN_WINDOW = 200_000;

type Filters = [string | null, string | null, string | null, string | null, string | null, string | null, string | null, string | null];
const FILTERS = `AND (? IS NULL OR a.user_id = ?) AND (? IS NULL OR a.org_id = ?) AND (? IS NULL OR a.at >= ?) AND (? IS NULL OR a.at < ?)`;

/** R-ACCESS: searches newest first from a position, through the block indexes where a case or person is named. */
function searchStatements(db: Database.Database) {
  const byBlocks = (table: string, column: string) =>
    db.prepare<[string, number, number, ...Filters, number], AccessRowRaw>(
      `SELECT a.* FROM ${table} b JOIN access_log a
         ON a.seq >= b.block * ${ACCESS_BLOCK_ROWS} AND a.seq < (b.block + 1) * ${ACCESS_BLOCK_ROWS} AND a.${column} = b.${column}
       WHERE b.${column} = ? AND a.seq < ? AND a.seq >= ? ${FILTERS} ORDER BY b.block DESC, a.seq DESC LIMIT ?`,
    );
  return {
    searchByCase: byBlocks('access_case_blocks', 'case_id'),
    searchByUser: byBlocks('access_user_blocks', 'user_id'),
    searchAll: db.prepare<[number, number, ...Filters, number], AccessRowRaw>(
      `SELECT a.* FROM access_log a WHERE a.seq < ? AND a.seq >= ? ${FILTERS} ORDER BY a.seq DESC LIMIT ?`,
    ),
  };
}

/** What the checkpointer last did: frames in the write-ahead log, and how many it copied into the file. */
export interface Checkpoint {
  log: number;
  copied: number;
}

/**
 * The embedded default store: one SQLite file in WAL mode. Reads run here, on the main thread's
 * own connection (WAL readers never wait for the writer). Every change goes to the writer thread
 * (sqliteWriter.worker.ts): the changes of one turn of the event loop travel as one batch and
 * commit in one transaction, and each promise resolves only once its batch is fsynced, so a
 * read after an awaited write sees it. A third thread (sqliteCheckpointer.worker.ts) copies the
 * log into the file beside the writer.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmts;
  private readonly writer: SqliteWriter;
  private closed: Promise<void> | null = null;
  private readonly checkpointer: Worker;
  private checkpointerClosed: (() => void) | null = null;
  private checkpointerExited = false;
  private checkpointerFailed = false;
  private readonly checkpointListeners = new Set<(c: Checkpoint) => void>();

  /**
   * @param onBroken called once when the writer thread dies: nothing can be committed any more,
   *   and a server should stop (and be restarted) rather than serve reads it cannot log.
   * @param onWarning trouble that leaves commits working: a checkpoint that failed (told once
   *   until one succeeds), or the checkpointer thread gone (commits then checkpoint themselves).
   */
  constructor(file: string, onBroken: (e: Error) => void = () => undefined, onWarning: (e: Error) => void = () => undefined) {
    if (file === ':memory:') throw new Error('SqliteStore needs a file: its writer thread opens the same database');
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new Database(file);
    configure(this.db);
    // The schema exists before the writer opens the file.
    this.db.exec(SCHEMA);
    this.writer = new SqliteWriter(file, onBroken);
    this.checkpointer = startThread('./sqliteCheckpointer.worker.ts', file);
    this.checkpointer.unref();
    this.checkpointer.on('message', (m: CheckpointerReply) => {
      if (m === 'closed') return void this.checkpointerClosed?.();
      if (m.kind === 'failed') return onWarning(new Error(`SQLite checkpoint failed: ${m.message}`));
      for (const fn of this.checkpointListeners) {
        try {
          fn({ log: m.log, copied: m.copied });
        } catch (err) {
          onWarning(err as Error);
        }
      }
    });
    // Commits still work without it (the writer checkpoints past 10,000 pages): a warning, not a stop.
    const checkpointerStopped = (e: Error): void => {
      if (this.closed || this.checkpointerFailed) return;
      this.checkpointerFailed = true;
      onWarning(e);
    };
    this.checkpointer.on('error', checkpointerStopped);
    this.checkpointer.on('exit', (code) => {
      checkpointerStopped(new Error(`SQLite checkpointer thread stopped (exit ${code})`));
      this.checkpointerExited = true;
    });
    const db = this.db;
    this.stmts = {
      readEvents: db.prepare<[string, number, number], EventRowRaw>('SELECT * FROM events WHERE case_id = ? AND version > ? AND version <= ? ORDER BY version'),
      caseIds: db.prepare<[], { case_id: string }>('SELECT DISTINCT case_id FROM events'),
      listOrgs: db.prepare<[], { json: string }>('SELECT json FROM orgs ORDER BY rowid'),
      listUsers: db.prepare<[], { json: string }>('SELECT json FROM users ORDER BY rowid'),
      listTables: db.prepare<[], { json: string }>('SELECT json FROM tables_ ORDER BY rowid'),
      listMeetings: db.prepare<[], { json: string }>('SELECT json FROM meetings ORDER BY rowid'),
      listMeetingRooms: db.prepare<[], { json: string }>('SELECT json FROM meeting_rooms'),
      getSession: db.prepare<[string], { id_hash: string; user_id: string; created_at: number; last_seen_at: number }>(
        'SELECT * FROM sessions WHERE id_hash = ?',
      ),
      isDevice: db.prepare<[string, string, number], { n: number }>(
        'SELECT 1 AS n FROM login_devices WHERE user_id = ? AND device_hash = ? AND expires_at > ?',
      ),
      // The blocks holding the case's (or person's) records, in order; in each, its records by seq.
      accessByCase: db.prepare<[string, number], AccessRowRaw>(
        `SELECT a.* FROM access_case_blocks b JOIN access_log a
           ON a.seq >= b.block * ${ACCESS_BLOCK_ROWS} AND a.seq < (b.block + 1) * ${ACCESS_BLOCK_ROWS} AND a.case_id = b.case_id
         WHERE b.case_id = ? ORDER BY b.block, a.seq LIMIT ?`,
      ),
      accessByUser: db.prepare<[string, number], AccessRowRaw>(
        `SELECT a.* FROM access_user_blocks b JOIN access_log a
           ON a.seq >= b.block * ${ACCESS_BLOCK_ROWS} AND a.seq < (b.block + 1) * ${ACCESS_BLOCK_ROWS} AND a.user_id = b.user_id
         WHERE b.user_id = ? ORDER BY b.block, a.seq LIMIT ?`,
      ),
      accessAll: db.prepare<[number], AccessRowRaw>('SELECT * FROM access_log ORDER BY seq LIMIT ?'),
      accessChain: db.prepare<[number, number], AccessRowRaw>('SELECT * FROM access_log WHERE seq > ? ORDER BY seq LIMIT ?'),
      listSeals: db.prepare<[], { json: string }>('SELECT json FROM seals ORDER BY n'),
      listPurges: db.prepare<[], { case_id: string; marker: string }>('SELECT case_id, marker FROM purges ORDER BY case_id'),
      getRegister: db.prepare<[string, string], { json: string }>('SELECT json FROM register WHERE kind = ? AND id = ?'),
      listRegister: db.prepare<[string], { json: string }>('SELECT json FROM register WHERE kind = ? ORDER BY id'),
      accessLastSeq: db.prepare<[], { seq: number | null }>('SELECT max(seq) AS seq FROM access_log'),
      ...searchStatements(db),
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      commandAnswer: db.prepare<[string, string, number], { answer: string }>(
        'SELECT answer FROM command_answers WHERE user_id = ? AND command_id = ? AND expires_at > ?',
      ),
      readDocSnapshot: db.prepare<[string], { version: number; state: Buffer }>('SELECT version, state FROM doc_snapshots WHERE doc_id = ?'),
    };
  }

  /** Queues one change for the writer; the changes of this turn leave together. */
  private write<T>(op: WriteOp): Promise<T> {
    return this.writer.write(op);
  }

  /**
   * Appends of one turn of the event loop share one transaction, so one fsync: a busy house with
   * many live cases commits in groups. Each append keeps its own version check; a conflict fails
   * only that append. Every promise resolves only after the group is durably committed.
   */
  appendEvents(caseId: CaseId, expectedVersion: number, events: NewEvent[], access: AccessRecord[] = [], command?: CommandRecord): Promise<number> {
    return this.write({ op: 'append', caseId, expected: expectedVersion, events, access: access.map(accessColumns), ...(command ? { command } : {}) });
  }

  async commandAnswer(userId: UserId, commandId: CommandId, now: number): Promise<string | undefined> {
    return this.stmts.commandAnswer.get(userId, commandId, now)?.answer;
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
  putOrg(org: Organisation): Promise<void> {
    return this.write({ op: 'putOrg', org });
  }
  async listUsers(): Promise<UserRecord[]> {
    return this.stmts.listUsers.all().map((r) => UserRow.parse(JSON.parse(r.json)));
  }
  putUser(user: UserRecord): Promise<void> {
    return this.write({ op: 'putUser', user });
  }
  async listTables(): Promise<Table[]> {
    return this.stmts.listTables.all().map((r) => TableRow.parse(JSON.parse(r.json)));
  }
  putTable(table: Table): Promise<void> {
    return this.write({ op: 'putTable', table });
  }
  async listMeetings(): Promise<Meeting[]> {
    return this.stmts.listMeetings.all().map((r) => MeetingRow.parse(JSON.parse(r.json)));
  }
  putMeeting(meeting: Meeting): Promise<boolean> {
    return this.write({ op: 'putMeeting', meeting });
  }
  async listMeetingRooms(): Promise<MeetingRoom[]> {
    return this.stmts.listMeetingRooms.all().map((r) => MeetingRoomRow.parse(JSON.parse(r.json)));
  }
  changeMeetingRoom(meetingId: MeetingId, change: RoomChange): Promise<MeetingRoom | null> {
    return this.write({ op: 'changeMeetingRoom', meetingId, change });
  }

  putSession(session: SessionRecord): Promise<void> {
    return this.write({ op: 'putSession', session });
  }
  async getSession(idHash: string): Promise<SessionRecord | undefined> {
    const r = this.stmts.getSession.get(idHash);
    return r && SessionRow.parse({ idHash: r.id_hash, userId: r.user_id, createdAt: r.created_at, lastSeenAt: r.last_seen_at });
  }
  touchSession(idHash: string, lastSeenAt: number): Promise<void> {
    return this.write({ op: 'touchSession', idHash, lastSeenAt });
  }
  deleteSession(idHash: string): Promise<void> {
    return this.write({ op: 'deleteSession', idHash });
  }
  deleteSessionsOf(userId: UserId): Promise<string[]> {
    return this.write({ op: 'deleteSessionsOf', userId });
  }

  takeLoginAttempt(buckets: LoginBucket[], now: number): Promise<number> {
    return this.write({ op: 'takeLoginAttempt', buckets, now });
  }
  returnLoginAttempt(keys: string[]): Promise<void> {
    return this.write({ op: 'returnLoginAttempt', keys });
  }
  clearLoginFailures(key: string): Promise<void> {
    return this.write({ op: 'clearLoginFailures', key });
  }
  rememberLoginDevice(deviceHash: string, userId: UserId, now: number, trustMs: number): Promise<void> {
    return this.write({ op: 'rememberLoginDevice', deviceHash, userId, now, trustMs });
  }
  async isLoginDevice(deviceHash: string, userId: UserId, now: number): Promise<boolean> {
    return this.stmts.isDevice.get(userId, deviceHash, now) !== undefined;
  }

  async appendAccess(records: AccessRecord[]): Promise<void> {
    if (records.length > 0) await this.write({ op: 'access', records: records.map(accessColumns) });
  }
  async readAccess(q: AccessQuery): Promise<AccessRecord[]> {
    const limit = q.limit ?? 10_000;
    const rows = q.caseId
      ? this.stmts.accessByCase.all(q.caseId, limit)
      : q.userId
        ? this.stmts.accessByUser.all(q.userId, limit)
        : this.stmts.accessAll.all(limit);
    return rows.map(toAccessRecord);
  }

  async searchAccess(q: AccessSearch): Promise<AccessPage> {
    const limit = Math.max(1, Math.min(q.limit, 1000));
    // The page starts below the cursor: a record number, or past the newest.
    const end = (this.stmts.accessLastSeq.get()?.seq ?? 0) + 1;
    const below = q.after !== undefined && /^\d+$/.test(q.after) ? Math.min(Number(q.after), end) : end;
    // A question with no case or person scans the log itself: one window of records per page.
    const floor = q.caseId || q.userId ? 0 : Math.max(0, below - ACCESS_SCAN_WINDOW);
    const f = [q.userId ?? null, q.orgId ?? null, q.from ?? null, q.to ?? null] as const;
    const filters = [f[0], f[0], f[1], f[1], f[2], f[2], f[3], f[3]] as const;
    const rows = q.caseId
      ? this.stmts.searchByCase.all(q.caseId, below, floor, ...filters, limit)
      : q.userId
        ? this.stmts.searchByUser.all(q.userId, below, floor, ...filters, limit)
        : this.stmts.searchAll.all(below, floor, ...filters, limit);
    const full = rows.length === limit;
    const next = full ? String(rows.at(-1)!.seq) : floor > 1 ? String(floor) : null;
    return { records: rows.map(toAccessRecord), next };
  }

  putDocSnapshot(docId: string, snapshot: DocSnapshot): Promise<boolean> {
    return this.write({ op: 'putDocSnapshot', docId, version: snapshot.version, state: snapshot.state }) as Promise<boolean>;
  }
  async readDocSnapshot(docId: string): Promise<DocSnapshot | undefined> {
    const row = this.stmts.readDocSnapshot.get(docId);
    return row && { version: row.version, state: new Uint8Array(row.state) };
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.stmts.getMeta.get(key)?.value;
  }
  initMeta(key: string, value: string): Promise<string> {
    return this.write({ op: 'initMeta', key, value });
  }
  putMeta(key: string, value: string): Promise<void> {
    return this.write({ op: 'putMeta', key, value });
  }

  async accessChain(after: number, limit: number): Promise<{ pos: number; data: string }[]> {
    return this.stmts.accessChain.all(after, limit).map((r) => ({
      pos: r.seq,
      data: JSON.stringify([r.seq, r.at, r.action, r.operation, r.case_id, r.item_id, r.user_id, r.org_id, r.role, r.purpose, r.address, r.outcome]),
    }));
  }
  putSeal(n: number, json: string): Promise<boolean> {
    return this.write({ op: 'putSeal', n, json });
  }
  async listSeals(): Promise<string[]> {
    return this.stmts.listSeals.all().map((r) => r.json);
  }

  purgeCase(caseId: CaseId, expectedVersion: number, docIds: string[], marker: string): Promise<number> {
    return this.write({ op: 'purgeCase', caseId, expected: expectedVersion, docIds, marker });
  }
  putRegister(kind: string, id: string, json: string): Promise<void> {
    return this.write({ op: 'putRegister', kind, id, json });
  }
  async getRegister(kind: string, id: string): Promise<string | undefined> {
    return this.stmts.getRegister.get(kind, id)?.json;
  }
  async listRegister(kind: string): Promise<string[]> {
    return this.stmts.listRegister.all(kind).map((r) => r.json);
  }

  purgeAccess(upTo: number, marker: string): Promise<number> {
    return this.write({ op: 'purgeAccess', upTo, marker });
  }

  /** The writer cut the write-ahead log back after the purge; this fails when it could not (yet). */
  flushPurged(): Promise<void> {
    return this.write({ op: 'truncateLog' });
  }
  async listPurges(): Promise<{ caseId: CaseId; marker: string }[]> {
    return this.stmts.listPurges.all().map((r) => ({ caseId: r.case_id as CaseId, marker: r.marker }));
  }

  /** Calls `fn` after each checkpoint that changed something; returns the unsubscribe. */
  onCheckpoint(fn: (c: Checkpoint) => void): () => void {
    this.checkpointListeners.add(fn);
    return () => void this.checkpointListeners.delete(fn);
  }

  /** Commits what is queued, stops the store's threads, closes the file. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.writer.close();
      if (!this.checkpointerExited) await stopThread(this.checkpointer, (fn) => (this.checkpointerClosed = fn));
      if (this.db.open) this.db.close();
    })();
    return this.closed;
  }
}

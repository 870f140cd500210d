import type Database from 'better-sqlite3';
import type { Meeting, MeetingRoom, Organisation, RoomChange, Table } from '../../shared/domain.js';
import type { CaseId, MeetingId, UserId } from '../../shared/ids.js';
import { COMMAND_ANSWER_KEEP_MS } from '../../shared/limits.js';
import { ACCESS_BLOCK_ROWS } from './sqliteSchema.js';
import { ACCESS_PURGE_META } from './types.js';
import {
  CommandDoneError,
  loginRetryAt,
  OutcomeUnknownError,
  VersionConflictError,
  type AccessRecord,
  type CommandRecord,
  type LoginBucket,
  type NewEvent,
  type SessionRecord,
  type UserRecord,
} from './types.js';

/**
 * An access record as it crosses to the writer thread: its columns in table order. Structured
 * cloning copies every key of every object, and a busy board sends thousands of records a second.
 */
export type AccessColumns = [
  at: string,
  action: AccessRecord['action'],
  operation: string,
  caseId: CaseId | null,
  itemId: AccessRecord['itemId'],
  userId: AccessRecord['userId'],
  orgId: AccessRecord['orgId'],
  role: string,
  purpose: string,
  address: string,
  outcome: AccessRecord['outcome'],
];

export const accessColumns = (r: AccessRecord): AccessColumns => [
  r.at,
  r.action,
  r.operation,
  r.caseId,
  r.itemId,
  r.userId,
  r.orgId,
  r.role,
  r.purpose,
  r.address,
  r.outcome,
];

/** Every change to the SQLite file, as the main thread hands it to the writer thread. */
export type WriteOp =
  | { op: 'append'; caseId: CaseId; expected: number; events: NewEvent[]; access: AccessColumns[]; command?: CommandRecord }
  | { op: 'access'; records: AccessColumns[] }
  | { op: 'putOrg'; org: Organisation }
  | { op: 'putUser'; user: UserRecord }
  | { op: 'putTable'; table: Table }
  | { op: 'putMeeting'; meeting: Meeting }
  | { op: 'changeMeetingRoom'; meetingId: MeetingId; change: RoomChange }
  | { op: 'putSession'; session: SessionRecord }
  | { op: 'touchSession'; idHash: string; lastSeenAt: number }
  | { op: 'deleteSession'; idHash: string }
  | { op: 'deleteSessionsOf'; userId: UserId }
  | { op: 'takeLoginAttempt'; buckets: LoginBucket[]; now: number }
  | { op: 'returnLoginAttempt'; keys: string[] }
  | { op: 'clearLoginFailures'; key: string }
  | { op: 'rememberLoginDevice'; deviceHash: string; userId: UserId; now: number; trustMs: number }
  | { op: 'putDocSnapshot'; docId: string; version: number; state: Uint8Array }
  | { op: 'initMeta'; key: string; value: string }
  | { op: 'putMeta'; key: string; value: string }
  | { op: 'putSeal'; n: number; json: string }
  | { op: 'purgeCase'; caseId: CaseId; expected: number; docIds: string[]; marker: string }
  | { op: 'putRegister'; kind: string; id: string; json: string }
  | { op: 'purgeAccess'; upTo: number; marker: string }
  /** Cuts the write-ahead log to nothing (after the batch: see sqliteWriter.worker.ts). */
  | { op: 'truncateLog' };

/** What each op gave back; errors cross the thread as data and become errors again on the other side. */
export type WriteResult =
  | { ok: true; value: unknown }
  | {
      ok: false;
      message: string;
      code?: string;
      conflict?: { caseId: CaseId; expected: number; actual: number };
      /** CommandDoneError: the answer recorded before. */
      done?: string;
      /** The commit may have reached the file (see apply). */
      unknown?: true;
    };

export function failure(e: unknown, unknown = false): Extract<WriteResult, { ok: false }> {
  if (e instanceof VersionConflictError) return { ok: false, message: e.message, conflict: { caseId: e.caseId, expected: e.expected, actual: e.actual } };
  if (e instanceof CommandDoneError) return { ok: false, message: e.message, done: e.answer };
  const err = e as { message?: unknown; code?: unknown };
  return { ok: false, message: String(err?.message ?? e), ...(typeof err?.code === 'string' ? { code: err.code } : {}), ...(unknown ? { unknown } : {}) };
}

export function toError(r: Extract<WriteResult, { ok: false }>): Error {
  if (r.conflict) return new VersionConflictError(r.conflict.caseId, r.conflict.expected, r.conflict.actual);
  if (r.done !== undefined) return new CommandDoneError(r.done);
  const e = Object.assign(new Error(r.message), r.code ? { code: r.code } : {});
  return r.unknown ? new OutcomeUnknownError(e) : e;
}

/**
 * An I/O error while committing: the commit's frames may be in the write-ahead log all the same
 * (a failed fsync), and the next open of the file would then find the transaction committed.
 */
export const mayHaveCommitted = (e: unknown): boolean => String((e as { code?: unknown })?.code ?? '').startsWith('SQLITE_IOERR');

/**
 * Applies batches of writes: one transaction, so one fsync, per batch (group commit). Each op runs
 * in its own savepoint: a version conflict or a broken constraint fails that op alone.
 */
export class SqliteWrites {
  private readonly s;

  constructor(private readonly db: Database.Database) {
    this.s = {
      head: db.prepare<[string], { v: number | null }>('SELECT MAX(version) AS v FROM events WHERE case_id = ?'),
      insertEvent: db.prepare('INSERT INTO events (case_id, version, type, payload, at, actor_user, actor_org) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      insertAccess: db.prepare(
        'INSERT INTO access_log (at, action, operation, case_id, item_id, user_id, org_id, role, purpose, address, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      caseBlock: db.prepare('INSERT OR IGNORE INTO access_case_blocks (case_id, block) VALUES (?, ?)'),
      userBlock: db.prepare('INSERT OR IGNORE INTO access_user_blocks (user_id, block) VALUES (?, ?)'),
      putOrg: db.prepare('INSERT INTO orgs (id, json) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET json = excluded.json'),
      putUser: db.prepare(
        'INSERT INTO users (id, username, json) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET username = excluded.username, json = excluded.json',
      ),
      putTable: db.prepare('INSERT INTO tables_ (id, json) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET json = excluded.json'),
      // Closing is for good: a closed meeting is not written over (by a process that had not heard).
      putMeeting: db.prepare(
        "INSERT INTO meetings (id, json) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET json = excluded.json WHERE json_extract(meetings.json, '$.closedAt') IS NULL",
      ),
      openMeeting: db.prepare<[string], { one: number }>("SELECT 1 AS one FROM meetings WHERE id = ? AND json_extract(json, '$.closedAt') IS NULL"),
      meetingRoom: db.prepare<[string], { json: string }>('SELECT json FROM meeting_rooms WHERE meeting_id = ?'),
      putMeetingRoom: db.prepare('INSERT INTO meeting_rooms (meeting_id, json) VALUES (?, ?) ON CONFLICT (meeting_id) DO UPDATE SET json = excluded.json'),
      putSession: db.prepare(
        'INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at) VALUES (?, ?, ?, ?) ON CONFLICT (id_hash) DO UPDATE SET last_seen_at = excluded.last_seen_at',
      ),
      deleteSession: db.prepare('DELETE FROM sessions WHERE id_hash = ?'),
      touchSession: db.prepare('UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?'),
      sessionsOf: db.prepare<[string], { id_hash: string }>('SELECT id_hash FROM sessions WHERE user_id = ?'),
      deleteSessionsOf: db.prepare('DELETE FROM sessions WHERE user_id = ?'),
      getFailures: db.prepare<[string], { count: number; firstAt: number; lastAt: number }>(
        'SELECT count, first_at AS firstAt, last_at AS lastAt FROM login_throttle WHERE key = ?',
      ),
      putFailures: db.prepare(
        'INSERT INTO login_throttle (key, count, first_at, last_at, expires_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET count = excluded.count, first_at = excluded.first_at, last_at = excluded.last_at, expires_at = excluded.expires_at',
      ),
      returnFailure: db.prepare('UPDATE login_throttle SET count = count - 1 WHERE key = ?'),
      dropEmptyFailures: db.prepare('DELETE FROM login_throttle WHERE key = ? AND count <= 0'),
      clearFailures: db.prepare('DELETE FROM login_throttle WHERE key = ?'),
      // A few rows a write: addresses and mistyped names that failed once must not pile up.
      pruneFailures: db.prepare('DELETE FROM login_throttle WHERE key IN (SELECT key FROM login_throttle WHERE expires_at <= ? LIMIT 8)'),
      rememberDevice: db.prepare(
        'INSERT INTO login_devices (user_id, device_hash, expires_at) VALUES (?, ?, ?) ON CONFLICT (user_id, device_hash) DO UPDATE SET expires_at = excluded.expires_at',
      ),
      pruneDevices: db.prepare(
        'DELETE FROM login_devices WHERE (user_id, device_hash) IN (SELECT user_id, device_hash FROM login_devices WHERE expires_at <= ? LIMIT 8)',
      ),
      // Only forward: a snapshot of an older position never replaces a newer one.
      putDocSnapshot: db.prepare(
        'INSERT INTO doc_snapshots (doc_id, version, state) VALUES (?, ?, ?) ON CONFLICT (doc_id) DO UPDATE SET version = excluded.version, state = excluded.state WHERE excluded.version > doc_snapshots.version',
      ),
      getCommand: db.prepare<[string, string, number], { answer: string }>(
        'SELECT answer FROM command_answers WHERE user_id = ? AND command_id = ? AND expires_at > ?',
      ),
      // Replaces a row kept past its time that the pruning has not reached yet.
      putCommand: db.prepare('INSERT OR REPLACE INTO command_answers (user_id, command_id, answer, expires_at) VALUES (?, ?, ?, ?)'),
      // A few rows a command: the records of a day of commands leave as new ones come.
      pruneCommands: db.prepare(
        'DELETE FROM command_answers WHERE (user_id, command_id) IN (SELECT user_id, command_id FROM command_answers WHERE expires_at <= ? LIMIT 8)',
      ),
      initMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING'),
      putMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      putSeal: db.prepare('INSERT INTO seals (n, json) VALUES (?, ?) ON CONFLICT (n) DO NOTHING'),
      putPurge: db.prepare('INSERT INTO purges (case_id, marker) VALUES (?, ?) ON CONFLICT (case_id) DO NOTHING'),
      deleteEvents: db.prepare('DELETE FROM events WHERE case_id = ?'),
      deleteAccess: db.prepare('DELETE FROM access_log WHERE seq <= ?'),
      deleteCaseBlocks: db.prepare('DELETE FROM access_case_blocks WHERE block < ?'),
      deleteUserBlocks: db.prepare('DELETE FROM access_user_blocks WHERE block < ?'),
      putRegister: db.prepare('INSERT INTO register (kind, id, json) VALUES (?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET json = excluded.json'),
      deleteDocSnapshot: db.prepare('DELETE FROM doc_snapshots WHERE doc_id = ?'),
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
    };
  }

  apply(batch: WriteOp[]): WriteResult[] {
    const results: WriteResult[] = [];
    let committing = false;
    try {
      this.db
        .transaction(() => {
          for (const w of batch) {
            try {
              // A nested transaction is a savepoint: a failing op is rolled back on its own.
              results.push({ ok: true, value: this.db.transaction(() => this.one(w))() });
            } catch (e) {
              // An I/O error, a full disk or no memory can roll back the whole transaction: then
              // nothing of the batch may be reported written, and nothing after it may commit alone.
              if (!this.db.inTransaction) throw e;
              results.push(failure(e));
            }
          }
          committing = true;
        })
        .immediate();
    } catch (e) {
      // Rolled back (disk full, no memory): nothing of the batch is written. An I/O error in the
      // commit itself leaves that open: each op's outcome is unknown (P-ONCE).
      const f = failure(e, committing && mayHaveCommitted(e));
      return batch.map(() => f);
    }
    return results;
  }

  private insertAccess(records: AccessColumns[]): void {
    const { insertAccess, caseBlock, userBlock } = this.s;
    // A batch of reads names the same few cases and people over and over: each block entry is
    // written once per batch. Only within this op: its savepoint takes back all of it or nothing.
    const cases = new Map<string, number>();
    const users = new Map<string, number>();
    for (const r of records) {
      const block = Math.floor(Number(insertAccess.run(r).lastInsertRowid) / ACCESS_BLOCK_ROWS);
      if (r[3] !== null && cases.get(r[3]) !== block) {
        caseBlock.run(r[3], block);
        cases.set(r[3], block);
      }
      if (r[5] !== null && users.get(r[5]) !== block) {
        userBlock.run(r[5], block);
        users.set(r[5], block);
      }
    }
  }

  private one(w: WriteOp): unknown {
    const s = this.s;
    switch (w.op) {
      case 'append': {
        const cmd = w.command;
        // One writer: nothing comes between this look and the insert of the record below.
        const done = cmd && s.getCommand.get(cmd.userId, cmd.commandId, cmd.at);
        if (done) throw new CommandDoneError(done.answer);
        const actual = s.head.get(w.caseId)?.v ?? 0;
        if (actual !== w.expected) throw new VersionConflictError(w.caseId, w.expected, actual);
        let v = w.expected;
        for (const e of w.events) s.insertEvent.run(w.caseId, ++v, e.type, JSON.stringify(e.payload), e.at, e.actorUserId, e.actorOrgId);
        this.insertAccess(w.access);
        if (cmd) {
          s.pruneCommands.run(cmd.at);
          s.putCommand.run(cmd.userId, cmd.commandId, cmd.answer, cmd.at + COMMAND_ANSWER_KEEP_MS);
        }
        return v;
      }
      case 'access':
        return this.insertAccess(w.records);
      case 'putOrg':
        return void s.putOrg.run(w.org.id, JSON.stringify(w.org));
      case 'putUser':
        return void s.putUser.run(w.user.id, w.user.username, JSON.stringify(w.user));
      case 'putTable':
        return void s.putTable.run(w.table.id, JSON.stringify(w.table));
      case 'putMeeting':
        return s.putMeeting.run(w.meeting.id, JSON.stringify(w.meeting)).changes > 0;
      case 'changeMeetingRoom': {
        // One writer: reading and writing here is one step, whatever else is sent meanwhile.
        if (!s.openMeeting.get(w.meetingId)) return null;
        const row = s.meetingRoom.get(w.meetingId);
        const before = row ? (JSON.parse(row.json) as MeetingRoom) : null;
        const room = new Set<UserId>(before?.userIds ?? []);
        for (const id of w.change.leave) room.delete(id);
        for (const id of w.change.enter) room.add(id);
        const after: MeetingRoom = { meetingId: w.meetingId, userIds: [...room], version: (before?.version ?? 0) + 1 };
        s.putMeetingRoom.run(w.meetingId, JSON.stringify(after));
        return after;
      }
      case 'putSession':
        return void s.putSession.run(w.session.idHash, w.session.userId, w.session.createdAt, w.session.lastSeenAt);
      case 'touchSession':
        return void s.touchSession.run(w.lastSeenAt, w.idHash);
      case 'deleteSession':
        return void s.deleteSession.run(w.idHash);
      case 'deleteSessionsOf': {
        const ids = s.sessionsOf.all(w.userId).map((r) => r.id_hash);
        s.deleteSessionsOf.run(w.userId);
        return ids;
      }
      case 'takeLoginAttempt': {
        s.pruneFailures.run(w.now);
        // One writer: nothing comes between the look at every bucket and the counting.
        const seen = w.buckets.map((b) => ({ b, f: s.getFailures.get(b.key) }));
        const retryAt = Math.max(0, ...seen.map(({ b, f }) => loginRetryAt(f, b.policy, w.now)));
        if (retryAt > w.now) return retryAt;
        for (const { b, f } of seen) {
          // A window that has run out starts a fresh count.
          const fresh = !f || f.count <= 0 || w.now >= f.firstAt + b.policy.windowMs;
          const firstAt = fresh ? w.now : f.firstAt;
          s.putFailures.run(b.key, fresh ? 1 : f.count + 1, firstAt, w.now, firstAt + b.policy.windowMs);
        }
        return 0;
      }
      case 'returnLoginAttempt':
        for (const key of w.keys) {
          s.returnFailure.run(key);
          s.dropEmptyFailures.run(key);
        }
        return;
      case 'clearLoginFailures':
        return void s.clearFailures.run(w.key);
      case 'rememberLoginDevice':
        s.pruneDevices.run(w.now);
        return void s.rememberDevice.run(w.userId, w.deviceHash, w.now + w.trustMs);
      case 'putDocSnapshot':
        return s.putDocSnapshot.run(w.docId, w.version, Buffer.from(w.state)).changes > 0;
      case 'initMeta':
        s.initMeta.run(w.key, w.value);
        return s.getMeta.get(w.key)!.value;
      case 'putMeta':
        return void s.putMeta.run(w.key, w.value);
      case 'putSeal':
        return s.putSeal.run(w.n, w.json).changes > 0;
      case 'purgeCase': {
        const actual = s.head.get(w.caseId)?.v ?? 0;
        if (actual !== w.expected) throw new VersionConflictError(w.caseId, w.expected, actual);
        s.putPurge.run(w.caseId, w.marker);
        for (const docId of w.docIds) s.deleteDocSnapshot.run(docId);
        return s.deleteEvents.run(w.caseId).changes;
      }
      case 'putRegister':
        return void s.putRegister.run(w.kind, w.id, w.json);
      case 'truncateLog':
        return null;
      case 'purgeAccess': {
        s.putMeta.run(ACCESS_PURGE_META, w.marker);
        // Blocks wholly below the cut hold nothing any more.
        const below = Math.floor((w.upTo + 1) / ACCESS_BLOCK_ROWS);
        s.deleteCaseBlocks.run(below);
        s.deleteUserBlocks.run(below);
        return s.deleteAccess.run(w.upTo).changes;
      }
    }
  }
}

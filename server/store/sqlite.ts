import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { Organisation, Table } from '../../shared/domain.js';
import type { CaseId, CommandId, UserId } from '../../shared/ids.js';
import { AccessRow, OrganisationRow, SessionRow, StoredEventRow, TableRow, UserRow } from './rows.js';
import { ACCESS_BLOCK_ROWS, configure, SCHEMA } from './sqliteSchema.js';
import { accessColumns, toError, type WriteOp } from './sqliteWrites.js';
import type { CheckpointerReply } from './sqliteCheckpointer.worker.js';
import type { WriterReply, WriterRequest } from './sqliteWriter.worker.js';
import {
  docUpdatesDigest,
  OutcomeUnknownError,
  type AccessQuery,
  type AccessRecord,
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

/** What the checkpointer last did: frames in the write-ahead log, and how many it copied into the file. */
export interface Checkpoint {
  log: number;
  copied: number;
}

/**
 * Starts a thread of the store (writer, checkpointer). It runs TypeScript like the rest of the
 * server: it registers tsx itself, since a worker does not inherit the loader hooks of the thread
 * that started it.
 */
function startThread(entry: string, file: string): Worker {
  // The ESM entry of tsx's API (require.resolve would give the CommonJS one).
  const pkgFile = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  const tsx = pathToFileURL(path.join(path.dirname(pkgFile), pkg.exports['./esm/api']!.import.default)).href;
  const url = new URL(entry, import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url)}); })`;
  return new Worker(boot, { eval: true, workerData: { file }, name: path.basename(entry, '.worker.ts') });
}

/** Asks the thread to close its connection and waits for its last word (or its end). */
function stopThread(w: Worker, onClosed: (fn: () => void) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    onClosed(resolve);
    w.once('exit', () => resolve());
    w.ref();
    // The writer and the checkpointer take the same word.
    w.postMessage('close');
  }).then(() => void w.unref());
}

interface Waiting {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
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
  private readonly writer: Worker;
  private queue: WriteOp[] = [];
  private queueWaiting: Waiting[] = [];
  private readonly inFlight = new Map<number, Waiting[]>();
  private nextBatch = 1;
  private broken: Error | null = null;
  private closed: Promise<void> | null = null;
  private writerClosed: (() => void) | null = null;
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
  constructor(
    file: string,
    private readonly onBroken: (e: Error) => void = () => undefined,
    onWarning: (e: Error) => void = () => undefined,
  ) {
    if (file === ':memory:') throw new Error('SqliteStore needs a file: its writer thread opens the same database');
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new Database(file);
    configure(this.db);
    // The schema exists before the writer opens the file.
    this.db.exec(SCHEMA);
    this.writer = startThread('./sqliteWriter.worker.ts', file);
    this.writer.unref();

    this.writer.on('message', (m: WriterReply) => this.replied(m));
    this.writer.on('error', (e) => this.fail(e));
    this.writer.on('exit', (code) => this.fail(new Error(`SQLite writer thread stopped (exit ${code})`)));
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
      readEvents: db.prepare<[string, number, number], EventRowRaw>(
        'SELECT * FROM events WHERE case_id = ? AND version > ? AND version <= ? ORDER BY version',
      ),
      caseIds: db.prepare<[], { case_id: string }>('SELECT DISTINCT case_id FROM events'),
      listOrgs: db.prepare<[], { json: string }>('SELECT json FROM orgs ORDER BY rowid'),
      listUsers: db.prepare<[], { json: string }>('SELECT json FROM users ORDER BY rowid'),
      listTables: db.prepare<[], { json: string }>('SELECT json FROM tables_ ORDER BY rowid'),
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
      getMeta: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      commandAnswer: db.prepare<[string, string, number], { answer: string }>(
        'SELECT answer FROM command_answers WHERE user_id = ? AND command_id = ? AND expires_at > ?',
      ),
      readDoc: db.prepare<[string], { update_bytes: Buffer }>('SELECT update_bytes FROM doc_updates WHERE doc_id = ? ORDER BY seq'),
    };
  }

  /** Queues one change for the writer; the changes of this turn leave together. */
  private write<T>(op: WriteOp): Promise<T> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closed) return Promise.reject(new Error('store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push(op);
      this.queueWaiting.push({ resolve: resolve as (v: unknown) => void, reject });
      if (this.queue.length === 1) setImmediate(() => this.send());
    });
  }

  private send(): void {
    if (this.queue.length === 0) return;
    const id = this.nextBatch++;
    const ops = this.queue;
    this.inFlight.set(id, this.queueWaiting);
    this.queue = [];
    this.queueWaiting = [];
    // Keep the process alive while a commit is owed to someone; idle, the thread holds nothing up.
    if (this.inFlight.size === 1) this.writer.ref();
    try {
      this.writer.postMessage({ id, ops } satisfies WriterRequest);
    } catch (e) {
      // Something that cannot cross to the thread: those writes fail, nothing else does.
      const waiting = this.inFlight.get(id)!;
      this.inFlight.delete(id);
      if (this.inFlight.size === 0) this.writer.unref();
      for (const w of waiting) w.reject(e as Error);
    }
  }

  private replied(m: WriterReply): void {
    if (m === 'closed') return void this.writerClosed?.();
    const { id, results } = m;
    const waiting = this.inFlight.get(id);
    if (!waiting) return;
    this.inFlight.delete(id);
    if (this.inFlight.size === 0) this.writer.unref();
    results.forEach((r, i) => (r.ok ? waiting[i]!.resolve(r.value) : waiting[i]!.reject(toError(r))));
  }

  private fail(e: Error): void {
    // The exit that follows an orderly close owes nobody anything.
    if (this.closed && this.inFlight.size === 0 && this.queue.length === 0) return;
    if (!this.broken) {
      this.broken = e;
      this.onBroken(e);
    }
    // A batch the thread had may have committed before it died; one still queued here did not.
    const unknown = new OutcomeUnknownError(e);
    for (const waiting of this.inFlight.values()) for (const w of waiting) w.reject(unknown);
    this.inFlight.clear();
    for (const w of this.queueWaiting) w.reject(e);
    this.queue = [];
    this.queueWaiting = [];
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

  appendDocUpdate(docId: string, update: Uint8Array): Promise<void> {
    return this.write({ op: 'appendDoc', docId, update });
  }
  startDoc(docId: string, first: Uint8Array): Promise<boolean> {
    return this.write({ op: 'startDoc', docId, update: first });
  }
  async readDocUpdates(docId: string): Promise<Uint8Array[]> {
    return this.stmts.readDoc.all(docId).map((r) => new Uint8Array(r.update_bytes));
  }
  compactDoc(docId: string, merged: Uint8Array, replaced: Uint8Array[]): Promise<boolean> {
    return this.write({ op: 'compactDoc', docId, merged, count: replaced.length, digest: docUpdatesDigest(replaced) });
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.stmts.getMeta.get(key)?.value;
  }
  initMeta(key: string, value: string): Promise<string> {
    return this.write({ op: 'initMeta', key, value });
  }

  /** Calls `fn` after each checkpoint that changed something; returns the unsubscribe. */
  onCheckpoint(fn: (c: Checkpoint) => void): () => void {
    this.checkpointListeners.add(fn);
    return () => void this.checkpointListeners.delete(fn);
  }

  /** Commits what is queued, stops the store's threads, closes the file. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.send();
      if (!this.broken) await stopThread(this.writer, (fn) => (this.writerClosed = fn));
      if (!this.checkpointerExited) await stopThread(this.checkpointer, (fn) => (this.checkpointerClosed = fn));
      if (this.db.open) this.db.close();
    })();
    return this.closed;
  }
}

import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { configure } from './sqliteSchema.js';
import { failure, SqliteWrites, type WriteOp, type WriteResult } from './sqliteWrites.js';

/**
 * The SQLite writer thread: every change to the file is committed here, so neither the inserts
 * nor the fsync of a commit hold up the event loop that delivers the board. Batches that arrive
 * while a commit is under way are merged into the next one: one fsync for all of them.
 */
export interface WriterRequest {
  id: number;
  ops: WriteOp[];
}
export type WriterReply = { id: number; results: WriteResult[] } | 'closed';

const port = parentPort!;
const db = new Database((workerData as { file: string }).file);
configure(db);
/**
 * Checkpoints are the checkpointer thread's (sqliteCheckpointer.worker.ts), beside this one. Past
 * 10,000 pages (40 MB: it fell behind, or commits never paused long enough for the log to start
 * over) a commit here checkpoints too, as SQLite does by default at 1,000; by then little is left
 * to copy.
 */
db.pragma('wal_autocheckpoint = 10000');
const writes = new SqliteWrites(db);
let pending: WriterRequest[] = [];
let closing = false;

function flush(): void {
  const requests = pending;
  pending = [];
  const ops = requests.flatMap((r) => r.ops);
  const results = writes.apply(ops);
  truncateAfterPurge(ops, results);
  let at = 0;
  for (const r of requests) {
    port.postMessage({ id: r.id, results: results.slice(at, at + r.ops.length) } satisfies WriterReply);
    at += r.ops.length;
  }
  if (closing) close();
}

/**
 * R-RETAIN: a purged case's pages are zeroed in the file (secure_delete), but the write-ahead log
 * still holds earlier copies of them. Before the purge is answered the log is copied into the
 * file and cut to nothing, tried a few times while a reader holds it. The purge itself is
 * committed either way (its answer says so); a log that could not be cut fails the `truncateLog`
 * that follows a purge (SqliteStore.flushPurged), to be tried again.
 */
function truncateAfterPurge(ops: WriteOp[], results: WriteResult[]): void {
  const asked = ops.some((o, i) => (o.op === 'purgeCase' || o.op === 'purgeAccess' || o.op === 'truncateLog') && results[i]?.ok);
  if (!asked) return;
  let failed: WriteResult | null = null;
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const [r] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
      failed = r && r.busy === 0 ? null : failure(new Error('the write-ahead log could not be cut back after a purge'));
    } catch (e) {
      failed = failure(e);
    }
    if (!failed) return;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
  ops.forEach((o, i) => {
    if (o.op === 'truncateLog') results[i] = failed!;
  });
}

/** After the last replies, on the same port: the main thread knows nothing is owed any more. */
function close(): void {
  db.close();
  port.postMessage('closed' satisfies WriterReply);
  port.close();
}

port.on('message', (m: WriterRequest | 'close') => {
  if (m === 'close') {
    closing = true;
    if (pending.length === 0) close();
    return;
  }
  pending.push(m);
  if (pending.length === 1) setImmediate(flush);
});

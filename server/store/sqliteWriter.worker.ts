import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { configure } from './sqliteSchema.js';
import { SqliteWrites, type WriteOp, type WriteResult } from './sqliteWrites.js';

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
// Checkpoints are this thread's own, after commits (below), never inside one.
db.pragma('wal_autocheckpoint = 0');
const writes = new SqliteWrites(db);
let pending: WriterRequest[] = [];
let closing = false;
/**
 * SQLite checkpoints (copies the log into the database file, two fsyncs) in the commit that takes
 * the log past 1,000 pages, and a busy log crosses that often: the access-log indexes dirty many
 * pages per commit. Here the writer checkpoints after a commit at most once a second instead.
 */
const CHECKPOINT_EVERY_MS = 1000;
let lastCheckpoint = performance.now();
let idle: NodeJS.Timeout | null = null;

function checkpoint(): void {
  lastCheckpoint = performance.now();
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy: the next one copies what this one could not.
  }
}

/** After a commit: at most once a second, and once more when the writes stop. */
function checkpointIfDue(): void {
  if (idle) clearTimeout(idle);
  idle = null;
  if (performance.now() - lastCheckpoint >= CHECKPOINT_EVERY_MS) checkpoint();
  else {
    idle = setTimeout(() => {
      idle = null;
      if (!closing) checkpoint();
    }, CHECKPOINT_EVERY_MS);
    idle.unref();
  }
}

function flush(): void {
  const requests = pending;
  pending = [];
  const results = writes.apply(requests.flatMap((r) => r.ops));
  let at = 0;
  for (const r of requests) {
    port.postMessage({ id: r.id, results: results.slice(at, at + r.ops.length) } satisfies WriterReply);
    at += r.ops.length;
  }
  // After the replies; a batch that arrives meanwhile waits for it, at most once a second.
  checkpointIfDue();
  if (closing) close();
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

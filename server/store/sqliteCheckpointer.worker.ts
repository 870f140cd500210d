import fs from 'node:fs';
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { configure } from './sqliteSchema.js';

/**
 * The SQLite checkpointer thread: copies the write-ahead log into the database file on its own
 * connection, so the writer thread never waits for it. A checkpoint of a busy log took 20–80 ms
 * here (the database file is fsynced too); run by the writer, every commit that arrived meanwhile
 * waited that long. In WAL mode a checkpoint runs beside writers: they keep appending to the log,
 * and the first commit after a checkpoint that copied everything starts the log over. Under a
 * steady stream of commits one usually lands during the copy, so the log rarely starts over from
 * here alone; the writer's own checkpoint at 10,000 pages (sqliteWriter.worker.ts) then finds
 * nearly everything copied, finishes, and the log starts over.
 */
export type CheckpointerRequest = 'close';
export type CheckpointerReply =
  | { kind: 'checkpointed'; /** frames in the log */ log: number; /** of those, copied into the file */ copied: number }
  /** A checkpoint failed other than by being busy (disk full, I/O error): told once until one succeeds. */
  | { kind: 'failed'; message: string }
  | 'closed';

/** Once a second: often enough to keep the log short, rarely enough to cost nothing when idle. */
const EVERY_MS = 1000;
/** Commits that landed while copying are copied right after (they are few), so the log can restart. */
const CATCH_UP_ROUNDS = 3;

/**
 * The lowest priority for this thread alone (on Linux a nice value belongs to a thread). On a
 * core it shares with the event loop, a checkpoint otherwise takes turns with delivering the board.
 */
try {
  const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
  if (Number.isInteger(tid) && tid > 0) os.setPriority(tid, 19);
} catch {
  // No /proc (not Linux) or not allowed: it runs at the process's priority.
}

const port = parentPort!;
const db = new Database((workerData as { file: string }).file);
configure(db);
db.pragma('wal_autocheckpoint = 0');
let last = { log: -1, copied: -1 };
let lastFailure: string | null = null;

function checkpoint(): void {
  let log = 0;
  let copied = 0;
  try {
    for (let round = 0; round < CATCH_UP_ROUNDS; round++) {
      // PASSIVE waits for no reader and no writer: it copies what it can now.
      const [r] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
      // Busy (the writer's own checkpoint holds the lock): nothing to report, the next round copies.
      if (!r || r.busy !== 0) return;
      log = r.log;
      copied = r.checkpointed;
      if (copied >= log) break;
    }
  } catch (e) {
    const err = e as { code?: unknown; message?: unknown };
    if (err.code === 'SQLITE_BUSY' || err.code === 'SQLITE_LOCKED') return;
    const message = String(err.message ?? e);
    if (message !== lastFailure) port.postMessage({ kind: 'failed', message } satisfies CheckpointerReply);
    lastFailure = message;
    return;
  }
  lastFailure = null;
  // Report only a change: an idle house sends nothing.
  if (log === last.log && copied === last.copied) return;
  last = { log, copied };
  port.postMessage({ kind: 'checkpointed', log, copied } satisfies CheckpointerReply);
}

const timer = setInterval(checkpoint, EVERY_MS);

port.on('message', (m: CheckpointerRequest) => {
  if (m !== 'close') return;
  clearInterval(timer);
  db.close();
  port.postMessage('closed' satisfies CheckpointerReply);
  port.close();
});

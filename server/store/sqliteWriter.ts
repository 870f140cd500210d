import type { Worker } from 'node:worker_threads';
import { startThread, stopThread } from './sqliteThread.js';
import { toError, type WriteOp } from './sqliteWrites.js';
import type { WriterReply, WriterRequest } from './sqliteWriter.worker.js';
import { OutcomeUnknownError } from './types.js';

interface Waiting {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/**
 * The main thread's end of the SQLite writer thread (sqliteWriter.worker.ts): the changes of one
 * turn of the event loop travel as one batch, and each promise resolves only once its batch is
 * committed and fsynced. A thread that dies leaves every batch it had with an unknown outcome.
 */
export class SqliteWriter {
  private readonly thread: Worker;
  private queue: WriteOp[] = [];
  private queueWaiting: Waiting[] = [];
  private readonly inFlight = new Map<number, Waiting[]>();
  private nextBatch = 1;
  private broken: Error | null = null;
  private closed: Promise<void> | null = null;
  private threadClosed: (() => void) | null = null;

  /**
   * @param onBroken called once when the thread dies: nothing can be committed any more.
   */
  constructor(
    file: string,
    private readonly onBroken: (e: Error) => void,
  ) {
    this.thread = startThread('./sqliteWriter.worker.ts', file);
    this.thread.unref();
    this.thread.on('message', (m: WriterReply) => this.replied(m));
    this.thread.on('error', (e) => this.fail(e));
    this.thread.on('exit', (code) => this.fail(new Error(`SQLite writer thread stopped (exit ${code})`)));
  }

  /** Queues one change; the changes of this turn leave together. */
  write<T>(op: WriteOp): Promise<T> {
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
    if (this.inFlight.size === 1) this.thread.ref();
    try {
      this.thread.postMessage({ id, ops } satisfies WriterRequest);
    } catch (e) {
      // Something that cannot cross to the thread: those writes fail, nothing else does.
      const waiting = this.inFlight.get(id)!;
      this.inFlight.delete(id);
      if (this.inFlight.size === 0) this.thread.unref();
      for (const w of waiting) w.reject(e as Error);
    }
  }

  private replied(m: WriterReply): void {
    if (m === 'closed') return void this.threadClosed?.();
    const { id, results } = m;
    const waiting = this.inFlight.get(id);
    if (!waiting) return;
    this.inFlight.delete(id);
    if (this.inFlight.size === 0) this.thread.unref();
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

  /** Sends what is queued, then stops the thread once it has answered everything. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.send();
      if (!this.broken) await stopThread(this.thread, (fn) => (this.threadClosed = fn));
    })();
    return this.closed;
  }
}

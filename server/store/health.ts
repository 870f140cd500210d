import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  DisconnectsClientError,
  ErrorReply,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  type RedisClientType,
} from 'redis';
import { REDIS_PROBE_EVERY_MS, STORE_UNAVAILABLE_AFTER_MS } from '../../shared/limits.js';
import type { Logger } from '../log.js';
import { OutcomeUnknownError, type Store } from './types.js';

/**
 * The store cannot answer now: Redis is away, hangs or is loading its data, or the disk is full.
 * Answered as UNAVAILABLE (HTTP 503), never as "no session" or as a fault of the request.
 */
export class StoreUnavailableError extends Error {
  constructor(
    /**
     * The request may have reached the store, and a write in it may yet be applied (no answer
     * within the bound, or the link broke while waiting). False: it was certainly not applied.
     */
    readonly maybeApplied: boolean,
    why: string,
  ) {
    super(`store unavailable: ${why}`);
  }
}

/** A link the server needs to serve: ready, or not (readiness reports each by name). */
export interface LinkHealth {
  readonly name: string;
  readonly ready: boolean;
  /** Called on every change of `ready`. */
  onChange(fn: (ready: boolean) => void): void;
  close(): void;
}

/**
 * Whether an error means the store cannot serve now, and if so whether the failed request may
 * still have been applied: a StoreUnavailableError, or SQLite out of disk space (its transaction
 * rolled back). Anything else is a fault of its own.
 */
export function unavailability(err: unknown): { maybeApplied: boolean } | null {
  if (err instanceof StoreUnavailableError) return { maybeApplied: err.maybeApplied };
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_FULL') return { maybeApplied: false };
  return null;
}

/**
 * Runs `fn` after the event loop's next turn of I/O. A bound that passes while the process is
 * busy (thousands of boards reconnecting at once) may pass with the answer already waiting in the
 * socket, unread: timers run before I/O in each turn. Taken for a Redis that does not answer, it
 * refused every call until the next PING, and the boards that were refused came back together.
 */
function afterPendingReads(fn: () => void): void {
  setImmediate(fn);
}

/** Replies that say the server did not run the command, and is not ready (LOADING after a restart). */
const NOT_READY = /^(LOADING|BUSY|MASTERDOWN)\b/;
/** Replies that refuse a write the server cannot keep now (MISCONF: its disk), though it answers. */
const REFUSED_WRITE = /^(MISCONF|READONLY)\b/;

/**
 * The health of one Redis connection: a PING every REDIS_PROBE_EVERY_MS, and every call of the
 * store through `guard`. A call refused without being sent, a Redis that is loading, or one that
 * does not answer within STORE_UNAVAILABLE_AFTER_MS marks the link down; while down, calls are
 * refused at once (so nothing piles up to land late) until a PING is answered again.
 *
 * node-redis alone cannot bound a call: its command timeout covers only the wait before a command
 * is written, and a Redis stopped (SIGSTOP) keeps the connection open and never answers.
 */
export class RedisHealth implements LinkHealth {
  private up = true;
  /** Counts the link's recoveries: see guard. */
  private recoveries = 0;
  private probing = false;
  private reconnecting = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;
  private readonly listeners: ((ready: boolean) => void)[] = [];

  constructor(
    readonly name: string,
    private readonly client: RedisClientType,
    private readonly log: Logger,
    private readonly boundMs = STORE_UNAVAILABLE_AFTER_MS,
  ) {
    // A broken connection is known at once; a new one is trusted only once it answers a PING
    // (a restarted Redis accepts connections while it is still loading).
    client.on('error', (err: Error) => this.down(err.message));
    client.on('end', () => this.down('connection closed'));
    client.on('ready', () => this.probe());
    this.timer = setInterval(() => this.probe(), REDIS_PROBE_EVERY_MS);
    this.timer.unref();
  }

  get ready(): boolean {
    return this.up;
  }

  onChange(fn: (ready: boolean) => void): void {
    this.listeners.push(fn);
  }

  /**
   * Runs one call of the store: refused at once while the link is down, answered
   * StoreUnavailableError when it gets no answer in time or the link fails under it.
   * @param write whether the call changes the store (then a lost answer may hide a change)
   * @param bounded false for a long query (the privacy officer's reading of the log)
   */
  guard<T>(work: () => Promise<T>, write: boolean, bounded = true): Promise<T> {
    if (!this.up) return Promise.reject(new StoreUnavailableError(false, `${this.name} is down`));
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | null = null;
      let settled = false;
      // A call sent into a hang that a PING has since seen end is answered in turn, just after
      // that PING: it gets the bound again from there, rather than failing a moment too soon.
      const arm = (after: number): void => {
        timer = setTimeout(
          () =>
            afterPendingReads(() => {
              if (settled) return;
              if (this.recoveries !== after) return arm(this.recoveries);
              this.down(`no answer within ${this.boundMs} ms`);
              reject(new StoreUnavailableError(write, `${this.name} did not answer in time`));
            }),
          this.boundMs,
        );
      };
      if (bounded) arm(this.recoveries);
      const settle = (): void => {
        settled = true;
        if (timer) clearTimeout(timer);
      };
      let pending: Promise<T>;
      try {
        pending = work();
      } catch (err) {
        settle();
        return reject(this.classify(err, write));
      }
      pending.then(
        (value) => {
          settle();
          resolve(value);
        },
        (err: unknown) => {
          settle();
          reject(this.classify(err, write));
        },
      );
    });
  }

  /** A Redis error as the rest of the server should see it. */
  private classify(err: unknown, write: boolean): unknown {
    if (err instanceof ClientOfflineError || err instanceof ClientClosedError) {
      this.down(err.message);
      return new StoreUnavailableError(false, `${this.name}: ${err.message}`);
    }
    if (err instanceof ErrorReply) {
      if (NOT_READY.test(err.message)) {
        this.down(err.message);
        return new StoreUnavailableError(false, `${this.name}: ${err.message}`);
      }
      if (REFUSED_WRITE.test(err.message)) return new StoreUnavailableError(false, `${this.name}: ${err.message}`);
      return err;
    }
    const code = (err as { code?: unknown } | null)?.code;
    if (
      err instanceof SocketClosedUnexpectedlyError ||
      err instanceof SocketTimeoutError ||
      err instanceof ConnectionTimeoutError ||
      err instanceof DisconnectsClientError ||
      (err instanceof Error && typeof code === 'string' && /^E[A-Z]+$/.test(code))
    ) {
      this.down(err.message);
      return new StoreUnavailableError(write, `${this.name}: ${err.message}`);
    }
    return err;
  }

  /** One PING at a time: one that hangs marks the link down after the bound, and up when it is answered. */
  private probe(): void {
    if (this.probing || !this.client.isOpen) return;
    this.probing = true;
    const timer = setTimeout(
      () =>
        afterPendingReads(() => {
          if (!this.probing) return;
          this.down(`no answer to PING within ${this.boundMs} ms`);
          this.reconnect();
        }),
      this.boundMs,
    );
    this.client
      .ping()
      .then(
        () => this.setUp(),
        (err: unknown) => this.down((err as Error).message),
      )
      .finally(() => {
        clearTimeout(timer);
        this.probing = false;
      });
  }

  /**
   * A connection that node-redis takes for open but on which nothing is answered is made again.
   * A Redis that hangs is one cause; the other is node-redis itself: a connection reset between
   * its connect and its ready (a Redis killed as it was being reconnected to) is ignored, and
   * the client then reports ready on a dead socket forever. The same client object connects
   * again, so everything holding it goes on; calls waiting on the old socket fail (outcome unknown).
   */
  private reconnect(): void {
    if (this.reconnecting || this.closed || !this.client.isReady) return;
    this.reconnecting = true;
    this.log.warn({ link: this.name }, 'no answer on an open Redis connection; connecting again');
    this.client.destroy();
    this.client
      .connect()
      .catch((err: unknown) => this.log.error({ err, link: this.name }, 'connecting to Redis again failed'))
      .finally(() => (this.reconnecting = false));
  }

  private down(why: string): void {
    if (!this.up || this.closed) return;
    this.up = false;
    this.log.error({ link: this.name, why }, 'Redis unavailable; refusing what needs it');
    this.changed();
  }

  private setUp(): void {
    if (this.up || this.closed) return;
    this.up = true;
    this.recoveries++;
    this.log.warn({ link: this.name }, 'Redis available again');
    this.changed();
  }

  private changed(): void {
    for (const fn of this.listeners) {
      try {
        fn(this.up);
      } catch (err) {
        this.log.error({ err }, 'health listener failed');
      }
    }
  }

  /** Before the connection is closed: its end is no outage. */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }
}

/** Store calls that change nothing: when their answer is lost, nothing was applied. */
const READS = new Set<string>(
  ((names: (keyof Store)[]) => names)([
    'commandAnswer',
    'readEvents',
    'caseIds',
    'listOrgs',
    'listUsers',
    'listTables',
    'listMeetings',
    'getSession',
    'isLoginDevice',
    'readAccess',
    'readDocSnapshot',
    'getMeta',
    'listPurges',
    'getRegister',
    'listRegister',
  ]),
);

/**
 * The store with every call run through `health.guard`. Any method (also one added to the Store
 * later) is guarded, as a write unless it is named in READS; only `close` passes as it is.
 */
export function guardStore<S extends Store>(store: S, health: RedisHealth): S {
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function' || prop === 'close' || typeof prop !== 'string') return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      const write = !READS.has(prop);
      const bounded = prop !== 'readAccess';
      if (prop !== 'appendEvents') return (...args: unknown[]) => health.guard(() => method.apply(target, args), write, bounded);
      // The Store's word for an append whose answer was lost (P-ONCE).
      return (...args: unknown[]) =>
        health
          .guard(() => method.apply(target, args), write, bounded)
          .catch((err: unknown) => {
            throw err instanceof StoreUnavailableError && err.maybeApplied ? new OutcomeUnknownError(err) : err;
          });
    },
  });
}

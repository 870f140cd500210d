import { randomBytes } from 'node:crypto';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import type { RedisClientType } from 'redis';
import { z } from 'zod';
import type { CaseId } from '../../shared/ids.js';
import { logRedisErrors, type Logger } from '../log.js';
import type { RedisKeys } from '../store/keys.js';
import { closeRedis } from '../store/redisClose.js';
import { StoredEventRow } from '../store/rows.js';
import type { NewEvent, StoredEvent } from '../store/types.js';
import type { LinkChaos } from './chaos.js';

/**
 * A process's link to the other server processes of the same board: three channels, each used by
 * its own part of the server (case and directory notices, session ends, the cursor relay). Every
 * form keeps these promises (test/support/cluster.contract.ts runs them against each):
 * - A link never hears what it sent itself. What it sends reaches every other link of the
 *   cluster that is connected at the time; nothing is kept for a link that is away.
 * - What one link sends reaches each other link in the order it was sent (case and directory
 *   notices and session ends in one order; the messages of one document in one order). Between
 *   senders there is no order.
 * - Sending never throws and is never awaited (sessionsEnded aside): a message that cannot be
 *   sent is logged and lost, as one sent during a break is. Receivers make up for loss from the
 *   shared store: a later notice that does not follow on, onResync, the session sweep.
 * - One process alone (SingleProcess) sends nothing, hears nothing and never resyncs.
 */
/**
 * Who has which case open on each process (realtime/presence.ts). Over this link, not Socket.IO's
 * server-side events: the Redis Streams adapter publishes those without handling a failed publish,
 * and a bus that drops its connection then ends the process with an unhandled rejection.
 */
export interface PresenceBus {
  /** Whether other processes may be listening (a single process sends nothing). */
  readonly shared: boolean;
  /** Sends `body` to every other process; a failure is logged, the next refresh makes up for it. */
  publishPresence(body: object): void;
  /** Another process's presence message, as it sent it (checked by the receiver), with its sender. */
  onPresence(fn: (from: string, body: unknown) => void): void;
}

export interface Cluster extends CaseNotices, SessionEndBus, DocRelay, PresenceBus {
  close(): Promise<void>;
}

/** What both the notices and the session ends need: word that some may have been missed. */
export interface Resync {
  /**
   * After the link to the others was lost and is back: notices may have been missed meanwhile. By
   * then the link hears again, its document subscriptions included. With the bus on a Redis of its
   * own, also after the store's link is back: a commit whose answer was lost may be in the log
   * unannounced.
   */
  onResync(fn: () => void): void;
}

/** Case and directory notices (CaseService, the directory in app.ts). */
export interface CaseNotices extends Resync {
  /**
   * Tells the others a case log grew to `version` by the events just appended (`rows`, the last at
   * `version`), so they apply them (or catch up from the shared log when they missed one) and
   * deliver to their own sockets. One process alone builds nothing for it.
   */
  caseCommitted(caseId: CaseId, version: number, rows: readonly NewEvent[]): void;
  /**
   * Another link's caseCommitted: the events as the log numbers them (`version - events.length + 1`
   * up to `version`), or none when they did not arrive intact. A notice may be stale or skip
   * versions (one was missed): the receiver then reads the shared log.
   */
  onCase(fn: (caseId: CaseId, version: number, events: StoredEvent[]) => void): void;
  /** Tells the others the directory (organisations, people, tables) changed. */
  directoryChanged(): void;
  onDirectory(fn: () => void): void;
  /** R-RETAIN: tells the others a case was purged from the store, so they forget it too. */
  casePurged(caseId: CaseId): void;
  onPurged(fn: (caseId: CaseId) => void): void;
}

/** Session ends (SessionEnds): every process closes its connections on an ended session. */
export interface SessionEndBus extends Resync {
  /**
   * Tells the others these sessions ended, so they close their connections on them. Resolves once
   * every other link has run its onSessionsEnded listeners with them (which return once they have
   * closed their connections); with no other link, at once. Never later than SESSION_END_ACK_MS
   * (logged), the bus away included; at once when the message cannot be sent. Links not told find
   * the ended sessions in their sweep, at the latest on onResync.
   */
  sessionsEnded(idHashes: readonly string[]): Promise<void>;
  onSessionsEnded(fn: (idHashes: string[]) => void): void;
}

/** The relay of cursors (Yjs awareness) between copies of one document (server/collab/). */
export interface DocRelay {
  /**
   * Relays a cursor message (awareness; text goes by the case log) to the same document elsewhere,
   * with the version of its case as the sender holds it. One process alone builds nothing for it.
   */
  publishDoc(docId: string, caseVersion: number, message: Uint8Array): void;
  /**
   * Hears other links' publishDoc of this document, byte for byte with their case version. Resolves
   * once subscribed: nothing another link relays after that is missed (bar a break, see onResync).
   * Once the returned unsubscribe resolves, `fn` hears nothing more.
   */
  subscribeDoc(docId: string, fn: (caseVersion: number, message: Uint8Array) => void): Promise<() => Promise<void>>;
}

/** The events of a commit as the log holds them: `rows` appended up to `version`. */
export function storedEvents(caseId: CaseId, version: number, rows: readonly NewEvent[]): StoredEvent[] {
  return rows.map((r, i) => ({ caseId, version: version - rows.length + 1 + i, ...r }));
}

/** One process: nothing to tell anyone. */
export class SingleProcess implements Cluster {
  readonly shared = false;
  publishPresence(): void {}
  onPresence(): void {}
  caseCommitted(): void {}
  directoryChanged(): void {}
  casePurged(): void {}
  onPurged(): void {}
  async sessionsEnded(): Promise<void> {}
  onSessionsEnded(): void {}
  onCase(): void {}
  onDirectory(): void {}
  onResync(): void {}
  publishDoc(): void {}
  async subscribeDoc(): Promise<() => Promise<void>> {
    return async () => undefined;
  }
  async close(): Promise<void> {}
}

const ID_BYTES = 12;
/** How long an ended session waits for every process to confirm it closed its connections. */
export const SESSION_END_ACK_MS = 2_000;
const SessionHashes = z.array(z.string().regex(/^[A-Za-z0-9_-]{43}$/)).max(10_000);
/** A relayed document message: [sender id][varUint MESSAGE_AT_VERSION][varUint case version][y-message]. */
const MESSAGE_AT_VERSION = 100;

/**
 * Several processes over Redis pub/sub. Messages carry the sender's id, so a process never
 * handles its own. What crosses is "case X is at version N, by these events" — every process runs
 * them through its own per-viewer delivery, and reads the shared log itself when a notice is
 * missing or out of order — and cursor messages between processes that have the same document open.
 */
export class RedisCluster implements Cluster {
  private readonly id = randomBytes(ID_BYTES);
  private readonly hexId = this.id.toString('hex');
  /** How every message this process publishes begins (`from` is always its first member). */
  private readonly ownPrefix = `{"from":"${this.hexId}"`;
  private readonly caseFns: ((caseId: CaseId, version: number, events: StoredEvent[]) => void)[] = [];
  private readonly dirFns: (() => void)[] = [];
  private readonly purgeFns: ((caseId: CaseId) => void)[] = [];
  private readonly sessionFns: ((idHashes: string[]) => void)[] = [];
  /** Session ends this process announced, waiting for the others' answers. */
  private readonly sessionAcks = new Map<string, () => void>();
  private readonly resyncFns: (() => void)[] = [];
  private readonly presenceFns: ((from: string, body: unknown) => void)[] = [];
  readonly shared = true;

  private constructor(
    private readonly pub: RedisClientType,
    private readonly sub: RedisClientType,
    private readonly keys: RedisKeys,
    private readonly log: Logger,
    private readonly chaos: LinkChaos | null,
  ) {}

  /**
   * @param client the Redis the messages run over (the bus, or the store's own Redis)
   * @param store the store's client when the bus is another Redis: after it reconnects, a commit
   *   whose answer was lost may be in the log without any notice of it, so every case is caught up
   * @param chaos tests only: what this process hears is delayed, reordered between senders, and
   *   some case notices lost (TEST_LINK_CHAOS)
   */
  static async connect(client: RedisClientType, keys: RedisKeys, log: Logger, store?: RedisClientType, chaos?: LinkChaos): Promise<RedisCluster> {
    const pub = client.duplicate() as RedisClientType;
    const sub = client.duplicate() as RedisClientType;
    logRedisErrors(pub, 'cluster publish', log);
    logRedisErrors(sub, 'cluster subscribe', log);
    await Promise.all([pub.connect(), sub.connect()]);
    const c = new RedisCluster(pub, sub, keys, log, chaos ?? null);
    await sub.subscribe(keys.caseChannel, (raw: string) => c.onCaseMessage(raw));
    // Pub/sub keeps nothing for a subscriber that is away: after a reconnect, catch up from the logs.
    const resync = (link: string) => (): void => {
      log.warn({ link }, 'link back after a break; catching up');
      for (const fn of c.resyncFns) fn();
    };
    sub.on('ready', resync('cluster'));
    store?.on('ready', resync('store'));
    return c;
  }

  private onCaseMessage(raw: string): void {
    // Every process hears its own notices too: those are dropped before they are parsed.
    if (raw.startsWith(this.ownPrefix)) return;
    if (!this.chaos) return this.handleCaseMessage(raw);
    const from = /^\{"from":"([0-9a-f]+)","kind":"(\w+)"/.exec(raw);
    this.chaos.pass(`${from?.[1]} case`, from?.[2] === 'case', () => this.handleCaseMessage(raw));
  }

  private handleCaseMessage(raw: string): void {
    try {
      const m = JSON.parse(raw) as {
        from: string;
        kind: 'case' | 'directory' | 'purged' | 'sessions' | 'sessionsDone' | 'presence';
        caseId?: CaseId;
        version?: number;
        events?: unknown;
        ids?: unknown;
        token?: unknown;
        body?: unknown;
      };
      if (m.from === this.hexId) return;
      if (m.kind === 'directory') for (const fn of this.dirFns) fn();
      else if (m.kind === 'purged') {
        if (typeof m.caseId === 'string') for (const fn of this.purgeFns) fn(m.caseId);
      } else if (m.kind === 'presence') for (const fn of this.presenceFns) fn(m.from, m.body);
      else if (m.kind === 'sessions') {
        const ids = SessionHashes.safeParse(m.ids);
        if (!ids.success || typeof m.token !== 'string') return this.log.warn('bad session-end message');
        for (const fn of this.sessionFns) fn(ids.data);
        this.publish({ kind: 'sessionsDone', token: m.token });
      } else if (m.kind === 'sessionsDone') {
        if (typeof m.token === 'string') this.sessionAcks.get(m.token)?.();
      } else if (m.caseId && typeof m.version === 'number') {
        // Events that do not parse are dropped: the receiver then reads the log instead.
        const parsed = StoredEventRow.array().safeParse(m.events ?? []);
        const events = parsed.success ? (parsed.data as StoredEvent[]) : [];
        for (const fn of this.caseFns) fn(m.caseId, m.version, events);
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'bad cluster message');
    }
  }

  private publish(body: object): void {
    this.pub.publish(this.keys.caseChannel, JSON.stringify({ from: this.hexId, ...body })).catch((err: unknown) => {
      // Others catch up on their next notification or reconnect; log and go on.
      this.log.warn({ err: (err as Error).message }, 'cluster publish failed');
    });
  }

  caseCommitted(caseId: CaseId, version: number, rows: readonly NewEvent[]): void {
    this.publish({ kind: 'case', caseId, version, events: storedEvents(caseId, version, rows) });
  }
  directoryChanged(): void {
    this.publish({ kind: 'directory' });
  }
  casePurged(caseId: CaseId): void {
    this.publish({ kind: 'purged', caseId });
  }
  onPurged(fn: (caseId: CaseId) => void): void {
    this.purgeFns.push(fn);
  }
  /**
   * PUBLISH answers how many subscribers it reached: every process, this one included, has one on
   * this channel. Each answers once it has closed its connections; their answers are counted.
   */
  async sessionsEnded(idHashes: readonly string[]): Promise<void> {
    const token = randomBytes(ID_BYTES).toString('hex');
    let answered = 0;
    let expected = Infinity;
    let done!: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    this.sessionAcks.set(token, () => {
      if (++answered >= expected) done();
    });
    // The bound covers the publish too: while the bus is away it would wait for the link.
    const timer = setTimeout(done, SESSION_END_ACK_MS);
    this.pub.publish(this.keys.caseChannel, JSON.stringify({ from: this.hexId, kind: 'sessions', ids: idHashes, token })).then(
      (reached) => {
        expected = reached - 1;
        if (answered >= expected) done();
      },
      (err: unknown) => {
        // The bus is away: the others find the ended sessions in their sweep, at the latest when the link is back.
        this.log.warn({ err: (err as Error).message }, 'session end not published');
        done();
      },
    );
    try {
      await all;
      if (answered < expected)
        this.log.warn({ answered, expected: Number.isFinite(expected) ? expected : null }, 'not every process confirmed a session end in time');
    } finally {
      clearTimeout(timer);
      this.sessionAcks.delete(token);
    }
  }
  onSessionsEnded(fn: (idHashes: string[]) => void): void {
    this.sessionFns.push(fn);
  }
  onCase(fn: (caseId: CaseId, version: number, events: StoredEvent[]) => void): void {
    this.caseFns.push(fn);
  }
  onDirectory(fn: () => void): void {
    this.dirFns.push(fn);
  }
  publishPresence(body: object): void {
    this.publish({ kind: 'presence', body });
  }
  onPresence(fn: (from: string, body: unknown) => void): void {
    this.presenceFns.push(fn);
  }
  onResync(fn: () => void): void {
    this.resyncFns.push(fn);
  }

  publishDoc(docId: string, caseVersion: number, message: Uint8Array): void {
    const enc = encoding.createEncoder();
    encoding.writeUint8Array(enc, this.id);
    encoding.writeVarUint(enc, MESSAGE_AT_VERSION);
    encoding.writeVarUint(enc, caseVersion);
    encoding.writeUint8Array(enc, message);
    this.pub.sendCommand(['PUBLISH', this.keys.docChannel(docId), Buffer.from(encoding.toUint8Array(enc))]).catch((err: unknown) => {
      this.log.warn({ err: (err as Error).message }, 'doc relay failed');
    });
  }

  async subscribeDoc(docId: string, fn: (caseVersion: number, message: Uint8Array) => void): Promise<() => Promise<void>> {
    const channel = this.keys.docChannel(docId);
    const listener = (raw: Buffer): void => {
      if (raw.subarray(0, ID_BYTES).equals(this.id)) return;
      let version: number;
      let message: Uint8Array;
      try {
        const decoder = decoding.createDecoder(new Uint8Array(raw.buffer, raw.byteOffset + ID_BYTES, raw.length - ID_BYTES));
        if (decoding.readVarUint(decoder) !== MESSAGE_AT_VERSION) throw new Error('relay without a case version');
        version = decoding.readVarUint(decoder);
        // A copy: it may wait (a load, a catch-up), and a view would keep the whole socket chunk.
        message = decoder.arr.slice(decoder.pos);
      } catch (err) {
        // From a process of another version, or damaged: applying it unjudged could leak.
        this.log.warn({ err: (err as Error).message, docId }, 'bad relayed doc message');
        return;
      }
      if (!this.chaos) return fn(version, message);
      this.chaos.pass(`${raw.subarray(0, ID_BYTES).toString('hex')} ${docId}`, true, () => fn(version, message));
    };
    await this.sub.subscribe(channel, listener, true);
    return async () => {
      await this.sub.unsubscribe(channel, listener, true);
    };
  }

  async close(): Promise<void> {
    await Promise.all([closeRedis(this.sub), closeRedis(this.pub)]);
  }
}

import * as decoding from 'lib0/decoding';
import { WebSocket, type RawData } from 'ws';
import * as syncProtocol from 'y-protocols/sync';
import type { Viewer } from '../../shared/domain.js';
import * as Y from 'yjs';
import { COLLAB_UPDATE_BYTES_PER_S, COLLAB_UPDATES_PER_S, MAX_DOC_UPDATE_BYTES, SESSION_CHECK_EVERY_MS } from '../../shared/limits.js';
import { TokenBucket } from '../realtime/rateLimit.js';
import { CollabClose, CollabRefusal } from '../../shared/protocol.js';
import { accessRecord } from '../audit/accessLog.js';
import { newBurst, type Burst } from './board.js';
import { applyOwnCursors, type CursorOwner } from './cursors.js';
import type { CollabDeps } from './collab.js';
import type { CollabDoc } from './doc.js';
import type { DocWriter } from './writes.js';
import {
  awarenessMessage,
  KEEPALIVE_MESSAGE,
  MESSAGE_AWARENESS,
  MESSAGE_SYNC,
  refusedMessage,
  syncStep1Message,
  syncStep2For,
  syncStep2Message,
} from './wire.js';

/** WebSocket close code 1011: the server failed; unlike 4400–4499, a client reconnects after it. */
export const WS_INTERNAL_ERROR = 1011;

/** One open co-editing connection. */
export interface Conn extends DocWriter, CursorOwner {
  ws: WebSocket;
  viewer: Viewer;
  address: string;
  sessionIdHash: string;
  /** When the session was last confirmed for this connection. */
  checkedAt: number;
  /** Answered the last keepalive ping. */
  alive: boolean;
  /** Revoked, its session ended, or closed: nothing it still sends is handled. */
  ended: boolean;
  canWrite: boolean;
  burst: Burst;
  docOf: CollabDoc;
  /** What it may still write now (COLLAB_UPDATES_PER_S, COLLAB_UPDATE_BYTES_PER_S). */
  updates: TokenBucket;
  bytes: TokenBucket;
  /** Its updates past that budget, merged into one, sent on when the budget allows. */
  held: Uint8Array | null;
  heldTimer: NodeJS.Timeout | null;
}

export interface ConnectionsDeps extends Pick<CollabDeps, 'sessions' | 'sessionEnds' | 'cases' | 'dir' | 'access' | 'log'> {
  /** The reader's right on the document, on the case as this process holds it now. */
  rights(doc: CollabDoc, viewer: Viewer): 'write' | 'read' | 'none';
  /** A writer's update, on its way into the case log. */
  submit(doc: CollabDoc, conn: Conn, update: Uint8Array): void;
  /** The connection ended: called once, after it left its document's set. */
  ended(doc: CollabDoc, conn: Conn): void;
  keepaliveMs: number;
}

const send = (conn: Conn, message: Uint8Array): void => {
  if (conn.ws.readyState === WebSocket.OPEN) conn.ws.send(message);
};

/**
 * The connections of each document: y-websocket messages in and out, each judged against the
 * case as this process holds it at that moment, keepalive, and the end of each connection.
 */
export class Connections {
  private readonly byDoc = new Map<string, Set<Conn>>();
  private readonly keepalive: NodeJS.Timeout;

  constructor(private readonly d: ConnectionsDeps) {
    this.keepalive = setInterval(() => this.keepAlive(), d.keepaliveMs);
    this.keepalive.unref();
  }

  /** Registers the connection and sends it the document; false when it may not open (then nothing was sent). */
  open(ws: WebSocket, doc: CollabDoc, actor: { viewer: Viewer; address: string; sessionIdHash: string }, queue: RawData[]): boolean {
    const rights = this.d.rights(doc, actor.viewer);
    if (rights === 'none' || ws.readyState !== WebSocket.OPEN) {
      ws.close(CollabClose.FORBIDDEN);
      return false;
    }
    // The access log failed while the document loaded.
    if (!this.d.access.writable) {
      ws.close(CollabClose.UNAVAILABLE);
      return false;
    }
    const user = this.d.dir.user(actor.viewer.userId);
    const org = this.d.dir.org(actor.viewer.orgId);
    const conn: Conn = {
      ws,
      ...actor,
      userId: actor.viewer.userId,
      name: user?.displayName ?? '',
      orgId: actor.viewer.orgId,
      colour: org?.colour ?? '#64748b',
      checkedAt: Date.now(),
      alive: true,
      ended: false,
      canWrite: rights === 'write',
      clientIds: new Set(),
      burst: newBurst(),
      docOf: doc,
      updates: new TokenBucket(COLLAB_UPDATES_PER_S, 4 * COLLAB_UPDATES_PER_S),
      bytes: new TokenBucket(COLLAB_UPDATE_BYTES_PER_S, 4 * COLLAB_UPDATE_BYTES_PER_S),
      held: null,
      heldTimer: null,
      refused: (_doc, why) => {
        // Too long: told, so it shows the server's text again. Unstored: it reconnects and resends.
        if (why === 'too-long') send(conn, refusedMessage(CollabRefusal.TOO_LONG));
        else this.end(doc, conn, why === 'bad' ? CollabClose.BAD_MESSAGE : CollabClose.UNAVAILABLE);
      },
    };
    ws.on('pong', () => (conn.alive = true));
    let set = this.byDoc.get(doc.docId);
    if (!set) this.byDoc.set(doc.docId, (set = new Set()));
    set.add(conn);
    ws.on('close', () => this.end(doc, conn, null));
    ws.removeAllListeners('message');
    ws.on('message', (m: RawData) => this.onMessage(doc, conn, m));
    const c = this.d.cases.get(doc.caseId)!;
    this.d.access.record(accessRecord(actor, c, { action: 'read', operation: 'doc:open', itemId: doc.target.kind === 'item' ? doc.target.itemId : null }));
    // Sync step 1 from the server (the client answers with whatever the server lacks), then the cursors.
    send(conn, syncStep1Message(doc.ydoc));
    const states = [...doc.awareness.getStates().keys()];
    if (states.length > 0) send(conn, awarenessMessage(doc.awareness, states));
    for (const m of queue) this.onMessage(doc, conn, m);
    return true;
  }

  of(doc: CollabDoc): Conn[] {
    return [...(this.byDoc.get(doc.docId) ?? [])];
  }

  /** The connection behind a transaction origin, while it is open on this document. */
  find(doc: CollabDoc, origin: object): Conn | undefined {
    for (const c of this.byDoc.get(doc.docId) ?? []) if (c === origin) return c;
    return undefined;
  }

  /** Whether a connection here speaks for the cursor id. */
  holds(doc: CollabDoc, clientId: number): boolean {
    for (const c of this.byDoc.get(doc.docId) ?? []) if (c.clientIds.has(clientId)) return true;
    return false;
  }

  /** Sends to every connection that may read the document now; never to the one it came from. */
  broadcast(doc: CollabDoc, message: Uint8Array, origin: unknown): void {
    for (const conn of this.of(doc)) {
      if (conn === origin) continue;
      if (this.d.rights(doc, conn.viewer) === 'none') {
        this.end(doc, conn, CollabClose.REVOKED);
        continue;
      }
      send(conn, message);
    }
  }

  /** Ends a connection once: closed with `code` (null: it closed itself), nothing it sends after is handled. */
  end(doc: CollabDoc, conn: Conn, code: number | null): void {
    const set = this.byDoc.get(doc.docId);
    conn.ended = true;
    if (conn.heldTimer) clearTimeout(conn.heldTimer);
    if (code !== null) conn.ws.close(code);
    if (!set?.delete(conn)) return;
    if (set.size === 0) this.byDoc.delete(doc.docId);
    this.d.ended(doc, conn);
  }

  *sessionHashes(): Iterable<string> {
    for (const set of this.byDoc.values()) for (const c of set) yield c.sessionIdHash;
  }

  endSessions(ended: ReadonlySet<string>): void {
    for (const set of this.byDoc.values())
      for (const conn of [...set]) if (ended.has(conn.sessionIdHash)) this.end(conn.docOf, conn, CollabClose.SESSION_ENDED);
  }

  /** Stops taking messages: each connection's burst is recorded (`endBurst`), then every socket is cut. */
  stop(endBurst: (doc: CollabDoc, conn: Conn) => Promise<void>): Promise<void>[] {
    clearInterval(this.keepalive);
    const out: Promise<void>[] = [];
    for (const set of this.byDoc.values()) {
      for (const conn of set) {
        conn.ended = true;
        out.push(endBurst(conn.docOf, conn).finally(() => conn.ws.terminate()));
      }
    }
    return out;
  }

  private onMessage(doc: CollabDoc, conn: Conn, raw: RawData): void {
    // Frames still arriving after a revocation or a session's end are not handled.
    if (conn.ended) return;
    this.confirmSession(conn);
    try {
      const data = raw instanceof ArrayBuffer ? new Uint8Array(raw) : Array.isArray(raw) ? new Uint8Array(Buffer.concat(raw)) : new Uint8Array(raw);
      // Rights may have changed since the last message: judge every one against the case now.
      const rights = this.d.rights(doc, conn.viewer);
      if (rights === 'none') return this.end(doc, conn, CollabClose.REVOKED);
      conn.canWrite = rights === 'write';
      const decoder = decoding.createDecoder(data);
      const type = decoding.readVarUint(decoder);
      if (type === MESSAGE_SYNC) this.onSync(doc, conn, decoder);
      else if (type === MESSAGE_AWARENESS) applyOwnCursors(doc, conn, decoding.readVarUint8Array(decoder), conn);
      // Anything else (auth, query-awareness) is ignored: the server asks, the client does not.
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message, docId: doc.docId }, 'bad collab message');
      this.end(doc, conn, CollabClose.BAD_MESSAGE);
    }
  }

  private onSync(doc: CollabDoc, conn: Conn, decoder: decoding.Decoder): void {
    const kind = decoding.readVarUint(decoder);
    if (kind === syncProtocol.messageYjsSyncStep1) return send(conn, syncStep2For(decoder, doc.ydoc));
    if (kind !== syncProtocol.messageYjsSyncStep2 && kind !== syncProtocol.messageYjsUpdate) throw new Error('unknown sync message');
    const update = decoding.readVarUint8Array(decoder);
    // Refused: the client gets the server's state again, so what it shows is what is stored.
    if (!conn.canWrite) return send(conn, syncStep2Message(doc.ydoc));
    // Every update is an entry of the log for good: past the budget, updates are merged into one.
    if (conn.held || !conn.updates.take() || !conn.bytes.take(update.length)) return this.hold(doc, conn, update);
    this.d.submit(doc, conn, update);
  }

  /**
   * An update past the connection's budget waits, merged with the others that wait, until the
   * budget allows one more: however fast a client sends, it adds at most COLLAB_UPDATES_PER_S
   * entries a second. More than one update's worth waiting closes it with 1013; its client sends
   * all it has again when it reconnects.
   */
  private hold(doc: CollabDoc, conn: Conn, update: Uint8Array): void {
    conn.held = conn.held ? Y.mergeUpdates([conn.held, update]) : update;
    if (conn.held.length > MAX_DOC_UPDATE_BYTES) return this.end(doc, conn, CollabClose.UNAVAILABLE);
    conn.heldTimer ??= setTimeout(() => this.release(doc, conn), 1000 / COLLAB_UPDATES_PER_S);
  }

  private release(doc: CollabDoc, conn: Conn): void {
    conn.heldTimer = null;
    const held = conn.held;
    if (conn.ended || !held) return;
    if (!conn.updates.take() || !conn.bytes.take(held.length)) {
      conn.heldTimer = setTimeout(() => this.release(doc, conn), 1000 / COLLAB_UPDATES_PER_S);
      return;
    }
    conn.held = null;
    this.d.submit(doc, conn, held);
  }

  /** Typing is using the session: confirmed (and kept alive) at most once a check period, as board commands are. */
  private confirmSession(conn: Conn): void {
    const now = Date.now();
    if (now - conn.checkedAt <= SESSION_CHECK_EVERY_MS) return;
    conn.checkedAt = now;
    const idHash = conn.sessionIdHash;
    this.d.sessions
      .check(idHash, true)
      .then((s) => (s ? undefined : this.d.sessionEnds.end([idHash])))
      .catch((err: unknown) => this.d.log.warn({ err: (err as Error).message }, 'session check failed'));
  }

  /**
   * A ping for the transport and an empty awareness update for y-websocket, whose client hears
   * nothing else while it types alone and would reconnect after 30 s. A peer that did not answer
   * the last ping is gone: cut off, so its connection ends with it.
   */
  private keepAlive(): void {
    for (const set of [...this.byDoc.values()]) {
      for (const conn of [...set]) {
        if (!conn.alive) {
          conn.ws.terminate();
          this.end(conn.docOf, conn, WS_INTERNAL_ERROR);
          continue;
        }
        conn.alive = false;
        if (conn.ws.readyState !== WebSocket.OPEN) continue;
        conn.ws.ping();
        send(conn, KEEPALIVE_MESSAGE);
      }
    }
  }
}

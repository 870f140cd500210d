import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import type { Viewer } from '../../shared/domain.js';
import type { CaseId, ItemId, UserId } from '../../shared/ids.js';
import {
  COLLAB_KEEPALIVE_MS,
  DOC_COMPACT_AFTER_UPDATES,
  EDIT_BURST_MS,
  MAX_DOC_BYTES,
  MAX_DOC_UPDATE_BYTES,
  MAX_ITEM_TEXT_CHARS,
  MAX_COLLAB_MESSAGES_BEFORE_OPEN,
  MAX_CURSOR_IDS_PER_CONNECTION,
  SESSION_CHECK_EVERY_MS,
} from '../../shared/limits.js';
import { COLLAB_MESSAGE_REFUSED, COLLAB_PATH, CollabClose, CollabRefusal } from '../../shared/protocol.js';
import { docAccess } from '../../shared/rules/access.js';
import { accessRecord, type AccessLog } from '../audit/accessLog.js';
import type { SessionEnds, SessionHolder } from '../auth/sessionEnds.js';
import type { Sessions } from '../auth/sessions.js';
import type { CaseService, Committed } from '../cases/service.js';
import type { Directory } from '../directory/directory.js';
import type { Logger } from '../log.js';
import { unavailability } from '../store/health.js';
import type { Store } from '../store/types.js';
import { admit } from './admit.js';
import { CollabDoc } from './doc.js';
import type { Cluster } from '../cluster/cluster.js';

const MESSAGE_SYNC = 0;
const MESSAGE_AWARENESS = 1;
/** An awareness update of no client: y-websocket applies it as nothing, but counts it as heard. */
const KEEPALIVE_MESSAGE = Uint8Array.of(MESSAGE_AWARENESS, 1, 0);

interface Actor {
  viewer: Viewer;
  address: string;
  sessionIdHash: string;
}
/** WebSocket close code 1011: the server failed; unlike 4400–4499, a client reconnects after it. */
const WS_INTERNAL_ERROR = 1011;

interface Conn {
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
  /** Awareness client ids this connection speaks for: nobody can take over another's cursor. */
  clientIds: Set<number>;
  /** Pending end of an editing burst by this connection. */
  burst: NodeJS.Timeout | null;
  /** What this connection's own updates did to the text in its current burst, in characters. */
  changed: { inserted: number; deleted: number };
}

export interface CollabDeps {
  store: Store;
  sessions: Sessions;
  sessionEnds: SessionEnds;
  cases: CaseService;
  dir: Directory;
  access: AccessLog;
  log: Logger;
  addressOf: (req: IncomingMessage) => string;
  /** Pause that ends an editing burst; tests shorten it. */
  burstMs?: number;
  /** COLLAB_KEEPALIVE_MS; tests shorten it. */
  keepaliveMs?: number;
  /** Relays updates and cursors to the same document open on other processes. */
  cluster: Cluster;
}

const send = (conn: Conn, message: Uint8Array): void => {
  if (conn.ws.readyState === WebSocket.OPEN) conn.ws.send(message);
};

/**
 * The y-websocket endpoint. Each text is its own Yjs document, authorised like the item it
 * belongs to (docAccess): at the upgrade, again on every commit of its case, and once more for
 * every single message the server sends, against the case as it stands at that moment.
 */
export class Collab implements SessionHolder {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_DOC_UPDATE_BYTES + 1024 });
  private readonly docs = new Map<string, Promise<CollabDoc>>();
  private readonly conns = new Map<string, Set<Conn>>();
  /** Every connection ever registered: a transaction's origin is one of them when a writer's update made it. */
  private readonly knownConns = new WeakSet<object>();
  /** The documents whose load completed, by id: what `docs` resolves to, without waiting. */
  private readonly loadedDocs = new Map<string, CollabDoc>();
  /** Upgrades past their session check and not yet registered: a session that ends meanwhile marks them. */
  private readonly pending = new Set<{ idHash: string; ended: boolean }>();
  private readonly keepalive: NodeJS.Timeout;
  /** 'unloaded' (docId) when a document leaves memory. */
  readonly events = new EventEmitter<{ unloaded: [string] }>();

  constructor(private readonly d: CollabDeps) {
    d.cases.onCommitted((c) => this.reauthorise(c));
    d.sessionEnds.add(this);
    this.keepalive = setInterval(() => this.keepAlive(), d.keepaliveMs ?? COLLAB_KEEPALIVE_MS);
    this.keepalive.unref();
  }

  /**
   * Handles an upgrade on COLLAB_PATH: 401 without a session; a document that is unknown or may not
   * be read is closed with FORBIDDEN before anything is sent, so the two cannot be told apart.
   */
  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const refuse = (status: string): void => {
      socket.write(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroy();
    };
    // Marked before the session is read: a session that ends while this upgrade waits (for the
    // store, for the document) is found here by endSessions, so the connection never opens on it.
    const idHash = this.d.sessions.idHashOf(req);
    const pending = { idHash: idHash ?? '', ended: false };
    if (idHash) {
      this.pending.add(pending);
      socket.once('close', () => this.pending.delete(pending));
    }
    try {
      const session = await this.d.sessions.resolve(req);
      // The peer may have gone meanwhile: nothing to answer.
      if (socket.destroyed) return;
      if (!session || pending.ended) return refuse('401 Unauthorized');
      // P-READLOG: opening a document is a read; not while its record cannot be written. (A
      // connection already open stays: its reading is recorded once, as it opened, not per message.)
      if (!this.d.access.writable) return this.accept(req, socket, head, (ws) => ws.close(CollabClose.UNAVAILABLE));
      const docId = decodeURIComponent(new URL(req.url ?? '', 'http://x').pathname.slice(COLLAB_PATH.length + 1));
      const where = this.d.cases.doc(docId);
      const c = where && this.d.cases.get(where.caseId);
      const actor = { viewer: session.viewer, address: this.d.addressOf(req), sessionIdHash: session.idHash };
      if (!where || !c || docAccess(c, where.target, session.viewer) === 'none') {
        this.pending.delete(pending);
        this.d.access.record(accessRecord(actor, c ?? null, { action: 'read', operation: 'doc:open', outcome: 'denied' }));
        // Accepted, then closed at once with nothing sent: the same for an unknown and a forbidden
        // document, and a close code a browser can read (an HTTP refusal it cannot tell from a network fault).
        this.accept(req, socket, head, (ws) => ws.close(CollabClose.FORBIDDEN));
        return;
      }
      this.accept(req, socket, head, (ws) =>
        this.connected(ws, docId, actor, pending)
          .catch((err: unknown) => {
            // The document could not be loaded (the store failed): the client may try again.
            this.d.log.error({ err, docId }, 'opening a collaborative document failed');
            ws.close(unavailability(err) ? CollabClose.UNAVAILABLE : WS_INTERNAL_ERROR);
          })
          .finally(() => this.pending.delete(pending)),
      );
    } catch (err) {
      this.pending.delete(pending);
      // P-REDIS: the session could not be looked up now: not a refusal, "try again later".
      if (unavailability(err) && !socket.destroyed) return this.accept(req, socket, head, (ws) => ws.close(CollabClose.UNAVAILABLE));
      this.d.log.error({ err }, 'collab upgrade failed');
      if (!socket.destroyed) refuse('500 Internal Server Error');
    }
  }

  /**
   * Completes the upgrade. A frame that breaks the protocol (RFC 6455 §5, §7) makes `ws` fail that
   * one connection with its close code and emit 'error': handled here, before anything else can
   * receive a frame, or an EventEmitter without a listener would end the process.
   */
  private accept(req: IncomingMessage, socket: Duplex, head: Buffer, then: (ws: WebSocket) => void): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', (err: Error & { code?: string }) => this.d.log.info({ code: err.code ?? 'WS_ERROR' }, 'collab connection failed'));
      then(ws);
    });
  }

  private doc(docId: string): Promise<CollabDoc> {
    let p = this.docs.get(docId);
    if (!p) {
      const loading = this.load(docId);
      this.docs.set(docId, loading);
      // A load that failed is not kept: the next open tries again.
      loading.catch(() => {
        if (this.docs.get(docId) === loading) this.docs.delete(docId);
      });
      p = loading;
    }
    return p;
  }

  /**
   * The document, held in memory for the caller (who lets go with `unhold`): taken in the same
   * turn as it is found still loaded, so nothing lets it go between the two. One let go while it
   * loaded is loaded again.
   */
  private async held(docId: string): Promise<CollabDoc> {
    for (;;) {
      const p = this.doc(docId);
      const doc = await p;
      if (this.docs.get(docId) === p && !doc.unloaded) {
        doc.holds++;
        return doc;
      }
    }
  }

  private unhold(doc: CollabDoc): void {
    doc.holds--;
    this.maybeUnload(doc);
  }

  private async load(docId: string): Promise<CollabDoc> {
    const where = this.d.cases.doc(docId)!;
    const item = where.target.kind === 'item' ? this.d.cases.get(where.caseId)?.items.get(where.target.itemId) : undefined;
    // Listen to other processes before reading the store, so nothing falls between the two.
    const early: [number, Uint8Array][] = [];
    let ready: CollabDoc | null = null;
    const unsubscribe = await this.d.cluster.subscribeDoc(docId, (v, m) => (ready ? this.onRelay(ready, v, m) : early.push([v, m])));
    let doc: CollabDoc;
    try {
      doc = await CollabDoc.load(this.d.store, docId, where.caseId, where.target, item?.text ?? '');
      // The store may hold text typed after a commit this process has not applied yet (another
      // process's narrowing): the case is read up to the log as it stands after the text, so
      // whoever is let in is judged on a case at least that new.
      await this.d.cases.withCase(where.caseId, () => this.d.cases.catchUp(where.caseId));
    } catch (err) {
      await unsubscribe().catch(() => undefined);
      throw err;
    }
    doc.unsubscribe = unsubscribe;
    doc.ydoc.on('update', (update: Uint8Array, origin: unknown) => this.onUpdate(doc, update, origin));
    // Who changed what, per writer: several people can type in one burst, and each is logged for their own part.
    doc.text.observe((event, tr) => {
      const origin = tr.origin as Conn | null;
      if (!origin || typeof origin !== 'object' || !this.knownConns.has(origin)) return;
      for (const d of event.delta) {
        if (typeof d.insert === 'string') origin.changed.inserted += d.insert.length;
        else if (d.insert !== undefined) origin.changed.inserted += 1;
        if (d.delete) origin.changed.deleted += d.delete;
      }
    });
    doc.awareness.on('update', ({ added, updated, removed }: Record<string, number[]>, origin: unknown) => {
      const changed = [...added!, ...updated!, ...removed!];
      const enc = encoding.createEncoder();
      encoding.writeVarUint(enc, MESSAGE_AWARENESS);
      encoding.writeVarUint8Array(enc, awarenessProtocol.encodeAwarenessUpdate(doc.awareness, changed));
      const message = encoding.toUint8Array(enc);
      this.broadcast(doc, message, origin);
      if (origin !== 'relay') this.relay(doc, message);
    });
    ready = doc;
    this.loadedDocs.set(docId, doc);
    for (const [v, m] of early) this.onRelay(doc, v, m);
    return doc;
  }

  /**
   * To the same document on the other processes, with the version of the case as this process
   * holds it: one that holds an older version catches up first, so it judges who may read the
   * message on a case at least as new as the sender's (a narrowing committed here is never
   * overtaken by the text typed after it).
   */
  private relay(doc: CollabDoc, message: Uint8Array): void {
    this.d.cluster.publishDoc(doc.docId, this.d.cases.get(doc.caseId)?.version ?? 0, message);
  }

  /** A message from the same document on another process: applied here, never stored or relayed again. */
  private onRelay(doc: CollabDoc, version: number, message: Uint8Array): void {
    const held = (): number => this.d.cases.get(doc.caseId)?.version ?? 0;
    if (held() >= version) return this.applyRelay(doc, message);
    // Behind the sender: its case first (unless a catch-up queued before this one got there).
    // Yjs updates and cursors commute, so one that waits may be overtaken by a later one.
    this.d.cases
      .withCase(doc.caseId, async () => {
        if (held() < version) await this.d.cases.catchUp(doc.caseId);
      })
      .then(
        () => {
          if (!doc.unloaded) this.applyRelay(doc, message);
        },
        (err: unknown) => {
          // Not applied rather than judged on a case that may be too old. Without it this copy
          // falls behind the store: its connections close (1011) and reconnect to a fresh load.
          this.d.log.warn({ err: (err as Error).message, docId: doc.docId }, 'relayed doc message dropped: catch-up failed');
          for (const conn of this.conns.get(doc.docId) ?? []) conn.ws.close(WS_INTERNAL_ERROR);
        },
      );
  }

  private applyRelay(doc: CollabDoc, message: Uint8Array): void {
    try {
      const decoder = decoding.createDecoder(message);
      const type = decoding.readVarUint(decoder);
      if (type === MESSAGE_SYNC && decoding.readVarUint(decoder) === syncProtocol.messageYjsUpdate) {
        Y.applyUpdate(doc.ydoc, decoding.readVarUint8Array(decoder), 'relay');
      } else if (type === MESSAGE_AWARENESS) {
        // The sender bound each state to its user. An id known here as another user's is not
        // taken over from afar, and a cursor held by a connection here is not removed from afar;
        // an id new here becomes its user's.
        const kept: AwarenessEntry[] = [];
        for (const { clientId, clock, state } of readAwareness(decoding.readVarUint8Array(decoder))) {
          const owner = doc.clientOwners.get(clientId);
          if (state === null) {
            if (!this.heldHere(doc, clientId)) kept.push([clientId, clock, 'null']);
            continue;
          }
          const userId = (state as { user?: { id?: unknown } }).user?.id;
          if (typeof userId !== 'string' || (owner !== undefined && owner !== userId)) continue;
          doc.clientOwners.set(clientId, userId as UserId);
          kept.push([clientId, clock, JSON.stringify(state)]);
        }
        if (kept.length > 0) awarenessProtocol.applyAwarenessUpdate(doc.awareness, encodeAwareness(kept), 'relay');
      }
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message, docId: doc.docId }, 'bad relayed doc message');
    }
  }

  private access(doc: CollabDoc, viewer: Viewer): 'write' | 'read' | 'none' {
    const c = this.d.cases.get(doc.caseId);
    return c ? docAccess(c, doc.target, viewer) : 'none';
  }

  /** Sends to every connection that may read the document now; never to the one it came from. */
  private broadcast(doc: CollabDoc, message: Uint8Array, origin: unknown): void {
    for (const conn of this.conns.get(doc.docId) ?? []) {
      if (conn === origin) continue;
      if (this.access(doc, conn.viewer) === 'none') {
        this.revoke(doc, conn);
        continue;
      }
      send(conn, message);
    }
  }

  private onUpdate(doc: CollabDoc, update: Uint8Array, origin: unknown): void {
    const enc = encoding.createEncoder();
    encoding.writeVarUint(enc, MESSAGE_SYNC);
    syncProtocol.writeUpdate(enc, update);
    const message = encoding.toUint8Array(enc);
    this.broadcast(doc, message, origin);
    // Counted as it is applied, not once stored: a burst of frames cannot pass the byte cap together.
    if (origin !== 'store') doc.approxBytes += update.length;
    // Loaded from the store, or relayed from the process that stored it: not stored twice.
    if (origin === 'store' || origin === 'relay') return;
    // To the other processes at once, so their readers hear it as soon as this one's do, and again
    // once stored (persist). A relay is idempotent: the second changes nothing where the first arrived.
    this.relay(doc, message);
    doc.track(this.persist(doc, update, message));
  }

  private async persist(doc: CollabDoc, update: Uint8Array, message: Uint8Array): Promise<void> {
    const appended = this.d.store.appendDocUpdate(doc.docId, update).then(
      () => void doc.storedUpdates++,
      (err: unknown) => this.d.log.error({ err, docId: doc.docId }, 'storing a document update failed'),
    );
    doc.appending = appended;
    await appended;
    // Relayed again once stored: a process that opens the document subscribes first and then reads
    // the store, so it gets every update one way or the other. The first relay alone could fall
    // between the two (relay and store can be different Redis servers, and the bus does not wait
    // for the store's fsync).
    this.relay(doc, message);
    try {
      // By count, and by size: deletions add bytes to the store, not text, and wouldOverflow
      // counts the bytes; compaction gives them back.
      const bySize = doc.approxBytes > Math.max(MAX_DOC_BYTES / 2, 2 * doc.compactedBytes);
      if (doc.storedUpdates > DOC_COMPACT_AFTER_UPDATES || bySize) await doc.compact(this.d.store);
    } catch (err) {
      this.d.log.error({ err, docId: doc.docId }, 'compacting a document failed');
    }
  }

  private async connected(ws: WebSocket, docId: string, actor: Actor, pending: { ended: boolean }): Promise<void> {
    const queue: RawData[] = [];
    ws.on('message', (m: RawData) => {
      // An honest client sends a sync step and a cursor while it waits; a flood is cut off.
      if (queue.push(m) > MAX_COLLAB_MESSAGES_BEFORE_OPEN) ws.terminate();
    });
    const doc = await this.held(docId);
    try {
      if (pending.ended) return ws.close(CollabClose.SESSION_ENDED);
      this.open(ws, doc, actor, queue);
    } finally {
      this.unhold(doc);
    }
  }

  private open(ws: WebSocket, doc: CollabDoc, actor: Actor, queue: RawData[]): void {
    const docId = doc.docId;
    const access = this.access(doc, actor.viewer);
    if (access === 'none' || ws.readyState !== WebSocket.OPEN) {
      ws.close(CollabClose.FORBIDDEN);
      return;
    }
    // The access log failed while the document loaded.
    if (!this.d.access.writable) return ws.close(CollabClose.UNAVAILABLE);
    const conn: Conn = {
      ws,
      viewer: actor.viewer,
      address: actor.address,
      sessionIdHash: actor.sessionIdHash,
      checkedAt: Date.now(),
      alive: true,
      ended: false,
      canWrite: access === 'write',
      clientIds: new Set(),
      burst: null,
      changed: { inserted: 0, deleted: 0 },
    };
    this.knownConns.add(conn);
    ws.on('pong', () => (conn.alive = true));
    let set = this.conns.get(docId);
    if (!set) this.conns.set(docId, (set = new Set()));
    set.add(conn);
    // Its close handler at once, so nothing that fails below leaves it registered.
    ws.on('close', () => this.disconnected(doc, conn));
    ws.removeAllListeners('message');
    ws.on('message', (m: RawData) => this.onMessage(doc, conn, m));
    const c = this.d.cases.get(doc.caseId)!;
    this.d.access.record(accessRecord(actor, c, { action: 'read', operation: 'doc:open', itemId: doc.target.kind === 'item' ? doc.target.itemId : null }));
    // Sync step 1 from the server, and the current cursors of those who may be seen.
    const enc = encoding.createEncoder();
    encoding.writeVarUint(enc, MESSAGE_SYNC);
    syncProtocol.writeSyncStep1(enc, doc.ydoc);
    send(conn, encoding.toUint8Array(enc));
    const states = [...doc.awareness.getStates().keys()];
    if (states.length > 0) {
      const a = encoding.createEncoder();
      encoding.writeVarUint(a, MESSAGE_AWARENESS);
      encoding.writeVarUint8Array(a, awarenessProtocol.encodeAwarenessUpdate(doc.awareness, states));
      send(conn, encoding.toUint8Array(a));
    }
    for (const m of queue) this.onMessage(doc, conn, m);
  }

  private onMessage(doc: CollabDoc, conn: Conn, raw: RawData): void {
    // Frames still arriving after a revocation or a session's end are not handled.
    if (conn.ended) return;
    this.confirmSession(conn);
    try {
      const data = raw instanceof ArrayBuffer ? new Uint8Array(raw) : Array.isArray(raw) ? new Uint8Array(Buffer.concat(raw)) : new Uint8Array(raw);
      // Rights may have changed since the last message: judge every one against the case now.
      const access = this.access(doc, conn.viewer);
      if (access === 'none') return this.revoke(doc, conn);
      conn.canWrite = access === 'write';
      const decoder = decoding.createDecoder(data);
      const type = decoding.readVarUint(decoder);
      if (type === MESSAGE_SYNC) this.onSync(doc, conn, decoder);
      else if (type === MESSAGE_AWARENESS) this.onAwareness(doc, conn, decoding.readVarUint8Array(decoder));
      // Anything else (auth, query-awareness) is ignored: the server asks, the client does not.
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message, docId: doc.docId }, 'bad collab message');
      this.endConn(doc, conn, CollabClose.BAD_MESSAGE);
    }
  }

  private onSync(doc: CollabDoc, conn: Conn, decoder: decoding.Decoder): void {
    const enc = encoding.createEncoder();
    encoding.writeVarUint(enc, MESSAGE_SYNC);
    const kind = decoding.readVarUint(decoder);
    if (kind === syncProtocol.messageYjsSyncStep1) {
      syncProtocol.readSyncStep1(decoder, enc, doc.ydoc);
      return send(conn, encoding.toUint8Array(enc));
    }
    if (kind !== syncProtocol.messageYjsSyncStep2 && kind !== syncProtocol.messageYjsUpdate) throw new Error('unknown sync message');
    const update = decoding.readVarUint8Array(decoder);
    if (!conn.canWrite) {
      // Refused: the client gets the server's state again, so what it shows is what is stored.
      syncProtocol.writeSyncStep2(enc, doc.ydoc);
      return send(conn, encoding.toUint8Array(enc));
    }
    const admission = admit(doc, update);
    if (admission === 'bad') throw new Error('update outside the text, or not applicable at once');
    if (admission === 'too-long') {
      // The writer is told, and only growth is refused: deleting and rewriting within the cap
      // always go through, so nobody can fill a shared text to keep the others from editing it.
      const r = encoding.createEncoder();
      encoding.writeVarUint(r, COLLAB_MESSAGE_REFUSED);
      encoding.writeVarUint(r, CollabRefusal.TOO_LONG);
      return send(conn, encoding.toUint8Array(r));
    }
    // Yjs emits 'update' only for a transaction that changed the document.
    let changed = false;
    const seen = (): void => void (changed = true);
    doc.ydoc.once('update', seen);
    Y.applyUpdate(doc.ydoc, update, conn);
    doc.ydoc.off('update', seen);
    if (changed) this.editing(doc, conn);
  }

  /** Awareness states are rewritten to the authenticated user: a name or colour cannot be faked. */
  private onAwareness(doc: CollabDoc, conn: Conn, update: Uint8Array): void {
    const user = this.d.dir.user(conn.viewer.userId);
    const org = this.d.dir.org(conn.viewer.orgId);
    const entries: AwarenessEntry[] = [];
    for (const { clientId, clock, state } of readAwareness(update)) {
      // A client id belongs to the user who first spoke for it, here or on another process,
      // for as long as the document is loaded: a peer that reconnects gets its own id back, and
      // nobody else can take it over meanwhile (and so hide or move that peer's cursor).
      const owner = doc.clientOwners.get(clientId);
      if (owner !== undefined && owner !== conn.viewer.userId) continue;
      if (!conn.clientIds.has(clientId) && conn.clientIds.size >= MAX_CURSOR_IDS_PER_CONNECTION) throw new Error('too many cursor ids');
      doc.clientOwners.set(clientId, conn.viewer.userId);
      conn.clientIds.add(clientId);
      const bound =
        state === null ? null : { ...pickCursor(state), user: { id: conn.viewer.userId, name: user?.displayName ?? '', orgId: conn.viewer.orgId, colour: org?.colour ?? '#64748b' } };
      entries.push([clientId, clock, JSON.stringify(bound)]);
    }
    awarenessProtocol.applyAwarenessUpdate(doc.awareness, encodeAwareness(entries), conn);
  }

  /** Whether a connection to this process speaks for the client id. */
  private heldHere(doc: CollabDoc, clientId: number): boolean {
    for (const c of this.conns.get(doc.docId) ?? []) if (c.clientIds.has(clientId)) return true;
    return false;
  }

  /** An editing burst ends after a pause: then it is one change in the case log and the access log. */
  private editing(doc: CollabDoc, conn: Conn): void {
    if (conn.burst) clearTimeout(conn.burst);
    conn.burst = setTimeout(() => void this.endBurst(doc, conn), this.d.burstMs ?? EDIT_BURST_MS);
    conn.burst.unref();
  }

  /**
   * Each writer's burst is logged as its own change, with how many characters it typed and
   * removed (never what: the log holds no case content). An item's board copy then follows.
   * Never rejects: a store that fails here (a full disk, Redis away) is logged, and the text
   * stays in its document.
   */
  private async endBurst(doc: CollabDoc, conn: Conn): Promise<void> {
    conn.burst = null;
    const actor = { viewer: conn.viewer, address: conn.address };
    const { inserted, deleted } = conn.changed;
    conn.changed = { inserted: 0, deleted: 0 };
    try {
      const c = this.d.cases.get(doc.caseId);
      const itemId = doc.target.kind === 'item' ? doc.target.itemId : null;
      const operation = `${doc.target.kind === 'item' ? 'item:text' : 'minutes:edit'} +${inserted} -${deleted}`;
      if (c && inserted + deleted > 0) this.d.access.record(accessRecord(actor, c, { action: 'update', operation, itemId }));
      if (doc.target.kind === 'minutes') return;
      const text = doc.text.toString().trim();
      const item = this.d.cases.get(doc.caseId)?.items.get(doc.target.itemId);
      if (!item || !text || item.text === text) return;
      // The board's copy follows through the ordinary command: authorised, logged, delivered.
      const r = await this.d.cases.run('item:edit', { caseId: doc.caseId, itemId: doc.target.itemId, text: text.slice(0, MAX_ITEM_TEXT_CHARS) }, actor, doc.docId);
      if (!r.ok) this.d.log.info({ code: r.error.code, docId: doc.docId }, 'editing burst not recorded');
    } catch (err) {
      this.d.log.error({ err, docId: doc.docId }, 'recording an editing burst failed');
    }
  }

  /** After every commit: close what may no longer be read, adjust who may write, follow text edits. */
  private reauthorise({ caseId, before, after, touched, local, source }: Committed): void {
    for (const [docId, set] of this.conns) {
      const docP = this.docs.get(docId);
      if (!docP) continue;
      // A load that failed has no connections to judge (and is logged where it failed).
      docP.then(
        (doc) => {
          if (doc.caseId !== caseId) return;
          for (const conn of set) {
            const a = docAccess(after, doc.target, conn.viewer);
            if (a === 'none') this.revoke(doc, conn);
            else conn.canWrite = a === 'write';
          }
        },
        () => undefined,
      );
    }
    // Only the process that committed the edit writes it in, whether or not the document is open
    // here: the others get it relayed, and a document open nowhere gets it in the store. An edit
    // that records a burst of the document itself is already in it (and typing may have gone on).
    if (!local || !before) return;
    for (const id of touched.items) {
      const was = before.items.get(id);
      const item = after.items.get(id);
      if (was && item && was.text !== item.text && source !== item.textDocId) void this.followBoardEdit(caseId, id, item.textDocId, item.text);
    }
  }

  /**
   * A text changed through `item:edit` (not through its document) is written into the document.
   * One that is not open here is loaded for it and let go again once stored. With several
   * processes, board edits of one document are written one at a time over all of them, each
   * judged on the case log as it stands then: a later edit committed elsewhere is found (this one
   * is overtaken and skipped), and an earlier one is in the store, so this one replaces it instead
   * of landing beside it.
   */
  private async followBoardEdit(caseId: CaseId, itemId: ItemId, docId: string, text: string): Promise<void> {
    const current = (): string | undefined => this.d.cases.get(caseId)?.items.get(itemId)?.text;
    let doc: CollabDoc | null = null;
    let unlock: (() => Promise<void>) | null = null;
    try {
      // Loaded even when nobody ever opened it: then it starts from the new text, and a process
      // that opens it at this moment with the old one either starts it first (and this replaces
      // that) or takes this one's.
      doc = await this.held(docId);
      const d = doc;
      if (!this.d.cluster.alone) {
        // Locked once loaded: the lock spans the two reads below and one append.
        unlock = await this.d.cluster.lockDoc(docId);
        // What another process wrote in may not have been relayed here yet; the store has it.
        // The case log is read after it, as on a load: whoever this copy sends that text to is
        // judged on a case at least as new as the text (a narrowing before it included).
        const stored = await this.d.store.readDocUpdates(docId);
        await this.d.cases.withCase(caseId, () => this.d.cases.catchUp(caseId));
        d.ydoc.transact(() => {
          for (const u of stored) Y.applyUpdate(d.ydoc, u);
        }, 'store');
      }
      // Overtaken meanwhile (the document's own burst, already in it, or another board edit,
      // which writes itself in): nothing to do.
      if (current() !== text || d.text.toString().trim() === text) return;
      // Its update is sent to the store as the transaction ends (onUpdate, persist).
      d.ydoc.transact(() => replaceText(d.text, text), 'board');
      // Held until stored: the next writer reads it from the store.
      await d.appending;
    } catch (err) {
      this.d.log.error({ err, docId }, 'writing a board edit into its document failed');
    } finally {
      if (doc) this.unhold(doc);
      await unlock?.().catch((err: unknown) => this.d.log.warn({ err: (err as Error).message, docId }, 'releasing a document lock failed'));
    }
  }

  /** The reader loses the document at once: its cursor goes, and the socket closes. */
  private revoke(doc: CollabDoc, conn: Conn): void {
    const set = this.conns.get(doc.docId);
    if (!set?.delete(conn)) return;
    conn.ended = true;
    // What it typed before is its own part of the text: recorded like any burst that ends.
    if (conn.burst) {
      clearTimeout(conn.burst);
      void this.endBurst(doc, conn);
    }
    awarenessProtocol.removeAwarenessStates(doc.awareness, [...conn.clientIds], 'revoked');
    conn.ws.close(CollabClose.REVOKED);
    this.maybeUnload(doc);
  }

  /**
   * The session ended: the connection closes at once and nothing it sends after is applied. An
   * editing burst already typed is recorded as on any close: that text was written while the
   * session held, and it is already in the document everyone reads.
   */
  private endConn(doc: CollabDoc, conn: Conn, code: number): void {
    if (conn.ended) return;
    conn.ended = true;
    conn.ws.close(code);
    this.disconnected(doc, conn);
  }

  *sessionHashes(): Iterable<string> {
    for (const set of this.conns.values()) for (const c of set) yield c.sessionIdHash;
  }

  endSessions(idHashes: readonly string[]): void {
    const ended = new Set(idHashes);
    for (const p of this.pending) if (ended.has(p.idHash)) p.ended = true;
    for (const [docId, set] of this.conns) {
      const doc = this.loadedDoc(docId);
      if (!doc) continue;
      for (const conn of [...set]) if (ended.has(conn.sessionIdHash)) this.endConn(doc, conn, CollabClose.SESSION_ENDED);
    }
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
    for (const [docId, set] of this.conns) {
      const doc = this.loadedDoc(docId);
      for (const conn of [...set]) {
        if (!conn.alive) {
          conn.ws.terminate();
          if (doc) this.endConn(doc, conn, WS_INTERNAL_ERROR);
          continue;
        }
        conn.alive = false;
        if (conn.ws.readyState !== WebSocket.OPEN) continue;
        conn.ws.ping();
        send(conn, KEEPALIVE_MESSAGE);
      }
    }
  }

  private disconnected(doc: CollabDoc, conn: Conn): void {
    conn.ended = true;
    const set = this.conns.get(doc.docId);
    if (!set?.delete(conn)) return;
    if (conn.burst) {
      clearTimeout(conn.burst);
      void this.endBurst(doc, conn);
    }
    awarenessProtocol.removeAwarenessStates(doc.awareness, [...conn.clientIds], null);
    this.maybeUnload(doc);
  }

  /**
   * Nobody has it open: compact it and let it go from memory, once its updates are stored, so
   * that loading it again from the store misses none of them.
   */
  private maybeUnload(doc: CollabDoc): void {
    const set = this.conns.get(doc.docId);
    if (doc.unloaded || doc.holds > 0 || (set && set.size > 0)) return;
    if (doc.storing > 0) return void doc.whenStored().then(() => this.maybeUnload(doc));
    doc.unloaded = true;
    this.conns.delete(doc.docId);
    this.docs.delete(doc.docId);
    this.loadedDocs.delete(doc.docId);
    doc.unsubscribe().catch((err: unknown) => this.d.log.warn({ err: (err as Error).message, docId: doc.docId }, 'leaving a document relay failed'));
    void doc.compact(this.d.store).catch((err: unknown) => this.d.log.error({ err }, 'compaction failed'));
    doc.destroy();
    this.events.emit('unloaded', doc.docId);
  }

  /** A document already loaded here, without waiting for one that is loading. */
  private loadedDoc(docId: string): CollabDoc | undefined {
    return this.loadedDocs.get(docId);
  }

  /** Loaded documents, for tests and health. */
  get loaded(): number {
    return this.docs.size;
  }

  /** Records the editing bursts still open, then closes every document connection. */
  /**
   * Stops taking text (nothing sent from now on is applied), records the editing bursts still
   * open, closes every connection, and returns once every update taken has been stored.
   */
  async close(): Promise<void> {
    clearInterval(this.keepalive);
    const bursts: Promise<void>[] = [];
    for (const [docId, set] of this.conns) {
      const doc = this.loadedDocs.get(docId);
      for (const c of set) {
        c.ended = true;
        if (c.burst && doc) {
          clearTimeout(c.burst);
          bursts.push(this.endBurst(doc, c));
        }
      }
    }
    await Promise.all(bursts);
    for (const set of this.conns.values()) for (const c of set) c.ws.terminate();
    await Promise.all([...this.loadedDocs.values()].map((d) => d.whenStored()));
    this.wss.close();
  }
}

/**
 * Makes the text `to` by replacing only what lies between the parts it shares with the present
 * text at either end, so typing elsewhere in the document at the same moment (another process,
 * another writer) and cursors outside the change are kept. Surrogate pairs are never split.
 */
export function replaceText(t: Y.Text, to: string): void {
  const from = t.toString();
  const max = Math.min(from.length, to.length);
  let start = 0;
  while (start < max && from.charCodeAt(start) === to.charCodeAt(start)) start++;
  if (start > 0 && isHighSurrogate(from.charCodeAt(start - 1))) start--;
  let end = 0;
  while (end < max - start && from.charCodeAt(from.length - 1 - end) === to.charCodeAt(to.length - 1 - end)) end++;
  if (end > 0 && isLowSurrogate(from.charCodeAt(from.length - end))) end--;
  if (from.length - start - end > 0) t.delete(start, from.length - start - end);
  if (to.length - start - end > 0) t.insert(start, to.slice(start, to.length - end));
}

/** One awareness entry as encoded: client id, clock, state as JSON. */
type AwarenessEntry = [number, number, string];

function encodeAwareness(entries: AwarenessEntry[]): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, entries.length);
  for (const [id, clock, json] of entries) {
    encoding.writeVarUint(enc, id);
    encoding.writeVarUint(enc, clock);
    encoding.writeVarString(enc, json);
  }
  return encoding.toUint8Array(enc);
}

/** The entries of an awareness update; throws on one that does not parse. */
function readAwareness(update: Uint8Array): { clientId: number; clock: number; state: Record<string, unknown> | null }[] {
  const decoder = decoding.createDecoder(update);
  const n = decoding.readVarUint(decoder);
  const out = [];
  for (let i = 0; i < n; i++) {
    const clientId = decoding.readVarUint(decoder);
    const clock = decoding.readVarUint(decoder);
    const state = JSON.parse(decoding.readVarString(decoder)) as unknown;
    out.push({ clientId, clock, state: state !== null && typeof state === 'object' ? (state as Record<string, unknown>) : null });
  }
  return out;
}

const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isLowSurrogate = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;

/** What a client may say about itself in awareness: where its cursor is, nothing about who it is. */
function pickCursor(state: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if ('cursor' in state) out.cursor = state.cursor;
  return out;
}

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
import type { CaseId, ItemId } from '../../shared/ids.js';
import { DOC_COMPACT_AFTER_UPDATES, EDIT_BURST_MS, MAX_DOC_BYTES, MAX_DOC_UPDATE_BYTES, MAX_ITEM_TEXT_CHARS } from '../../shared/limits.js';
import { COLLAB_PATH, CollabClose } from '../../shared/protocol.js';
import { docAccess } from '../../shared/rules/access.js';
import { accessRecord, type AccessLog } from '../audit/accessLog.js';
import type { Sessions } from '../auth/sessions.js';
import type { CaseService, Committed } from '../cases/service.js';
import type { Directory } from '../directory/directory.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import { CollabDoc } from './doc.js';
import type { Cluster } from '../cluster/cluster.js';

const MESSAGE_SYNC = 0;
const MESSAGE_AWARENESS = 1;
/** WebSocket close code 1011: the server failed; unlike 4400–4499, a client reconnects after it. */
const WS_INTERNAL_ERROR = 1011;

interface Conn {
  ws: WebSocket;
  viewer: Viewer;
  address: string;
  canWrite: boolean;
  /** Awareness client ids this connection speaks for: nobody can take over another's cursor. */
  clientIds: Set<number>;
  /** Pending end of an editing burst by this connection. */
  burst: NodeJS.Timeout | null;
}

export interface CollabDeps {
  store: Store;
  sessions: Sessions;
  cases: CaseService;
  dir: Directory;
  access: AccessLog;
  log: Logger;
  addressOf: (req: IncomingMessage) => string;
  /** Pause that ends an editing burst; tests shorten it. */
  burstMs?: number;
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
export class Collab {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_DOC_UPDATE_BYTES + 1024 });
  private readonly docs = new Map<string, Promise<CollabDoc>>();
  private readonly conns = new Map<string, Set<Conn>>();
  /** 'unloaded' (docId) when a document leaves memory. */
  readonly events = new EventEmitter<{ unloaded: [string] }>();

  constructor(private readonly d: CollabDeps) {
    d.cases.onCommitted((c) => this.reauthorise(c));
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
    try {
      const session = await this.d.sessions.resolve(req);
      if (!session) return refuse('401 Unauthorized');
      const docId = decodeURIComponent(new URL(req.url ?? '', 'http://x').pathname.slice(COLLAB_PATH.length + 1));
      const where = this.d.cases.doc(docId);
      const c = where && this.d.cases.get(where.caseId);
      const actor = { viewer: session.viewer, address: this.d.addressOf(req) };
      if (!where || !c || docAccess(c, where.target, session.viewer) === 'none') {
        this.d.access.record(accessRecord(actor, c ?? null, { action: 'read', operation: 'doc:open', outcome: 'denied' }));
        // Accepted, then closed at once with nothing sent: the same for an unknown and a forbidden
        // document, and a close code a browser can read (an HTTP refusal it cannot tell from a network fault).
        this.wss.handleUpgrade(req, socket, head, (ws) => ws.close(CollabClose.FORBIDDEN));
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) =>
        this.connected(ws, docId, actor).catch((err: unknown) => {
          // The document could not be loaded (the store failed): the client may try again.
          this.d.log.error({ err, docId }, 'opening a collaborative document failed');
          ws.close(WS_INTERNAL_ERROR);
        }),
      );
    } catch (err) {
      this.d.log.error({ err }, 'collab upgrade failed');
      refuse('500 Internal Server Error');
    }
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
        awarenessProtocol.applyAwarenessUpdate(doc.awareness, decoding.readVarUint8Array(decoder), 'relay');
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
    // Loaded from the store, or relayed from the process that stored it: not stored twice.
    if (origin === 'store' || origin === 'relay') return;
    // To the other processes at once, so their readers hear it as soon as this one's do, and again
    // once stored (persist). A relay is idempotent: the second changes nothing where the first arrived.
    this.relay(doc, message);
    doc.track(this.persist(doc, update, message));
  }

  private async persist(doc: CollabDoc, update: Uint8Array, message: Uint8Array): Promise<void> {
    const appended = this.d.store.appendDocUpdate(doc.docId, update).then(
      () => {
        doc.storedUpdates++;
        doc.approxBytes += update.length;
      },
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
      if (doc.storedUpdates > DOC_COMPACT_AFTER_UPDATES) await doc.compact(this.d.store);
    } catch (err) {
      this.d.log.error({ err, docId: doc.docId }, 'compacting a document failed');
    }
  }

  private async connected(ws: WebSocket, docId: string, actor: { viewer: Viewer; address: string }): Promise<void> {
    const queue: RawData[] = [];
    ws.on('message', (m: RawData) => queue.push(m));
    const doc = await this.held(docId);
    try {
      this.open(ws, doc, actor, queue);
    } finally {
      this.unhold(doc);
    }
  }

  private open(ws: WebSocket, doc: CollabDoc, actor: { viewer: Viewer; address: string }, queue: RawData[]): void {
    const docId = doc.docId;
    const access = this.access(doc, actor.viewer);
    if (access === 'none' || ws.readyState !== WebSocket.OPEN) {
      ws.close(CollabClose.FORBIDDEN);
      return;
    }
    const conn: Conn = { ws, viewer: actor.viewer, address: actor.address, canWrite: access === 'write', clientIds: new Set(), burst: null };
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
      conn.ws.close(CollabClose.BAD_MESSAGE);
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
    const tooBig = update.length > MAX_DOC_UPDATE_BYTES || doc.approxBytes + update.length > MAX_DOC_BYTES;
    if (!conn.canWrite || tooBig) {
      // Refused: the client gets the server's state again, so what it shows is what is stored.
      syncProtocol.writeSyncStep2(enc, doc.ydoc);
      return send(conn, encoding.toUint8Array(enc));
    }
    const before = doc.text.toString();
    Y.applyUpdate(doc.ydoc, update, conn);
    if (doc.target.kind === 'item' && doc.text.length > MAX_ITEM_TEXT_CHARS) {
      // Over the item limit: keep what fits. The trim goes to everyone, the writer included.
      doc.ydoc.transact(() => doc.text.delete(MAX_ITEM_TEXT_CHARS, doc.text.length - MAX_ITEM_TEXT_CHARS), 'limit');
    }
    if (doc.text.toString() !== before) this.editing(doc, conn);
  }

  /** Awareness states are rewritten to the authenticated user: a name or colour cannot be faked. */
  private onAwareness(doc: CollabDoc, conn: Conn, update: Uint8Array): void {
    const user = this.d.dir.user(conn.viewer.userId);
    const org = this.d.dir.org(conn.viewer.orgId);
    const decoder = decoding.createDecoder(update);
    const n = decoding.readVarUint(decoder);
    const enc = encoding.createEncoder();
    const entries: [number, number, string][] = [];
    for (let i = 0; i < n; i++) {
      const clientId = decoding.readVarUint(decoder);
      const clock = decoding.readVarUint(decoder);
      const state = JSON.parse(decoding.readVarString(decoder)) as Record<string, unknown> | null;
      const owner = this.ownerOf(doc, clientId);
      if (owner && owner !== conn) continue;
      conn.clientIds.add(clientId);
      const bound = state === null ? null : { ...pickCursor(state), user: { name: user?.displayName ?? '', orgId: conn.viewer.orgId, colour: org?.colour ?? '#64748b' } };
      entries.push([clientId, clock, JSON.stringify(bound)]);
    }
    encoding.writeVarUint(enc, entries.length);
    for (const [id, clock, json] of entries) {
      encoding.writeVarUint(enc, id);
      encoding.writeVarUint(enc, clock);
      encoding.writeVarString(enc, json);
    }
    awarenessProtocol.applyAwarenessUpdate(doc.awareness, encoding.toUint8Array(enc), conn);
  }

  private ownerOf(doc: CollabDoc, clientId: number): Conn | undefined {
    for (const c of this.conns.get(doc.docId) ?? []) if (c.clientIds.has(clientId)) return c;
    return undefined;
  }

  /** An editing burst ends after a pause: then it is one change in the case log and the access log. */
  private editing(doc: CollabDoc, conn: Conn): void {
    if (conn.burst) clearTimeout(conn.burst);
    conn.burst = setTimeout(() => void this.endBurst(doc, conn), this.d.burstMs ?? EDIT_BURST_MS);
    conn.burst.unref();
  }

  private async endBurst(doc: CollabDoc, conn: Conn): Promise<void> {
    conn.burst = null;
    const actor = { viewer: conn.viewer, address: conn.address };
    if (doc.target.kind === 'minutes') {
      const c = this.d.cases.get(doc.caseId);
      if (c) this.d.access.record(accessRecord(actor, c, { action: 'update', operation: 'minutes:edit' }));
      return;
    }
    const text = doc.text.toString().trim();
    const item = this.d.cases.get(doc.caseId)?.items.get(doc.target.itemId);
    if (!item || !text || item.text === text) return;
    // The board's copy follows through the ordinary command: authorised, logged, delivered.
    const r = await this.d.cases.run('item:edit', { caseId: doc.caseId, itemId: doc.target.itemId, text: text.slice(0, MAX_ITEM_TEXT_CHARS) }, actor, doc.docId);
    if (!r.ok) this.d.log.info({ code: r.error.code, docId: doc.docId }, 'editing burst not recorded');
  }

  /** After every commit: close what may no longer be read, adjust who may write, follow text edits. */
  private reauthorise({ caseId, before, after, touched, local, source }: Committed): void {
    for (const [docId, set] of this.conns) {
      const docP = this.docs.get(docId);
      if (!docP) continue;
      void docP.then((doc) => {
        if (doc.caseId !== caseId) return;
        for (const conn of set) {
          const a = docAccess(after, doc.target, conn.viewer);
          if (a === 'none') this.revoke(doc, conn);
          else conn.canWrite = a === 'write';
        }
      });
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
    if (conn.burst) clearTimeout(conn.burst);
    awarenessProtocol.removeAwarenessStates(doc.awareness, [...conn.clientIds], 'revoked');
    conn.ws.close(CollabClose.REVOKED);
    this.maybeUnload(doc);
  }

  private disconnected(doc: CollabDoc, conn: Conn): void {
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
    doc.unsubscribe().catch((err: unknown) => this.d.log.warn({ err: (err as Error).message, docId: doc.docId }, 'leaving a document relay failed'));
    void doc.compact(this.d.store).catch((err: unknown) => this.d.log.error({ err }, 'compaction failed'));
    doc.destroy();
    this.events.emit('unloaded', doc.docId);
  }

  /** Loaded documents, for tests and health. */
  get loaded(): number {
    return this.docs.size;
  }

  /** Records the editing bursts still open, then closes every document connection. */
  async close(): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const [docId, set] of this.conns) {
      const doc = await this.docs.get(docId);
      for (const c of set) {
        if (c.burst && doc) {
          clearTimeout(c.burst);
          pending.push(this.endBurst(doc, c));
        }
      }
    }
    await Promise.all(pending);
    for (const set of this.conns.values()) for (const c of set) c.ws.terminate();
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

const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isLowSurrogate = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;

/** What a client may say about itself in awareness: where its cursor is, nothing about who it is. */
function pickCursor(state: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if ('cursor' in state) out.cursor = state.cursor;
  return out;
}

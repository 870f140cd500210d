import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import * as decoding from 'lib0/decoding';
import type { WebSocket } from 'ws';
import { WebSocketServer, type RawData } from 'ws';
import * as awarenessProtocol from 'y-protocols/awareness';
import type { CaseState, Viewer } from '../../shared/domain.js';
import { COLLAB_KEEPALIVE_MS, MAX_COLLAB_MESSAGES_BEFORE_OPEN, MAX_DOC_UPDATE_BYTES } from '../../shared/limits.js';
import { COLLAB_PATH, CollabClose } from '../../shared/protocol.js';
import { docAccess } from '../../shared/rules/access.js';
import { accessRecord, type AccessLog } from '../audit/accessLog.js';
import type { SessionEnds, SessionHolder } from '../auth/sessionEnds.js';
import type { Sessions } from '../auth/sessions.js';
import type { CaseService, Committed } from '../cases/service.js';
import type { DocRelay } from '../cluster/cluster.js';
import type { Directory } from '../directory/directory.js';
import type { Logger } from '../log.js';
import { unavailability } from '../store/health.js';
import type { DocStore, EventLog, PurgeStore } from '../store/types.js';
import { BoardLink } from './board.js';
import { Connections, WS_INTERNAL_ERROR, type Conn } from './connections.js';
import { applyRelayedCursors } from './cursors.js';
import { isTextOrigin, type CollabDoc } from './doc.js';
import { DocRegistry } from './registry.js';
import { DocWrites } from './writes.js';
import { awarenessMessage, MESSAGE_AWARENESS, updateMessage } from './wire.js';

/** How often at most an unknown document name makes this process read every case's log. */
const UNKNOWN_DOC_CATCH_UP_MS = 2_000;

export interface CollabDeps {
  store: DocStore & EventLog & Pick<PurgeStore, 'purgeCase'>;
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
  /** Relays cursors to the same document open on other processes. */
  cluster: DocRelay;
}

/**
 * The y-websocket endpoint (docs/DESIGN-ordering.md): a core of wire and connections
 * (`connections.ts`) and a document registry that follows the case log (`registry.ts`), tied
 * to the rest by hooks: who may read or write (docAccess, on the case as this process holds it),
 * where text is stored (the case log, `writes.ts`), and the board (`board.ts`).
 */
export class Collab implements SessionHolder {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_DOC_UPDATE_BYTES + 1024 });
  private readonly registry: DocRegistry;
  private readonly writes: DocWrites;
  private readonly board: BoardLink;
  private readonly conns: Connections;
  /** Upgrades past their session check and not yet registered: a session that ends meanwhile marks them. */
  private readonly pending = new Set<{ idHash: string; ended: boolean }>();

  constructor(private readonly d: CollabDeps) {
    this.board = new BoardLink(d, d.burstMs);
    this.registry = new DocRegistry(d, {
      loaded: (doc) => this.watch(doc),
      relayed: (doc, version, message) => this.onRelay(doc, version, message),
      applied: (c, docs) => this.reauthorise(c, docs),
    });
    this.writes = new DocWrites(d, { hold: (doc) => doc.holds++, release: (doc) => this.registry.release(doc) });
    this.conns = new Connections({
      ...d,
      rights: (doc, viewer) => this.access(doc, viewer),
      submit: (doc, conn, update) => this.writes.submit(doc, conn, update),
      ended: (doc, conn) => this.ended(doc, conn),
      keepaliveMs: d.keepaliveMs ?? COLLAB_KEEPALIVE_MS,
    });
    d.sessionEnds.add(this);
  }

  /** 'unloaded' (docId) when a document leaves memory. */
  get events(): DocRegistry['events'] {
    return this.registry.events;
  }

  /** Loaded documents, for tests and metrics. */
  get loaded(): number {
    return this.registry.size;
  }

  /** Items whose text was typed before a crash cut its burst off reach the board (at start, before serving). */
  catchUpBoard(): Promise<number> {
    return this.board.catchUpBoard();
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
      if (socket.destroyed) return;
      if (!session || pending.ended) return refuse('401 Unauthorized');
      // P-READLOG: opening a document is a read; not while its record cannot be written.
      if (!this.d.access.writable) return this.accept(req, socket, head, (ws) => ws.close(CollabClose.UNAVAILABLE));
      const docId = decodeURIComponent(new URL(req.url ?? '', 'http://x').pathname.slice(COLLAB_PATH.length + 1));
      const { where, c } = await this.locateFor(docId, session.viewer);
      if (socket.destroyed) return;
      const actor = { viewer: session.viewer, address: this.d.addressOf(req), sessionIdHash: session.idHash };
      if (!where || !c || docAccess(c, where.target, session.viewer) === 'none') {
        this.pending.delete(pending);
        this.d.access.record(accessRecord(actor, c ?? null, { action: 'read', operation: 'doc:open', outcome: 'denied' }));
        // The same for an unknown and a forbidden document, with a close code a browser can read.
        return this.accept(req, socket, head, (ws) => ws.close(CollabClose.FORBIDDEN));
      }
      this.accept(req, socket, head, (ws) => {
        void this.connected(ws, docId, actor, pending)
          .catch((err: unknown) => {
            this.d.log.error({ err, docId }, 'opening a collaborative document failed');
            ws.close(unavailability(err) ? CollabClose.UNAVAILABLE : WS_INTERNAL_ERROR);
          })
          .finally(() => this.pending.delete(pending));
      });
    } catch (err) {
      this.pending.delete(pending);
      // P-REDIS: the session could not be looked up now: not a refusal, "try again later".
      if (unavailability(err) && !socket.destroyed) return this.accept(req, socket, head, (ws) => ws.close(CollabClose.UNAVAILABLE));
      this.d.log.error({ err }, 'collab upgrade failed');
      if (!socket.destroyed) refuse('500 Internal Server Error');
    }
  }

  /**
   * The document's case, caught up from the log before a refusal: an item added or widened on
   * another process may not have reached this one yet (P-CATCHUP), and a refusal is final for the
   * client. An unknown name may belong to a case this process has not heard of: all cases are
   * read, at most once a period for everyone.
   */
  private async locateFor(docId: string, viewer: Viewer): Promise<{ where: ReturnType<DocRegistry['locate']>; c: CaseState | undefined }> {
    let where = this.registry.locate(docId);
    let c = where && this.d.cases.get(where.caseId);
    if (where && c && docAccess(c, where.target, viewer) !== 'none') return { where, c };
    if (where) {
      const caseId = where.caseId;
      await this.d.cases.withCase(caseId, () => this.d.cases.catchUp(caseId));
    } else {
      this.allCaughtUp ??= this.d.cases.catchUpAll().finally(() => setTimeout(() => (this.allCaughtUp = null), UNKNOWN_DOC_CATCH_UP_MS).unref());
      await this.allCaughtUp;
    }
    where = this.registry.locate(docId);
    c = where && this.d.cases.get(where.caseId);
    return { where, c };
  }

  private allCaughtUp: Promise<void> | null = null;

  /**
   * Completes the upgrade. A frame that breaks the protocol (RFC 6455 §5, §7) makes `ws` fail that
   * one connection and emit 'error': handled here, before anything else can receive a frame.
   */
  private accept(req: IncomingMessage, socket: Duplex, head: Buffer, then: (ws: WebSocket) => void): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', (err: Error & { code?: string }) => this.d.log.info({ code: err.code ?? 'WS_ERROR' }, 'collab connection failed'));
      then(ws);
    });
  }

  private async connected(
    ws: WebSocket,
    docId: string,
    actor: { viewer: Viewer; address: string; sessionIdHash: string },
    pending: { ended: boolean },
  ): Promise<void> {
    const queue: RawData[] = [];
    ws.on('message', (m: RawData) => {
      // An honest client sends a sync step and a cursor while it waits; a flood is cut off.
      if (queue.push(m) > MAX_COLLAB_MESSAGES_BEFORE_OPEN) ws.terminate();
    });
    const doc = await this.registry.hold(docId);
    if (pending.ended) {
      this.registry.release(doc);
      return ws.close(CollabClose.SESSION_ENDED);
    }
    // The connection keeps the document held until it ends (Connections → ended).
    if (!this.conns.open(ws, doc, actor, queue)) this.registry.release(doc);
  }

  private access(doc: CollabDoc, viewer: Viewer): 'write' | 'read' | 'none' {
    const c = this.d.cases.get(doc.caseId);
    return c ? docAccess(c, doc.target, viewer) : 'none';
  }

  /** A document's changes go out as they are applied: text from the log, cursors from connections and relays. */
  private watch(doc: CollabDoc): void {
    doc.ydoc.on('update', (update: Uint8Array, origin: unknown) => {
      if (!isTextOrigin(origin) || origin.kind !== 'log') return;
      this.conns.broadcast(doc, updateMessage(update), origin.from);
    });
    // Each writer is counted for its own part: several people can type in one burst.
    doc.text.observe((event, tr) => {
      const origin: unknown = tr.origin;
      if (!isTextOrigin(origin) || origin.kind !== 'log' || !origin.from) return;
      const conn = this.conns.find(doc, origin.from);
      if (!conn) return;
      let inserted = 0;
      let deleted = 0;
      for (const d of event.delta) {
        if (typeof d.insert === 'string') inserted += d.insert.length;
        else if (d.insert !== undefined) inserted += 1;
        if (d.delete) deleted += d.delete;
      }
      this.board.changed(doc, conn, conn.burst, inserted, deleted);
    });
    doc.awareness.on('update', ({ added, updated, removed }: Record<string, number[]>, origin: unknown) => {
      const message = awarenessMessage(doc.awareness, [...added!, ...updated!, ...removed!]);
      this.conns.broadcast(doc, message, origin);
      if (origin !== 'relay') this.d.cluster.publishDoc(doc.docId, this.d.cases.get(doc.caseId)?.version ?? 0, message);
    });
  }

  /**
   * Cursors from the same document on another process, at the sender's version of the case: a
   * process behind it catches up first, so it judges who may see them on a case at least as new.
   * Text never travels this way: it comes from the case log only.
   */
  private onRelay(doc: CollabDoc, version: number, message: Uint8Array): void {
    const apply = (): void => {
      if (doc.unloaded) return;
      try {
        const decoder = decoding.createDecoder(message);
        if (decoding.readVarUint(decoder) !== MESSAGE_AWARENESS) return;
        applyRelayedCursors(doc, decoding.readVarUint8Array(decoder), (id) => this.conns.holds(doc, id));
      } catch (err) {
        this.d.log.warn({ err: (err as Error).message, docId: doc.docId }, 'bad relayed doc message');
      }
    };
    const held = (): number => this.d.cases.get(doc.caseId)?.version ?? 0;
    if (held() >= version) return apply();
    this.d.cases
      .withCase(doc.caseId, async () => {
        if (held() < version) await this.d.cases.catchUp(doc.caseId);
      })
      .then(apply, (err: unknown) => this.d.log.warn({ err: (err as Error).message, docId: doc.docId }, 'relayed cursor dropped: catch-up failed'));
  }

  /** After every commit of the case: close what may no longer be read, adjust who may write. */
  private reauthorise(c: Committed, docs: Iterable<CollabDoc>): void {
    for (const doc of docs) {
      for (const conn of this.conns.of(doc)) {
        const a = docAccess(c.after, doc.target, conn.viewer);
        if (a === 'none') this.conns.end(doc, conn, CollabClose.REVOKED);
        else conn.canWrite = a === 'write';
      }
    }
  }

  /** A connection ended (closed, revoked, its session over): its burst is recorded, its cursors go, the document is let go. */
  private ended(doc: CollabDoc, conn: Conn): void {
    void this.board.end(doc, conn, conn.burst);
    awarenessProtocol.removeAwarenessStates(doc.awareness, [...conn.clientIds], 'ended');
    this.registry.release(doc);
  }

  *sessionHashes(): Iterable<string> {
    yield* this.conns.sessionHashes();
  }

  endSessions(idHashes: readonly string[]): void {
    const ended = new Set(idHashes);
    for (const p of this.pending) if (ended.has(p.idHash)) p.ended = true;
    this.conns.endSessions(ended);
  }

  /**
   * Stops taking text (nothing sent from now on is applied), records the editing bursts still
   * open, closes every connection, and returns once every update taken has been stored.
   */
  async close(): Promise<void> {
    const bursts = this.conns.stop((doc, conn) => this.board.end(doc, conn, conn.burst));
    await Promise.all(bursts);
    this.board.stop();
    await this.writes.idle();
    await this.registry.snapshotAll();
    this.wss.close();
  }
}

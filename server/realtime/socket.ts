import { EventEmitter } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import { MAX_MESSAGE_BYTES } from '../../shared/limits.js';
import { PROTOCOL_VERSION, SOCKET_PATH, type Ack } from '../../shared/protocol.js';
import { accessRecord } from '../audit/accessLog.js';
import { clientAddress, sameOrigin } from '../http/request.js';
import { unavailability } from '../store/health.js';
import { Boards } from './boards.js';
import { RealtimeContext, sessionRoom, userRoom, type BoardSocket, type IO, type RealtimeDeps } from './context.js';
import { Delivery } from './delivery.js';
import { HandshakeError } from './handshakeError.js';
import { Dispatch } from './dispatch.js';
import { Presence } from './presence.js';
import { TokenBucket } from './rateLimit.js';
import { SocketSessions } from './sessions.js';

/**
 * The live board: its sockets from handshake to close. Every message to a client is built from the
 * rule functions: snapshots, patches, case lists and presence all pass maySeeCase / maySeeItem for
 * that client first (delivery.ts, boards.ts, presence.ts); commands go through dispatch.ts.
 */
export class Realtime {
  readonly io: IO;
  private readonly ctx: RealtimeContext;
  private readonly presence: Presence;
  private readonly delivery: Delivery;
  private readonly boards: Boards;
  private readonly dispatch: Dispatch;
  private readonly sessions: SocketSessions;
  /** Commands received and not yet answered. */
  private readonly inFlight = new Set<Promise<void>>();
  /** Every command answered, by the event name the client sent (for metrics). */
  readonly events = new EventEmitter<{ answered: [event: string, ack: Ack<unknown>] }>();

  constructor(
    httpServer: HttpServer,
    private readonly d: RealtimeDeps,
  ) {
    this.io = new Server(httpServer, {
      path: SOCKET_PATH,
      transports: ['websocket'],
      serveClient: false,
      maxHttpBufferSize: MAX_MESSAGE_BYTES,
      // Leave other WebSocket paths (Yjs documents) to their own upgrade handler.
      destroyUpgrade: false,
      allowRequest: (req, cb) => cb(sameOrigin(req.headers) ? null : 'FORBIDDEN', sameOrigin(req.headers)),
      ...(d.adapter ? { adapter: d.adapter } : {}),
    });
    this.ctx = new RealtimeContext(this.io, d);
    this.presence = new Presence(this.ctx);
    this.delivery = new Delivery(this.ctx, this.presence);
    this.boards = new Boards(this.ctx, this.presence);
    const sessions = (this.sessions = new SocketSessions(this.ctx));
    this.dispatch = new Dispatch(this.ctx, this.boards, sessions, (event, ack) => this.events.emit('answered', event, ack));
    // A socket lives no longer than its session: idle expiry, maximum age, a disabled account.
    d.sessionEnds.add(sessions);
    this.io.use((socket, next) => void this.handshake(socket, next));
    this.io.on('connection', (socket) => this.connected(socket));
    d.cases.onCommitted((c) => this.delivery.deliver(c));
  }

  /** The sessions of the open board sockets (for metrics). */
  sessionHashes(): Iterable<string> {
    return this.sessions.sessionHashes();
  }

  private async handshake(socket: BoardSocket, next: (err?: Error) => void): Promise<void> {
    try {
      const auth = socket.handshake.auth as { protocolVersion?: unknown } | undefined;
      const session = await this.d.sessions.resolve(socket.request);
      if (!session) return next(new HandshakeError('UNAUTHENTICATED'));
      if (auth?.protocolVersion !== PROTOCOL_VERSION) return next(new HandshakeError('PROTOCOL_OUTDATED'));
      // P-READLOG: a connection starts with a read (its case list), which needs its record.
      if (!this.d.access.writable) return next(new HandshakeError('UNAVAILABLE'));
      socket.data = {
        viewer: session.viewer,
        sessionIdHash: session.idHash,
        address: clientAddress(socket.request.headers, socket.request.socket.remoteAddress, this.d.trustProxy),
        checkedAt: Date.now(),
      };
      this.ctx.attach(socket, { open: new Map(), bucket: new TokenBucket(this.d.commandsPerSecond, this.d.commandsPerSecond * 2) });
      next();
    } catch (err) {
      // P-REDIS: a session that cannot be looked up now is not "no session": the client waits
      // and tries again instead of being sent to the login page.
      if (unavailability(err)) return next(new HandshakeError('UNAVAILABLE'));
      this.d.log.error({ err }, 'handshake failed');
      next(new HandshakeError('INTERNAL'));
    }
  }

  private connected(socket: BoardSocket): void {
    // The log became unwritable since the handshake: nothing is read; the client connects again.
    if (!this.d.access.writable) return void socket.disconnect(true);
    const { viewer } = socket.data;
    void socket.join([userRoom(viewer.userId), sessionRoom(socket.data.sessionIdHash)]);
    const summaries = this.delivery.caseList(viewer);
    const actor = this.ctx.actor(socket);
    const at = new Date().toISOString();
    this.d.access.record(summaries.map((sum) => accessRecord(actor, this.d.cases.get(sum.id)!, { action: 'read', operation: 'cases:list' }, at)));
    socket.emit('cases:snapshot', summaries);
    // One entry point for every inbound event, known or not, so nothing bypasses parsing.
    socket.onAny((event: string, ...args: unknown[]) => this.track(this.dispatch.dispatch(socket, event, args)));
    socket.on('disconnect', () => this.boards.leaveAll(socket));
  }

  private track(run: Promise<void>): void {
    const settled: Promise<void> = run
      .catch((err: unknown) => this.d.log.error({ err }, 'command dispatch failed'))
      .finally(() => this.inFlight.delete(settled));
    this.inFlight.add(settled);
  }

  /**
   * The first step of stopping: every command received so far is committed and answered (its
   * socket still open); any that arrives from now on is answered UNAVAILABLE, so the client
   * sends it again once it has reconnected to a process that serves.
   */
  async drain(): Promise<void> {
    this.ctx.stopping = true;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  close(): Promise<void> {
    this.presence.close();
    return new Promise((resolve) => {
      // Socket.IO calls back once every connection and the HTTP server are closed; its promise says no more.
      void this.io.close(() => resolve());
    });
  }
}

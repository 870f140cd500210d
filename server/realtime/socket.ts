import { EventEmitter } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import { Server, type ServerOptions, type Socket } from 'socket.io';
import type { CaseState, Viewer } from '../../shared/domain.js';
import { appError, type AppError } from '../../shared/errors.js';
import type { CaseId, CommandId, ItemId, UserId } from '../../shared/ids.js';
import { MAX_MESSAGE_BYTES, PRESENCE_COALESCE_MS, SESSION_CHECK_EVERY_MS } from '../../shared/limits.js';
import {
  PROTOCOL_VERSION,
  SOCKET_PATH,
  type Ack,
  type ClientToServerEvents,
  type OpenResult,
  type PatchOp,
  type PresenceEntry,
  type ServerToClientEvents,
} from '../../shared/protocol.js';
import { maySeeCase } from '../../shared/rules/access.js';
import { deltaFor, projectCase, summarise } from '../../shared/rules/projection.js';
import { CommandEnvelopeSchema, CommandSchemas, isCommandName, type CommandInput, type CommandName } from '../../shared/schemas.js';
import { accessRecord, type AccessLog, type Actor } from '../audit/accessLog.js';
import type { SessionEnds } from '../auth/sessionEnds.js';
import type { Sessions } from '../auth/sessions.js';
import type { CaseService, Committed } from '../cases/service.js';
import type { Directory } from '../directory/directory.js';
import type { Logger } from '../log.js';
import { unavailability } from '../store/health.js';
import type { AccessRecord } from '../store/types.js';
import type { Cursors } from './cursor.js';
import { jsonEqual } from './jsonEqual.js';
import { TokenBucket } from './rateLimit.js';

/** What other processes may read of a socket (fetchSockets): plain data only. */
export interface SocketData {
  viewer: Viewer;
  sessionIdHash: string;
  address: string;
  /** When the session was last confirmed for this socket. */
  checkedAt: number;
}

/** What only this process keeps of a socket. */
interface LocalState {
  /** Cases this socket has open, with the version it has been served up to. */
  open: Map<CaseId, number>;
  bucket: TokenBucket;
}

/** Between server processes (through the Socket.IO Redis adapter): "presence of this case changed". */
interface InterServerEvents {
  presence: (caseId: CaseId) => void;
}

type IO = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
type S = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

const caseRoom = (id: CaseId): string => `case:${id}`;
const userRoom = (id: UserId): string => `user:${id}`;
const sessionRoom = (idHash: string): string => `session:${idHash}`;

export interface RealtimeDeps {
  sessions: Sessions;
  dir: Directory;
  cases: CaseService;
  access: AccessLog;
  cursors: Cursors;
  log: Logger;
  sessionEnds: SessionEnds;
  commandsPerSecond: number;
  trustProxy: number;
  /** The Socket.IO Redis adapter when several processes serve one board. */
  adapter?: ServerOptions['adapter'];
}

/** Where a request came from: the socket peer, or the proxy's X-Forwarded-For when trusted. */
export function clientAddress(headers: Record<string, string | string[] | undefined>, peer: string | undefined, trustProxy: number): string {
  const fwd = headers['x-forwarded-for'];
  if (trustProxy > 0 && typeof fwd === 'string') {
    const hops = fwd.split(',').map((s) => s.trim());
    return hops[Math.max(0, hops.length - trustProxy)] ?? peer ?? 'unknown';
  }
  return peer ?? 'unknown';
}

/** Browsers send Origin on WebSocket upgrades: only our own origin may open a socket. */
export function sameOrigin(headers: Record<string, string | string[] | undefined>): boolean {
  const origin = headers.origin;
  if (origin === undefined) return true;
  try {
    return typeof origin === 'string' && new URL(origin).host === headers.host;
  } catch {
    return false;
  }
}

class HandshakeError extends Error {
  readonly data: AppError;
  constructor(code: 'UNAUTHENTICATED' | 'PROTOCOL_OUTDATED' | 'UNAVAILABLE' | 'INTERNAL') {
    super(code);
    this.data = appError(code);
  }
}

/**
 * The live board. Every message to a client is built here from the rule functions: snapshots,
 * patches, case lists and presence all pass maySeeCase / maySeeItem for that client first.
 */
export class Realtime {
  readonly io: IO;
  private readonly local = new WeakMap<S, LocalState>();
  private readonly presencePending = new Map<CaseId, NodeJS.Timeout>();
  /** Commands received and not yet answered. */
  private readonly inFlight = new Set<Promise<void>>();
  private stopping = false;
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
    // A socket lives no longer than its session: idle expiry, maximum age, a disabled account.
    d.sessionEnds.add(this);
    this.io.use((socket, next) => void this.handshake(socket, next));
    this.io.on('connection', (socket) => this.connected(socket));
    this.io.on('presence', (caseId) => this.schedulePresence(caseId));
    d.cases.onCommitted((c) => this.deliver(c));
  }

  private async handshake(socket: S, next: (err?: Error) => void): Promise<void> {
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
      this.local.set(socket, { open: new Map(), bucket: new TokenBucket(this.d.commandsPerSecond, this.d.commandsPerSecond * 2) });
      next();
    } catch (err) {
      // P-REDIS: a session that cannot be looked up now is not "no session": the client waits
      // and tries again instead of being sent to the login page.
      if (unavailability(err)) return next(new HandshakeError('UNAVAILABLE'));
      this.d.log.error({ err }, 'handshake failed');
      next(new HandshakeError('INTERNAL'));
    }
  }

  private connected(socket: S): void {
    // The log became unwritable since the handshake: nothing is read; the client connects again.
    if (!this.d.access.writable) return void socket.disconnect(true);
    const { viewer } = socket.data;
    void socket.join([userRoom(viewer.userId), sessionRoom(socket.data.sessionIdHash)]);
    const summaries = this.summaries(viewer);
    this.d.access.record(summaries.map((sum) => accessRecord(this.actor(socket), this.d.cases.get(sum.id)!, { action: 'read', operation: 'cases:list' })));
    socket.emit('cases:snapshot', summaries);
    // One entry point for every inbound event, known or not, so nothing bypasses parsing.
    socket.onAny((event: string, ...args: unknown[]) => this.track(this.dispatch(socket, event, args)));
    socket.on('disconnect', () => {
      for (const caseId of this.st(socket).open.keys()) this.leaveCase(socket, caseId);
    });
  }

  private summaries(viewer: Viewer) {
    const out = [];
    for (const c of this.d.cases.all()) {
      // A cursor costs a cipher call: only for cases listed (a user sees a few of many).
      if (!maySeeCase(c, viewer)) continue;
      const s = summarise(c, viewer, this.d.cursors.encode(c.id, c.version));
      if (s) out.push(s);
    }
    return out;
  }

  private actor(socket: S): Actor {
    return { viewer: socket.data.viewer, address: socket.data.address };
  }

  private async dispatch(socket: S, event: string, args: unknown[]): Promise<void> {
    const last = args.at(-1);
    const ack = typeof last === 'function' ? (last as (r: Ack<unknown>) => void) : null;
    // Commands without an ack cannot be answered; they are dropped unread.
    if (!ack) return;
    const reply = (r: Ack<unknown>): void => {
      if (socket.connected) ack(r);
      this.events.emit('answered', event, r);
    };
    // Stopping: what was received before is finished (drain); what comes now is for another process.
    if (this.stopping) return reply({ ok: false, error: appError('UNAVAILABLE') });
    if (!this.st(socket).bucket.take()) return reply({ ok: false, error: appError('RATE_LIMITED') });
    // Using the board is using the session: confirm it (and keep it alive) once a minute. Not
    // awaited, so a socket's commands keep their order; a session found ended closes the socket.
    if (Date.now() - socket.data.checkedAt > SESSION_CHECK_EVERY_MS) {
      socket.data.checkedAt = Date.now();
      const idHash = socket.data.sessionIdHash;
      this.d.sessions
        .check(idHash, true)
        .then((s) => (s ? undefined : this.d.sessionEnds.end([idHash])))
        .catch((err: unknown) => this.d.log.warn({ err: (err as Error).message }, 'session check failed'));
    }
    if (!isCommandName(event)) return reply({ ok: false, error: appError('UNKNOWN_COMMAND') });
    // P-ONCE: the command's id and its input. A bad envelope is refused alike whatever it names.
    const envelope = CommandEnvelopeSchema.safeParse(args.length > 1 ? args[0] : undefined);
    if (!envelope.success) return reply({ ok: false, error: appError('BAD_REQUEST') });
    const { commandId, input } = envelope.data;
    const parsed = CommandSchemas[event].safeParse(input);
    try {
      // P-EXIST: invalid input that names what the user may not see is refused as unknown first.
      if (!parsed.success) return reply(await this.d.cases.refuseMalformed(event, input, this.actor(socket)));
      reply(await this.execute(socket, event, parsed.data, commandId));
    } catch (err) {
      // UNAVAILABLE only when the command was certainly not applied: then sending it again is safe.
      const unavailable = unavailability(err);
      if (unavailable && !unavailable.maybeApplied) return reply({ ok: false, error: appError('UNAVAILABLE') });
      this.d.log.error({ err, command: event, userId: socket.data.viewer.userId }, 'command failed');
      reply({ ok: false, error: appError('INTERNAL') });
    }
  }

  private async execute(socket: S, name: CommandName, input: unknown, commandId: CommandId): Promise<Ack<unknown>> {
    switch (name) {
      case 'case:open':
        return this.openCase(socket, input as CommandInput<'case:open'>);
      case 'case:leave': {
        const { caseId } = input as CommandInput<'case:leave'>;
        if (!this.st(socket).open.has(caseId)) return { ok: false, error: appError('NOT_FOUND') };
        this.leaveCase(socket, caseId);
        return { ok: true, data: null };
      }
      // Reads above run again on a retry; what changes something runs once per command id.
      default:
        return this.d.cases.command(commandId, name, input, this.actor(socket));
    }
  }

  private openCase(socket: S, input: CommandInput<'case:open'>): Promise<Ack<OpenResult>> {
    const { caseId, since } = input;
    const unavailable = { ok: false as const, error: appError('UNAVAILABLE') };
    // P-READLOG: not served while its record cannot be written (the same answer for every case).
    if (!this.d.access.writable) return Promise.resolve(unavailable);
    return this.d.cases.withCase(caseId, async () => {
      let c = this.d.cases.get(caseId);
      const actor = this.actor(socket);
      // Before saying no, read the shared log past the state held here: with several processes,
      // one that has not yet applied a re-seating (or the case's creation) would refuse a
      // participant. A yes needs no such read: the log's order takes back what a later event denies.
      if (!c || !maySeeCase(c, actor.viewer)) {
        await this.d.cases.catchUp(caseId);
        c = this.d.cases.get(caseId);
      }
      if (!c || !maySeeCase(c, actor.viewer)) {
        // P-EXIST: a refusal after the waits answers as a served open would (below).
        if (!this.d.access.writable) return unavailable;
        this.d.access.record(accessRecord(actor, c ?? null, { action: 'read', operation: 'case:open', caseId, outcome: 'denied' }));
        return { ok: false as const, error: appError('NOT_FOUND') };
      }
      const cursor = this.d.cursors.encode(caseId, c.version);
      const v = since === undefined ? null : this.d.cursors.decode(caseId, since);
      const history = v !== null && v > 0 ? await this.d.cases.since(caseId, v) : null;
      // Gone while waiting its turn: nothing is delivered, so nothing is joined or logged.
      if (!socket.connected) return { ok: false as const, error: appError('UNAUTHENTICATED') };
      let result: OpenResult;
      let ops: PatchOp[];
      if (history) {
        ops = deltaFor(history.before, c, history.touched, actor.viewer, this.d.dir.nameOf, cursor);
        result = { patch: { caseId, cursor, ops } };
      } else {
        const view = projectCase(c, actor.viewer, this.d.dir.nameOf, cursor)!;
        result = { view };
        ops = [{ op: 'snapshot', view }];
      }
      // Checked again after the waits above. A failure found after this point is in time too:
      // the records of what is served now are kept until they are written.
      if (!this.d.access.writable) return unavailable;
      await socket.join(caseRoom(caseId));
      if (!socket.connected) return { ok: false as const, error: appError('UNAUTHENTICATED') };
      this.st(socket).open.set(caseId, c.version);
      this.logReads(actor, c, ops, 'case:open');
      // After the ack, so the opener has the board before it hears who is there.
      setImmediate(() => this.presenceChanged(caseId));
      return { ok: true as const, data: result };
    });
  }

  private st(socket: S): LocalState {
    return this.local.get(socket)!;
  }

  private leaveCase(socket: S, caseId: CaseId): void {
    this.st(socket).open.delete(caseId);
    void socket.leave(caseRoom(caseId));
    this.presenceChanged(caseId);
  }

  /** Here and on every other process: each tells its own sockets. */
  private presenceChanged(caseId: CaseId): void {
    this.schedulePresence(caseId);
    if (this.d.adapter) this.io.serverSideEmit('presence', caseId);
  }

  /**
   * Presence changes in bursts (a room of viewers opening a board at once): one broadcast per
   * case per PRESENCE_COALESCE_MS carries them all, instead of one per arrival to every viewer.
   */
  private schedulePresence(caseId: CaseId): void {
    if (this.presencePending.has(caseId)) return;
    const t = setTimeout(() => {
      this.presencePending.delete(caseId);
      void this.broadcastPresence(caseId);
    }, PRESENCE_COALESCE_MS);
    t.unref();
    this.presencePending.set(caseId, t);
  }

  private localSocketsIn(room: string): S[] {
    const ids = this.io.sockets.adapter.rooms.get(room);
    if (!ids) return [];
    const out: S[] = [];
    for (const id of ids) {
      const s = this.io.sockets.sockets.get(id);
      if (s) out.push(s);
    }
    return out;
  }

  /**
   * Presence: who has the board open on any process. It reaches only viewers of the case and lists
   * only people who may see it, both judged on this process's state of the case.
   */
  private async broadcastPresence(caseId: CaseId): Promise<void> {
    let sockets;
    try {
      sockets = await this.io.in(caseRoom(caseId)).fetchSockets();
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message, caseId }, 'presence lookup failed');
      return;
    }
    const c = this.d.cases.get(caseId);
    if (!c) return;
    const cursor = this.d.cursors.encode(caseId, c.version);
    const present = new Map<UserId, PresenceEntry>();
    for (const s of sockets) {
      const v = s.data.viewer;
      if (!v || present.has(v.userId) || !maySeeCase(c, v)) continue;
      present.set(v.userId, { userId: v.userId, name: this.d.dir.nameOf(v.userId), orgId: v.orgId });
    }
    // The same list for every viewer of the case: one packet, encoded once.
    const to = this.localSocketsIn(caseRoom(caseId)).filter((s) => maySeeCase(c, s.data.viewer)).map((s) => s.id);
    if (to.length > 0) this.io.local.to(to).emit('presence:update', { caseId, cursor, present: [...present.values()] });
  }

  /** After a commit: each open board gets its own patch; each affected user its case list entry. */
  private deliver({ caseId, before, after, touched }: Committed): void {
    const cursor = this.d.cursors.encode(caseId, after.version);
    const touchedNow = { meta: touched.meta, items: [...touched.items] };
    // Built once per user; sockets whose patches are identical (same rights) share one packet,
    // encoded once, so a case watched by many costs one projection per kind of viewer.
    const perUser = new Map<UserId, { ops: PatchOp[]; packet: { ops: PatchOp[]; socketIds: string[] } | null; revoked: boolean }>();
    const packets: { ops: PatchOp[]; socketIds: string[] }[] = [];
    const logged = new Set<string>();
    const at = new Date().toISOString();
    let someoneLeft = false;
    const writable = this.d.access.writable;
    const unserved: S[] = [];
    for (const s of this.localSocketsIn(caseRoom(caseId))) {
      const st = this.st(s);
      const served = st.open.get(caseId);
      if (served === undefined || served >= after.version) continue;
      const viewer = s.data.viewer;
      let built = perUser.get(viewer.userId);
      if (!built) {
        const ops = deltaFor(before, after, touchedNow, viewer, this.d.dir.nameOf, cursor);
        // Users whose patches are equal share a packet (compared, not encoded: a few kinds of viewer per change).
        let packet = null;
        if (ops.length > 0) {
          packet = packets.find((p) => jsonEqual(p.ops, ops)) ?? null;
          if (!packet) packets.push((packet = { ops, socketIds: [] }));
        }
        built = { ops, packet, revoked: ops.some((o) => o.op === 'revoked') };
        perUser.set(viewer.userId, built);
      }
      // P-READLOG: while the log cannot be written, a board that would be shown something is
      // disconnected instead. It connects again once the log works, and catches up from its cursor.
      if (!writable && built.ops.length > 0) {
        unserved.push(s);
        continue;
      }
      // A read per user and address (NEN 7513 names both): a second tab at the same address reads
      // the same thing at the same moment, and a duplicate row would add nothing to the log.
      const readKey = `${viewer.userId} ${s.data.address}`;
      if (!logged.has(readKey)) {
        logged.add(readKey);
        this.logReads({ viewer, address: s.data.address }, after, built.ops, 'case:patch', at);
      }
      st.open.set(caseId, after.version);
      built.packet?.socketIds.push(s.id);
      if (built.revoked) {
        st.open.delete(caseId);
        void s.leave(caseRoom(caseId));
        someoneLeft = true;
      }
    }
    // Local only: every process delivers to its own sockets from the shared log.
    // (An empty list would mean every socket.)
    for (const { ops, socketIds } of packets) if (socketIds.length > 0) this.io.local.to(socketIds).emit('case:patch', { caseId, cursor, ops });
    for (const s of unserved) s.disconnect(true);
    if (touched.meta) this.deliverSummaries(before, after);
    // A participant change can change who may be listed. Every process handles every commit, so
    // each refreshes its own sockets; no need to tell the others. Nothing is re-sent otherwise.
    // (The reducers copy on write: untouched participants are the same array.)
    const participantsChanged = before !== null && before.participants !== after.participants && JSON.stringify(before.participants) !== JSON.stringify(after.participants);
    if (someoneLeft || participantsChanged) this.schedulePresence(caseId);
  }

  private deliverSummaries(before: CaseState | null, after: CaseState): void {
    const cursor = this.d.cursors.encode(after.id, after.version);
    const userIds = new Set<UserId>();
    for (const p of [...(before?.participants ?? []), ...after.participants]) for (const u of p.userIds) userIds.add(u);
    for (const userId of userIds) {
      const u = this.d.dir.user(userId);
      if (!u) continue;
      const viewer: Viewer = { userId, orgId: u.orgId, roles: u.roles };
      const summary = summarise(after, viewer, cursor);
      const removed = !summary && before !== null && maySeeCase(before, viewer);
      // An unchanged summary is not sent: it would tell of activity the user cannot see.
      const previous = before && summarise(before, viewer, cursor);
      if (summary && previous && JSON.stringify(summary) === JSON.stringify(previous)) continue;
      for (const s of this.localSocketsIn(userRoom(userId))) {
        if (summary) {
          // As for patches: not shown without its record.
          if (!this.d.access.writable) {
            s.disconnect(true);
            continue;
          }
          this.d.access.record(accessRecord({ viewer, address: s.data.address }, after, { action: 'read', operation: 'cases:list' }));
          s.emit('cases:upsert', summary);
        } else if (removed) s.emit('cases:removed', after.id);
      }
    }
  }

  private logReads(actor: Actor, c: CaseState, ops: PatchOp[], operation: string, at = new Date().toISOString()): void {
    const records: AccessRecord[] = [];
    const read = (itemId: ItemId | null) =>
      records.push(accessRecord(actor, c, { action: 'read', operation, itemId }, at));
    for (const o of ops) {
      if (o.op === 'snapshot') {
        read(null);
        for (const i of o.view.items) read(i.id);
      } else if (o.op === 'meta') read(null);
      else if (o.op === 'item') read(o.item.id);
    }
    if (records.length > 0) this.d.access.record(records);
  }

  *sessionHashes(): Iterable<string> {
    for (const s of this.io.sockets.sockets.values()) yield s.data.sessionIdHash;
  }

  /** Logs these sessions out on this process's sockets (SessionEnds tells the other processes). */
  endSessions(idHashes: readonly string[]): void {
    for (const h of idHashes) {
      this.io.local.to(sessionRoom(h)).emit('session:ended');
      this.io.local.in(sessionRoom(h)).disconnectSockets(true);
    }
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
    this.stopping = true;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  close(): Promise<void> {
    for (const t of this.presencePending.values()) clearTimeout(t);
    return new Promise((resolve) => {
      this.io.close(() => resolve());
    });
  }
}

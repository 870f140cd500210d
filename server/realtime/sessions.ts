import { SESSION_CHECK_EVERY_MS } from '../../shared/limits.js';
import type { SessionHolder } from '../auth/sessionEnds.js';
import { sessionRoom, type BoardSocket, type RealtimeContext } from './context.js';

/** A board socket lives no longer than its session: logout, idle expiry, maximum age, a disabled account. */
export class SocketSessions implements SessionHolder {
  constructor(private readonly ctx: RealtimeContext) {}

  *sessionHashes(): Iterable<string> {
    for (const s of this.ctx.io.sockets.sockets.values()) yield s.data.sessionIdHash;
  }

  /** Logs these sessions out on this process's sockets (SessionEnds tells the other processes). */
  endSessions(idHashes: readonly string[]): void {
    const { io } = this.ctx;
    for (const h of idHashes) {
      io.local.to(sessionRoom(h)).emit('session:ended');
      io.local.in(sessionRoom(h)).disconnectSockets(true);
    }
  }

  /**
   * Using the board is using the session: confirm it (and keep it alive) once a minute. Not
   * awaited, so a socket's commands keep their order; a session found ended closes the socket.
   */
  confirm(socket: BoardSocket): void {
    if (Date.now() - socket.data.checkedAt <= SESSION_CHECK_EVERY_MS) return;
    const { d } = this.ctx;
    socket.data.checkedAt = Date.now();
    const idHash = socket.data.sessionIdHash;
    d.sessions
      .check(idHash, true)
      .then((s) => (s ? undefined : d.sessionEnds.end([idHash])))
      .catch((err: unknown) => d.log.warn({ err: (err as Error).message }, 'session check failed'));
  }
}

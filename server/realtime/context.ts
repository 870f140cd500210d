import type { Server, ServerOptions, Socket } from 'socket.io';
import type { Viewer } from '../../shared/domain.js';
import type { CaseId, UserId } from '../../shared/ids.js';
import type { ClientToServerEvents, ServerToClientEvents } from '../../shared/protocol.js';
import type { AccessLog, Actor } from '../audit/accessLog.js';
import type { SessionEnds } from '../auth/sessionEnds.js';
import type { Sessions } from '../auth/sessions.js';
import type { CaseService } from '../cases/service.js';
import type { Directory } from '../directory/directory.js';
import type { Logger } from '../log.js';
import type { PresenceBus } from '../cluster/cluster.js';
import type { Cursors } from './cursor.js';
import type { TokenBucket } from './rateLimit.js';

/** What the server keeps of a board socket: plain data only. */
export interface SocketData {
  viewer: Viewer;
  sessionIdHash: string;
  address: string;
  /** When the session was last confirmed for this socket. */
  checkedAt: number;
}

/** What only this process keeps of a socket. */
export interface LocalState {
  /** Cases this socket has open, with the version it has been served up to. */
  open: Map<CaseId, number>;
  bucket: TokenBucket;
}

/** Between server processes through the Socket.IO adapter: none (presence has its own link, PresenceBus). */
export type InterServerEvents = Record<string, never>;

export type IO = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type BoardSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export const caseRoom = (id: CaseId): string => `case:${id}`;
export const userRoom = (id: UserId): string => `user:${id}`;
export const sessionRoom = (idHash: string): string => `session:${idHash}`;

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
  /** Who has which case open on the other processes (one process alone: nobody). */
  presence: PresenceBus;
  /** The Socket.IO Redis adapter when several processes serve one board. */
  adapter?: ServerOptions['adapter'];
}

/** What the parts of the live board share: the server, its dependencies, this process's state of each socket. */
export class RealtimeContext {
  private readonly local = new WeakMap<BoardSocket, LocalState>();
  /** Set by the first step of stopping: commands that arrive from then on are for another process. */
  stopping = false;

  constructor(
    readonly io: IO,
    readonly d: RealtimeDeps,
  ) {}

  attach(socket: BoardSocket, state: LocalState): void {
    this.local.set(socket, state);
  }

  st(socket: BoardSocket): LocalState {
    return this.local.get(socket)!;
  }

  actor(socket: BoardSocket): Actor {
    return { viewer: socket.data.viewer, address: socket.data.address };
  }

  localSocketsIn(room: string): BoardSocket[] {
    const ids = this.io.sockets.adapter.rooms.get(room);
    if (!ids) return [];
    const out: BoardSocket[] = [];
    for (const id of ids) {
      const s = this.io.sockets.sockets.get(id);
      if (s) out.push(s);
    }
    return out;
  }
}

import { io, type Socket } from 'socket.io-client';
import {
  PROTOCOL_VERSION,
  ROOM_NAMESPACE,
  SOCKET_PATH,
  type RoomHandshakeAuth,
  type RoomServerToClientEvents,
  type RoomView,
} from '../../../shared/protocol.js';

/** Where the device keeps its link's token: this window only, gone when it closes. */
const TOKEN_KEY = 'casusbord-zaalscherm';
export const ROOM_HASH = '#/zaal';

/**
 * Takes a device link's token out of the address bar (a room screen is seen by everyone in the
 * room) into this window's storage, and gives the token this window holds.
 */
export function takeRoomToken(): string | null {
  const m = /^#\/zaal\/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(window.location.hash);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, m[1]!);
    history.replaceState(null, '', `${window.location.pathname}${ROOM_HASH}`);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export const isRoomScreen = (): boolean => window.location.hash === ROOM_HASH || window.location.hash.startsWith(`${ROOM_HASH}/`);

export type RoomStatus = 'verbinden' | 'live' | 'verbroken' | 'ongeldig' | 'verouderd';

/**
 * A room screen's connection (R-ROOM). It only listens. Whenever the connection is gone it shows
 * nothing: someone may have entered the room meanwhile whom the last view was not fit for.
 */
export class RoomScreenState {
  view = $state<RoomView | null>(null);
  status = $state<RoomStatus>('verbinden');
  #socket: Socket<RoomServerToClientEvents> | null = null;
  #retry: ReturnType<typeof setTimeout> | null = null;
  #attempt = 0;

  constructor(private readonly token: string | null) {}

  start(): void {
    if (!this.token) {
      this.status = 'ongeldig';
      return;
    }
    const auth: RoomHandshakeAuth = { protocolVersion: PROTOCOL_VERSION, token: this.token };
    const socket: Socket<RoomServerToClientEvents> = io(ROOM_NAMESPACE, { path: SOCKET_PATH, transports: ['websocket'], auth });
    this.#socket = socket;
    socket.on('room:view', (v) => {
      this.view = v;
      this.status = 'live';
      this.#attempt = 0;
    });
    socket.on('connect_error', (err) => {
      this.view = null;
      const code = (err as Error & { data?: { code?: string } }).data?.code;
      if (code === 'UNAUTHENTICATED') {
        this.status = 'ongeldig';
        socket.close();
      } else if (code === 'PROTOCOL_OUTDATED') {
        this.status = 'verouderd';
        socket.close();
      } else {
        this.status = 'verbroken';
        // Refused for now (the access log cannot be written): the client does not ask again by itself.
        if (!socket.active) this.#reconnectLater();
      }
    });
    socket.on('disconnect', (reason) => {
      this.view = null;
      this.status = 'verbroken';
      // The server ended it (its meeting closed, the log unwritable): ask again; a grant that no longer holds is refused.
      if (reason === 'io server disconnect') this.#reconnectLater();
    });
  }

  #reconnectLater(): void {
    if (this.#retry) return;
    const delay = Math.min(30_000, 1_000 * 2 ** this.#attempt++);
    this.#retry = setTimeout(() => {
      this.#retry = null;
      this.#socket?.connect();
    }, delay);
  }

  stop(): void {
    if (this.#retry) clearTimeout(this.#retry);
    this.#socket?.close();
    this.#socket = null;
  }
}

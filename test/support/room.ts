import { io, type Socket } from 'socket.io-client';
import type { MeetingId } from '../../shared/ids.js';
import { PROTOCOL_VERSION, ROOM_NAMESPACE, SOCKET_PATH, type RoomPersonView, type RoomServerToClientEvents, type RoomView } from '../../shared/protocol.js';
import type { TestClient } from './client.js';

/** A room screen (R-ROOM) as a device would run it: its device link's token only, no cookie. */
export class RoomScreenClient {
  readonly views: RoomView[] = [];
  private waiters: { pred: (v: RoomView) => boolean; resolve: (v: RoomView) => void; timer: NodeJS.Timeout; reject: (e: Error) => void }[] = [];

  private constructor(readonly socket: Socket<RoomServerToClientEvents>) {
    socket.on('room:view', (v) => {
      this.views.push(v);
      for (const w of [...this.waiters]) {
        if (!w.pred(v)) continue;
        clearTimeout(w.timer);
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve(v);
      }
    });
  }

  /** Connects; rejects with the handshake's error (its `data.code`) when refused. */
  static async connect(url: string, token: unknown, headers: Record<string, string> = {}): Promise<RoomScreenClient> {
    const socket: Socket<RoomServerToClientEvents> = io(`${url}${ROOM_NAMESPACE}`, {
      path: SOCKET_PATH,
      transports: ['websocket'],
      auth: { protocolVersion: PROTOCOL_VERSION, token },
      extraHeaders: headers,
      reconnection: false,
      forceNew: true,
    });
    const client = new RoomScreenClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (e) => {
        socket.close();
        reject(e);
      });
    });
    return client;
  }

  /** The first view (received from index `from` on, or still to come) that matches. */
  waitFor(pred: (v: RoomView) => boolean, from = 0, timeoutMs = 5000): Promise<RoomView> {
    const hit = this.views.slice(from).find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching room view; last: ${JSON.stringify(this.views.at(-1))}`)), timeoutMs);
      this.waiters.push({ pred, resolve, reject, timer });
    });
  }

  /** Resolves once the server ended the connection. */
  ended(): Promise<string> {
    if (!this.socket.connected) return Promise.resolve('closed');
    return new Promise((resolve) => this.socket.once('disconnect', (reason) => resolve(reason)));
  }

  close(): void {
    this.socket.close();
  }
}

/** A device link's token for a meeting's room screen, asked for by its chair. */
export async function screenToken(chair: TestClient, meetingId: MeetingId): Promise<string> {
  const r = await chair.http<{ token: string }>('POST', `/api/meetings/${meetingId}/screen`);
  if (r.status !== 201) throw new Error(`screen link: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.token;
}

/** Records, as its chair, that exactly these people are in a meeting's room: who enters and who leaves. */
export async function setRoom(chair: TestClient, meetingId: MeetingId, usernames: string[]): Promise<void> {
  const now = await chair.http<{ room: RoomPersonView[] }>('GET', `/api/meetings/${meetingId}/room`);
  if (now.status !== 200) throw new Error(`room: ${now.status} ${JSON.stringify(now.body)}`);
  const want = new Set(usernames.map((u) => `usr_${u}`));
  const there = new Set<string>(now.body.room.map((p) => p.userId));
  const change = { enter: [...want].filter((id) => !there.has(id)), leave: [...there].filter((id) => !want.has(id)) };
  if (change.enter.length + change.leave.length === 0) return;
  const r = await chair.http('POST', `/api/meetings/${meetingId}/room`, change);
  if (r.status !== 200) throw new Error(`room: ${r.status} ${JSON.stringify(r.body)}`);
}

import { io, type Socket } from 'socket.io-client';
import { PROTOCOL_VERSION, SOCKET_PATH, type Ack, type ClientToServerEvents, type CommandResults, type ServerToClientEvents } from '../../shared/protocol.js';
import { newCommandId, type CommandId } from '../../shared/ids.js';
import type { CommandInput, CommandName } from '../../shared/schemas.js';
import { DEMO_PASSWORD } from '../../server/seed/demo.js';

export { DEMO_PASSWORD };

/** Logs in over HTTP like the browser does and returns the session cookie. */
export async function login(url: string, username: string, password = DEMO_PASSWORD): Promise<string> {
  const res = await fetch(`${url}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${await res.text()}`);
  const set = res.headers.get('set-cookie') ?? '';
  const m = /cb_session=([^;]+)/.exec(set);
  if (!m) throw new Error('no session cookie');
  return `cb_session=${m[1]}`;
}

export interface Received {
  event: string;
  args: unknown[];
  /** Index in the order this client received messages. */
  seq: number;
  /** When it arrived (performance.now()). */
  at: number;
}

type Waiter = { pred: (r: Received) => boolean; resolve: (r: Received) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

/** A real socket.io-client user that records every message it receives. */
export class TestClient {
  readonly received: Received[] = [];
  private waiters: Waiter[] = [];
  private seq = 0;

  private constructor(
    readonly username: string,
    readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>,
    /** The server and the session cookie, for the HTTP API beside the socket. */
    readonly url: string,
    readonly cookie: string,
  ) {
    socket.onAny((event: string, ...args: unknown[]) => this.push({ event, args, seq: this.seq++, at: performance.now() }));
  }

  static async connect(url: string, username: string, cookie?: string, headers: Record<string, string> = {}): Promise<TestClient> {
    const c = cookie ?? (await login(url, username));
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, {
      path: SOCKET_PATH,
      transports: ['websocket'],
      auth: { protocolVersion: PROTOCOL_VERSION },
      extraHeaders: { cookie: c, ...headers },
      reconnection: false,
      forceNew: true,
    });
    const client = new TestClient(username, socket, url, c);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (e) => reject(e));
    });
    return client;
  }

  private push(r: Received): void {
    this.received.push(r);
    for (const w of [...this.waiters]) {
      if (w.pred(r)) {
        clearTimeout(w.timer);
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve(r);
      }
    }
  }

  /** Resolves with the first message (already received or still to come) that matches. */
  waitFor(pred: (r: Received) => boolean, timeoutMs = 10_000, fromSeq = 0): Promise<Received> {
    const hit = this.received.find((r) => r.seq >= fromSeq && pred(r));
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x.timer !== timer);
        reject(new Error(`${this.username}: waited ${timeoutMs} ms for a message where ${pred.toString()}`));
      }, timeoutMs);
      this.waiters.push({ pred, resolve, reject, timer });
    });
  }

  get nextSeq(): number {
    return this.seq;
  }

  /** A command with a fresh id, or with the given one (a retry, P-ONCE). */
  cmd<N extends CommandName>(name: N, input: CommandInput<N>, commandId: CommandId = newCommandId()): Promise<Ack<CommandResults[N]>> {
    return this.cmdAt(name, input, commandId).then((r) => r.ack);
  }

  /**
   * Also says where the answer sat among received messages: taken inside the ack callback, since
   * several frames can be handled in one turn before a promise continuation runs.
   */
  cmdAt<N extends CommandName>(name: N, input: CommandInput<N>, commandId: CommandId = newCommandId()): Promise<{ ack: Ack<CommandResults[N]>; seq: number }> {
    return new Promise((resolve, reject) => {
      (this.socket.timeout(10_000) as unknown as Socket).emit(name, { commandId, input }, (err: Error | null, ack: Ack<CommandResults[N]>) => {
        if (err) reject(err);
        else resolve({ ack, seq: this.seq });
      });
    });
  }

  /** A request to the HTTP API in this client's session: its status and JSON body. */
  async http<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: { cookie: this.cookie, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }

  /** Sends any input at all in a well-formed envelope, for bad-input tests. */
  raw(event: string, input: unknown): Promise<Ack<unknown>> {
    return this.rawArgs(event, { commandId: newCommandId(), input });
  }

  /** Sends any arguments at all, the envelope included. */
  rawArgs(event: string, ...args: unknown[]): Promise<Ack<unknown>> {
    return (this.socket.timeout(10_000) as unknown as Socket).emitWithAck(event, ...args) as Promise<Ack<unknown>>;
  }

  close(): void {
    this.socket.disconnect();
  }
}

import { io, type Socket } from 'socket.io-client';
import {
  type ClientToServerEvents,
  type CommandResults,
  type HandshakeAuth,
  PROTOCOL_VERSION,
  type ServerToClientEvents,
  SOCKET_PATH,
} from '../../../shared/protocol.js';
import { newCommandId, type CommandId } from '../../../shared/ids.js';
import { type CommandInput, type CommandName, CommandSchemas } from '../../../shared/schemas.js';
import { localError, type Result, toClientError } from './errors.js';

export type AppSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
export type ConnectionStatus = 'verbinden' | 'verbonden' | 'opnieuw verbinden';

export interface ConnectionHooks {
  /** Register the server-to-client listeners on a fresh socket. */
  bind(socket: AppSocket): void;
  /** Every successful (re)connect: the place to catch up. */
  onConnect(): void;
  onDisconnect(): void;
  /** The handshake was refused for want of a session. */
  onUnauthenticated(): void;
}

const ACK_TIMEOUT_MS = 10_000;
/** Retry delay after a refused handshake that socket.io does not retry by itself. */
const RETRY_MS = 3_000;

/** The live board's one socket: status for the banner, and typed commands with acks. */
export class Connection {
  status = $state<ConnectionStatus>('verbinden');
  /** The server speaks a newer protocol: only a reload helps. */
  outdated = $state(false);

  #socket: AppSocket | null = null;
  #retry: ReturnType<typeof setTimeout> | undefined;

  get connected(): boolean {
    return this.#socket?.connected ?? false;
  }

  start(hooks: ConnectionHooks): void {
    this.stop();
    this.status = 'verbinden';
    const auth: HandshakeAuth = { protocolVersion: PROTOCOL_VERSION };
    // Same origin; the HttpOnly session cookie authenticates the handshake.
    const socket: AppSocket = io({
      path: SOCKET_PATH,
      transports: ['websocket'],
      auth,
      forceNew: true,
      reconnectionDelayMax: 5_000,
    });
    this.#socket = socket;

    socket.on('connect', () => {
      this.status = 'verbonden';
      hooks.onConnect();
    });
    socket.on('disconnect', (reason) => {
      if (reason === 'io client disconnect') return;
      this.status = 'opnieuw verbinden';
      hooks.onDisconnect();
      // A server-side disconnect is not retried by socket.io; the handshake decides what comes next.
      if (reason === 'io server disconnect') this.#retryLater(socket);
    });
    socket.on('connect_error', (err) => {
      const code = err.message;
      if (code === 'UNAUTHENTICATED') {
        this.stop();
        hooks.onUnauthenticated();
        return;
      }
      if (code === 'PROTOCOL_OUTDATED') {
        this.outdated = true;
        this.stop();
        return;
      }
      this.status = 'opnieuw verbinden';
      // Refused by middleware (other than the above): socket.io stops; try again ourselves.
      if (!socket.active) this.#retryLater(socket);
    });
    hooks.bind(socket);
  }

  stop(): void {
    clearTimeout(this.#retry);
    this.#retry = undefined;
    const socket = this.#socket;
    this.#socket = null;
    if (socket) {
      socket.removeAllListeners();
      socket.disconnect();
    }
  }

  /**
   * Send a command and wait for its ack. Validated with the server's own schema first, never
   * buffered while offline (a late replay of an old command would surprise the user).
   */
  async send<N extends CommandName>(name: N, input: CommandInput<N>): Promise<Result<CommandResults[N]>> {
    const socket = this.#socket;
    if (!socket?.connected) return { ok: false, error: localError('OFFLINE') };
    const parsed = CommandSchemas[name].safeParse(input);
    if (!parsed.success) return { ok: false, error: localError('BAD_REQUEST') };
    // socket.io's typings cannot follow a generic event name; the event map above is the contract.
    const emit = socket.timeout(ACK_TIMEOUT_MS).emitWithAck as unknown as (
      this: AppSocket,
      ev: N,
      command: { commandId: CommandId; input: unknown },
    ) => Promise<unknown>;
    let raw: unknown;
    try {
      raw = await emit.call(socket, name, { commandId: newCommandId(), input: parsed.data });
    } catch {
      return { ok: false, error: localError(socket.connected ? 'TIMEOUT' : 'OFFLINE') };
    }
    if (raw && typeof raw === 'object' && 'ok' in raw) {
      const ack = raw as { ok: unknown; data?: unknown; error?: unknown };
      if (ack.ok === true) return { ok: true, data: ack.data as CommandResults[N] };
      return { ok: false, error: toClientError(ack.error) };
    }
    return { ok: false, error: localError('INTERNAL') };
  }

  #retryLater(socket: AppSocket): void {
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => {
      if (this.#socket === socket && !socket.connected) socket.connect();
    }, RETRY_MS);
  }
}


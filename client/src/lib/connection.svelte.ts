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
import { COMMAND_RESOLVE_MS } from '../../../shared/limits.js';
import { changesState, type CommandInput, type CommandName, CommandSchemas } from '../../../shared/schemas.js';
import { type ClientErrorCode, localError, type Result, toClientError } from './errors.js';
import { retryDelay } from './retry.js';

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
/** Between resends of a command whose outcome is unknown: from this, doubling up to the maximum. */
const RESEND_FIRST_MS = 500;
const RESEND_MAX_MS = 10_000;
/** A sent command without an answer, or with one that says its outcome is not known (P-ONCE). */
const UNKNOWN_OUTCOME: ReadonlySet<ClientErrorCode> = new Set(['OUTCOME_UNKNOWN', 'OFFLINE', 'TIMEOUT']);
/**
 * Answers to a resend that leave the first send's outcome as unknown as it was: this attempt
 * changed nothing, but the first may have. Any other answer settles the command. (UNAVAILABLE:
 * the server could not look the command up, its store being away.)
 */
const STILL_UNKNOWN: ReadonlySet<ClientErrorCode> = new Set([...UNKNOWN_OUTCOME, 'INTERNAL', 'RATE_LIMITED', 'UNAVAILABLE']);
const UNRESOLVED_TEXT = 'Het is niet gelukt na te gaan of uw wijziging is opgeslagen. Kijk op het bord of zij er staat voordat u het opnieuw probeert.';

/** The live board's one socket: status for the banner, and typed commands with acks. */
export class Connection {
  status = $state<ConnectionStatus>('verbinden');
  /** The server speaks a newer protocol: only a reload helps. */
  outdated = $state(false);
  /** The handshake was refused for now (the server's store or access log is away): tried again, with a growing wait. */
  unavailable = $state(false);
  /** Commands sent whose outcome is being found out by resending them (P-ONCE). */
  unsettled = $state(0);

  #socket: AppSocket | null = null;
  #retry: ReturnType<typeof setTimeout> | undefined;
  /** Refused handshakes in a row, for the growing wait between tries. */
  #refusals = 0;
  /** Told at every connect and stop: resends wait for one. (Not state: nothing shows it.) */
  #wake: (() => void)[] = [];
  /** Counts stops: a resend never crosses into another session (another user may log in). */
  #stops = 0;

  get connected(): boolean {
    return this.#socket?.connected ?? false;
  }

  start(hooks: ConnectionHooks): void {
    this.stop();
    this.status = 'verbinden';
    this.unavailable = false;
    this.#refusals = 0;
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
      this.unavailable = false;
      this.#refusals = 0;
      hooks.onConnect();
      this.#wakeAll();
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
      // Not "logged out": the session could not be looked up now, or no read can be logged.
      if (code === 'UNAVAILABLE') this.unavailable = true;
      // Refused by middleware (other than the above): socket.io stops; try again ourselves.
      if (!socket.active) this.#retryLater(socket);
    });
    hooks.bind(socket);
  }

  stop(): void {
    clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#stops++;
    this.#wakeAll();
    const socket = this.#socket;
    this.#socket = null;
    if (socket) {
      socket.removeAllListeners();
      socket.disconnect();
    }
  }

  /**
   * Send a command and wait for its ack. Validated with the server's own schema first, never
   * buffered while offline (a late replay of an old command would surprise the user). A command
   * that changes something gets its id here; when it was sent but its outcome is unknown (no
   * answer, a lost connection, OUTCOME_UNKNOWN), it is sent again with the same id until the
   * server says how it went: the first answer if it committed, a fresh run if it did not (P-ONCE).
   */
  async send<N extends CommandName>(name: N, input: CommandInput<N>): Promise<Result<CommandResults[N]>> {
    const socket = this.#socket;
    if (!socket?.connected) return { ok: false, error: localError('OFFLINE') };
    const parsed = CommandSchemas[name].safeParse(input);
    if (!parsed.success) return { ok: false, error: localError('BAD_REQUEST') };
    const commandId = newCommandId();
    const res = await this.#emit<N>(socket, name, commandId, parsed.data);
    if (res.ok || !changesState(name) || !UNKNOWN_OUTCOME.has(res.error.code)) return res;
    return this.#resolve<N>(name, commandId, parsed.data);
  }

  async #resolve<N extends CommandName>(name: N, commandId: CommandId, input: unknown): Promise<Result<CommandResults[N]>> {
    const until = Date.now() + COMMAND_RESOLVE_MS;
    const stops = this.#stops;
    this.unsettled++;
    try {
      for (let pause = RESEND_FIRST_MS; Date.now() < until; pause = Math.min(RESEND_MAX_MS, pause * 2)) {
        await new Promise((resolve) => setTimeout(resolve, pause));
        while (this.#stops === stops && !this.#socket?.connected && Date.now() < until) await this.#nextWake(until - Date.now());
        const socket = this.#socket;
        if (this.#stops !== stops || !socket?.connected) break;
        const res = await this.#emit<N>(socket, name, commandId, input);
        if (res.ok || !STILL_UNKNOWN.has(res.error.code)) return res;
      }
      return { ok: false, error: localError('OUTCOME_UNKNOWN', UNRESOLVED_TEXT) };
    } finally {
      this.unsettled--;
    }
  }

  #nextWake(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = this.#wake.filter((w) => w !== done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake.push(done);
    });
  }

  #wakeAll(): void {
    for (const w of [...this.#wake]) w();
  }

  async #emit<N extends CommandName>(socket: AppSocket, name: N, commandId: CommandId, input: unknown): Promise<Result<CommandResults[N]>> {
    // socket.io's typings cannot follow a generic event name; the event map above is the contract.
    const emit = socket.timeout(ACK_TIMEOUT_MS).emitWithAck as unknown as (
      this: AppSocket,
      ev: N,
      command: { commandId: CommandId; input: unknown },
    ) => Promise<unknown>;
    let raw: unknown;
    try {
      raw = await emit.call(socket, name, { commandId, input });
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
    }, retryDelay(this.#refusals++));
  }
}

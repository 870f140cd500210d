import readline from 'node:readline';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { newCommandId } from '../shared/ids.js';
import { UNAVAILABLE_FIRST_RETRY_MS, UNAVAILABLE_RETRY_AFTER_MS } from '../shared/limits.js';
import { PROTOCOL_VERSION, SOCKET_PATH, type Ack, type CasePatch, type OpenResult as CaseOpenResult } from '../shared/protocol.js';
import { connect } from './lib/setup.js';
import { epochMs, Histogram } from './lib/stats.js';
import type {
  BoardSocketSpec,
  CoeditSpec,
  FanoutSpec,
  FromGenerator,
  GeneratorSpec,
  OpenSpec,
  StepCommand,
  StepResult,
  StormResult,
  ToGenerator,
} from './lib/wire.js';

/**
 * A load generator: its own process, started by the harness. It reads a spec and then steps as
 * JSON lines on stdin and answers each with one JSON line on stdout. Latency is measured against
 * a wall clock every process on the machine shares (performance.timeOrigin + now), so a command
 * sent here may be timed at its arrival in another generator: the send time travels in the text.
 */

const out = (m: FromGenerator): void => void process.stdout.write(`${JSON.stringify(m)}\n`);
const log = (s: string): void => void process.stderr.write(`[gen] ${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** The board client's wait before trying again after UNAVAILABLE (client/src/lib/retry.ts). */
const retryDelay = (attempt: number): number =>
  Math.round(Math.min(UNAVAILABLE_FIRST_RETRY_MS * 2 ** attempt, UNAVAILABLE_RETRY_AFTER_MS) * (0.8 + Math.random() * 0.4));

/** Runs `fn` over `items` with at most `limit` running at once. */
async function pool<T>(items: T[], limit: number, fn: (t: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

interface StepStats {
  step: number;
  label: string;
  sent: number;
  acked: number;
  ackErrors: Record<string, number>;
  ack: Histogram;
  delivery: Histogram;
  deliveries: number;
  perCommand: Map<string, [number, number]>;
  otherMessages: number;
  firstSendAt: number | null;
  lastSendAt: number | null;
}

const newStats = (step: number, label: string): StepStats => ({
  step,
  label,
  sent: 0,
  acked: 0,
  ackErrors: {},
  ack: new Histogram(),
  delivery: new Histogram(),
  deliveries: 0,
  perCommand: new Map(),
  otherMessages: 0,
  firstSendAt: null,
  lastSendAt: null,
});

function result(s: StepStats, genId: string): StepResult {
  return {
    label: s.label,
    genId,
    sent: s.sent,
    acked: s.acked,
    ackErrors: s.ackErrors,
    ack: s.ack.toJSON(),
    delivery: s.delivery.toJSON(),
    deliveries: s.deliveries,
    perCommand: [...s.perCommand].map(([id, [n, max]]) => [id, n, +max.toFixed(3)]),
    otherMessages: s.otherMessages,
    firstSendAt: s.firstSendAt,
    lastSendAt: s.lastSendAt,
  };
}

function recordArrival(s: StepStats, commandId: string, latency: number): void {
  s.deliveries++;
  s.delivery.add(latency);
  const e = s.perCommand.get(commandId);
  if (e) {
    e[0]++;
    if (latency > e[1]) e[1] = latency;
  } else s.perCommand.set(commandId, [1, latency]);
}

// ---- the board: many Socket.IO viewers, one sender per case ----

interface BoardSocket {
  spec: BoardSocketSpec;
  socket: Socket;
  /** Closed loop: commands of this sender still on their way back to it. */
  inFlight: number;
  /** Closed loop: on its way to the next case (see `rotate`), or out of spare cases. */
  moving?: boolean;
  stopped?: boolean;
  /** A sender: items in its case (as `case:open` found them, and every command sent since). */
  items: number;
  /** A sender: the id of the last command it sent. */
  lastId?: string;
  /** Where its board stands: the cursor of the last view or patch (sent back as `since` on a reopen). */
  cursor: string;
}

class Fanout {
  private socks: BoardSocket[] = [];
  private stats: StepStats = newStats(-1, 'connect');
  private stepNo = -1;
  private seq = 0;
  private pad = '';

  constructor(private readonly spec: FanoutSpec) {}

  async connect(): Promise<void> {
    const t0 = performance.now();
    await pool(this.spec.sockets, this.spec.concurrency, async (s) => {
      const socket = io(s.url, {
        path: SOCKET_PATH,
        transports: ['websocket'],
        forceNew: true,
        reconnection: false,
        auth: { protocolVersion: PROTOCOL_VERSION },
        extraHeaders: s.cookie ? { cookie: s.cookie } : {},
      });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', (e) => reject(new Error(`connect: ${e.message}`)));
      });
      const b: BoardSocket = { spec: s, socket, inFlight: 0, items: 0, cursor: '' };
      socket.onAny((event: string) => {
        if (event !== 'case:patch') this.stats.otherMessages++;
      });
      socket.on('case:patch', (p: CasePatch) => this.onPatch(b, p));
      socket.on('disconnect', (reason) => {
        if (this.storming) this.onStormDown();
        else if (!closing) log(`socket disconnected: ${reason}`);
      });
      this.socks.push(b);
    });
    const connected = performance.now();
    await pool(this.socks, this.spec.concurrency, (b) => this.open(b, b.spec.caseId));
    log(`${this.socks.length} sockets connected in ${(connected - t0).toFixed(0)} ms, cases open after ${(performance.now() - t0).toFixed(0)} ms`);
    out({ type: 'ready', genId: this.spec.genId, connectMs: performance.now() - t0, sockets: this.socks.length });
  }

  private async open(b: BoardSocket, caseId: string): Promise<void> {
    const ack = (await b.socket.timeout(60_000).emitWithAck('case:open', { commandId: newCommandId(), input: { caseId } })) as Ack<CaseOpenResult>;
    if (!ack.ok) throw new Error(`case:open refused: ${ack.error.code}`);
    b.spec.caseId = caseId;
    b.items = 'view' in ack.data ? ack.data.view.items.length : 0;
    b.cursor = 'view' in ack.data ? ack.data.view.cursor : ack.data.patch.cursor;
  }

  // ---- the reconnect storm: the server restarts, every socket reconnects at once ----

  /** Set from `await-down` on: a disconnect is the restart, not a failure. */
  private storming = false;
  private downWaiter: (() => void) | null = null;

  private onStormDown(): void {
    if (this.downWaiter && this.socks.every((b) => !b.socket.connected)) this.downWaiter();
  }

  /** Resolves once every socket here has lost its server (which the harness is stopping). */
  async awaitDown(timeoutMs: number): Promise<void> {
    this.storming = true;
    if (this.socks.every((b) => !b.socket.connected)) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.socks.filter((b) => b.socket.connected).length} sockets still connected after ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.downWaiter = () => {
        clearTimeout(timer);
        this.downWaiter = null;
        resolve();
      };
    });
  }

  /**
   * Every socket connects again at the same moment and opens its case from its cursor, as the
   * board's client does after a reconnect: the time from `go` until each board is current.
   */
  async reconnect(timeoutMs: number): Promise<StormResult> {
    const go = epochMs();
    const current = new Histogram();
    const connected = new Histogram();
    const failures: Record<string, number> = {};
    let lastAt = go;
    let catchUpOps = 0;
    let views = 0;
    let retries = 0;
    const fail = (code: string): void => void (failures[code] = (failures[code] ?? 0) + 1);
    const deadline = go + timeoutMs;
    await Promise.all(
      this.socks.map(async (b) => {
        try {
          // The server could not serve now (UNAVAILABLE): tried again after the board client's wait.
          for (let attempt = 0; ; attempt++) {
            const code = await new Promise<string | null>((resolve, reject) => {
              const timer = setTimeout(() => reject(new Error('CONNECT_TIMEOUT')), Math.max(0, deadline - epochMs()));
              b.socket.once('connect', () => {
                clearTimeout(timer);
                resolve(null);
              });
              b.socket.once('connect_error', (e) => {
                clearTimeout(timer);
                resolve(e.message);
              });
              b.socket.connect();
            });
            if (code === null) break;
            b.socket.removeAllListeners('connect');
            if (code !== 'UNAVAILABLE') throw new Error(code);
            retries++;
            await sleep(retryDelay(attempt));
          }
          connected.add(epochMs() - go);
          let ack: Ack<CaseOpenResult>;
          for (let attempt = 0; ; attempt++) {
            const since = b.cursor ? { since: b.cursor } : {};
            ack = (await b.socket
              .timeout(Math.max(0, deadline - epochMs()))
              .emitWithAck('case:open', { commandId: newCommandId(), input: { caseId: b.spec.caseId, ...since } })) as Ack<CaseOpenResult>;
            if (ack.ok || ack.error.code !== 'UNAVAILABLE') break;
            retries++;
            await sleep(retryDelay(attempt));
          }
          if (!ack.ok) return fail(ack.error.code);
          const at = epochMs();
          current.add(at - go);
          if (at > lastAt) lastAt = at;
          if ('view' in ack.data) {
            views++;
            b.cursor = ack.data.view.cursor;
          } else {
            catchUpOps += ack.data.patch.ops.length;
            b.cursor = ack.data.patch.cursor;
          }
        } catch (e) {
          fail(e instanceof Error ? e.message.slice(0, 60) : String(e));
        }
      }),
    );
    this.storming = false;
    return {
      genId: this.spec.genId,
      sockets: this.socks.length,
      go,
      lastAt,
      connected: connected.toJSON(),
      current: current.toJSON(),
      failures,
      retries,
      views,
      catchUpOps,
    };
  }

  /** Resolves once command `id` reached `n` viewers here, or after `ms` (a delivery that never comes). */
  private delivered(id: string, n: number, ms: number): Promise<void> {
    if ((this.stats.perCommand.get(id)?.[0] ?? 0) >= n) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve();
      }, ms);
      this.waiting.set(id, {
        n,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  private readonly waiting = new Map<string, { n: number; done: () => void }>();

  private onPatch(b: BoardSocket, p: CasePatch): void {
    const now = epochMs();
    b.cursor = p.cursor;
    for (const op of p.ops) {
      if (op.op !== 'item') continue;
      const t = op.item.text;
      if (!t.startsWith('b|')) continue;
      const [, genId, step, seq, sentAt] = t.split('|', 5);
      if (b.spec.sender) {
        // The sender's own copy: not a delivery to another viewer, but it frees a closed-loop slot.
        if (genId === this.spec.genId && Number(step) === this.stepNo && b.inFlight > 0) {
          b.inFlight--;
          this.onFreed?.(b);
        }
        continue;
      }
      if (Number(step) !== this.stepNo) continue;
      const id = `${genId}:${step}:${seq}`;
      recordArrival(this.stats, id, now - Number(sentAt));
      const w = this.waiting.get(id);
      if (w && this.stats.perCommand.get(id)![0] >= w.n) {
        this.waiting.delete(id);
        w.done();
      }
    }
  }

  private onFreed: ((b: BoardSocket) => void) | null = null;

  private send(b: BoardSocket): void {
    const s = this.stats;
    const seq = this.seq++;
    const sentAt = epochMs();
    const head = `b|${this.spec.genId}|${this.stepNo}|${seq}|${sentAt.toFixed(3)}|`;
    if (this.pad.length === 0) this.pad = 'x'.repeat(Math.max(0, this.spec.textChars));
    const text = head + this.pad.slice(0, Math.max(1, this.spec.textChars - head.length));
    s.sent++;
    s.firstSendAt ??= sentAt;
    s.lastSendAt = sentAt;
    b.inFlight++;
    b.items++;
    b.lastId = `${this.spec.genId}:${this.stepNo}:${seq}`;
    b.socket
      .timeout(30_000)
      .emit(
        'item:add',
        { commandId: newCommandId(), input: { caseId: b.spec.caseId, phase: 'beeldvorming', text, visibility: { kind: 'table' } } },
        (err: Error | null, ack?: Ack<unknown>) => {
          if (s !== this.stats) return;
          if (err || !ack?.ok) {
            const code = err ? 'TIMEOUT' : ack!.ok ? 'OK' : ack!.error.code;
            s.ackErrors[code] = (s.ackErrors[code] ?? 0) + 1;
            if (b.inFlight > 0) b.inFlight--;
            this.onFreed?.(b);
            return;
          }
          s.acked++;
          s.ack.add(epochMs() - sentAt);
        },
      );
  }

  /**
   * The sockets of the sender's case leave it for the next spare case, once the viewers here have
   * the last command (on several processes a viewer's copy can come after the sender's own).
   * False when no spare case is left: the sender then stops.
   */
  private async moveOn(sender: BoardSocket, next: Record<string, string[]>): Promise<boolean> {
    const from = sender.spec.caseId;
    const to = next[from]?.shift();
    if (to === undefined) {
      log(`no spare case left after ${from}: its sender stops`);
      return false;
    }
    if (next[to] === undefined) next[to] = next[from]!;
    const sockets = this.socks.filter((b) => b.spec.caseId === from);
    if (sender.lastId) await this.delivered(sender.lastId, sockets.length - 1, 2_000);
    await Promise.all(
      sockets.map(async (b) => {
        const left = (await b.socket.timeout(60_000).emitWithAck('case:leave', { commandId: newCommandId(), input: { caseId: from } })) as Ack<unknown>;
        if (!left.ok) throw new Error(`case:leave refused: ${left.error.code}`);
        await this.open(b, to);
      }),
    );
    return true;
  }

  async step(cmd: StepCommand): Promise<StepResult> {
    this.stepNo++;
    this.stats = newStats(this.stepNo, cmd.label);
    const senders = this.socks.filter((b) => b.spec.sender);
    for (const b of senders) {
      b.inFlight = 0;
      b.stopped = false;
    }
    const t0 = performance.now();
    const end = t0 + cmd.durationMs;
    const timers: NodeJS.Timeout[] = [];
    if (cmd.mode === 'rate') {
      const interval = 1000 / (cmd.ratePerSender ?? 1);
      for (const b of senders) {
        // Absolute schedule with a random phase, so senders do not fire in lockstep and timer lag does not accumulate.
        let k = 0;
        const phase = Math.random() * interval;
        const tick = (): void => {
          const now = performance.now();
          // Catch up on missed ticks (an overloaded generator would otherwise hide load).
          while (t0 + phase + k * interval <= now && t0 + phase + k * interval < end) {
            this.send(b);
            k++;
          }
          const next = t0 + phase + k * interval;
          if (next < end) timers.push(setTimeout(tick, Math.max(0, next - performance.now())));
        };
        timers.push(setTimeout(tick, phase));
      }
    } else {
      const window = cmd.window ?? 1;
      const rotate = cmd.rotate;
      this.onFreed = (b) => {
        if (b.stopped || b.moving) return;
        if (rotate && b.items + window > rotate.limit) {
          // Full: once nothing is in flight, the case's sockets move on to the next case.
          if (b.inFlight > 0) return;
          b.moving = true;
          void this.moveOn(b, rotate.next).then((moved) => {
            b.moving = false;
            b.stopped = !moved;
            this.onFreed?.(b);
          });
          return;
        }
        while (b.inFlight < window && performance.now() < end && b.socket.connected) this.send(b);
      };
      for (const b of senders) this.onFreed(b);
    }
    await sleep(cmd.durationMs);
    for (const t of timers) clearTimeout(t);
    this.onFreed = null;
    await sleep(cmd.drainMs);
    return result(this.stats, this.spec.genId);
  }

  close(): void {
    for (const b of this.socks) b.socket.disconnect();
  }
}

// ---- co-editing: y-websocket providers on one document ----

class Coedit {
  private providers: { p: WebsocketProvider; doc: Y.Doc; writer: boolean }[] = [];
  private readonly sentAt = new Map<string, number>();
  private stats: StepStats = newStats(-1, 'connect');

  constructor(private readonly spec: CoeditSpec) {}

  private make(serverUrl: string, cookie: string | undefined, writer: boolean): void {
    const doc = new Y.Doc();
    class WithCookie extends WebSocket {
      constructor(u: string, protocols?: string | string[]) {
        super(u, protocols, { headers: cookie ? { cookie } : {} });
      }
    }
    const p = new WebsocketProvider(serverUrl, this.spec.room, doc, {
      WebSocketPolyfill: WithCookie as unknown as typeof globalThis.WebSocket,
      disableBc: true,
      maxBackoffTime: 500,
    });
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== p) return;
      const now = epochMs();
      for (const s of Y.decodeUpdate(update).structs) {
        if (!(s instanceof Y.Item)) continue;
        for (let c = s.id.clock; c < s.id.clock + s.length; c++) {
          const id = `${s.id.client}:${c}`;
          const at = this.sentAt.get(id);
          if (at !== undefined) recordArrival(this.stats, id, now - at);
        }
      }
    });
    this.providers.push({ p, doc, writer });
  }

  async connect(): Promise<void> {
    const t0 = performance.now();
    for (const w of this.spec.writers) this.make(w.serverUrl, w.cookie, true);
    for (const r of this.spec.readers) this.make(r.serverUrl, r.cookie, false);
    await Promise.all(
      this.providers.map(
        ({ p }) =>
          new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('co-editing provider did not sync in 30 s')), 30_000);
            const done = (): void => {
              clearTimeout(timer);
              resolve();
            };
            if (p.synced) return done();
            p.on('sync', (s: boolean) => s && done());
          }),
      ),
    );
    out({ type: 'ready', genId: this.spec.genId, connectMs: performance.now() - t0, sockets: this.providers.length });
  }

  private keystroke(doc: Y.Doc): void {
    const text = doc.getText('text');
    const clock = Y.getState(doc.store, doc.clientID);
    const at = epochMs();
    this.sentAt.set(`${doc.clientID}:${clock}`, at);
    this.stats.sent++;
    this.stats.acked++;
    this.stats.firstSendAt ??= at;
    this.stats.lastSendAt = at;
    text.insert(Math.floor(Math.random() * (text.length + 1)), 'a');
  }

  async step(cmd: StepCommand): Promise<StepResult> {
    this.stats = newStats(0, cmd.label);
    this.sentAt.clear();
    const interval = 1000 / (cmd.ratePerSender ?? 10);
    const t0 = performance.now();
    const end = t0 + cmd.durationMs;
    const timers: NodeJS.Timeout[] = [];
    for (const { doc } of this.providers.filter((x) => x.writer)) {
      let k = 0;
      const phase = Math.random() * interval;
      const tick = (): void => {
        const now = performance.now();
        while (t0 + phase + k * interval <= now && t0 + phase + k * interval < end) {
          this.keystroke(doc);
          k++;
        }
        const next = t0 + phase + k * interval;
        if (next < end) timers.push(setTimeout(tick, Math.max(0, next - performance.now())));
      };
      timers.push(setTimeout(tick, phase));
    }
    await sleep(cmd.durationMs);
    for (const t of timers) clearTimeout(t);
    await sleep(cmd.drainMs);
    return result(this.stats, this.spec.genId);
  }

  close(): void {
    for (const { p, doc } of this.providers) {
      p.destroy();
      doc.destroy();
    }
  }
}

// ---- opening a big board ----

async function opens(spec: OpenSpec): Promise<void> {
  const res: { label: string; ms: number[]; bytes: number; items: number }[] = [];
  for (const { label, cookie } of spec.cookies) {
    const socket = await connect(spec.url, cookie);
    const entry = { label, ms: [] as number[], bytes: 0, items: 0 };
    for (let i = 0; i < spec.repeats; i++) {
      const t0 = performance.now();
      const ack = (await socket.timeout(60_000).emitWithAck('case:open', { commandId: newCommandId(), input: { caseId: spec.caseId } })) as Ack<CaseOpenResult>;
      entry.ms.push(+(performance.now() - t0).toFixed(3));
      if (!ack.ok) throw new Error(`case:open refused: ${ack.error.code}`);
      if (i === 0 && 'view' in ack.data) {
        entry.bytes = Buffer.byteLength(JSON.stringify(ack.data));
        entry.items = ack.data.view.items.length;
      }
      await socket.timeout(60_000).emitWithAck('case:leave', { commandId: newCommandId(), input: { caseId: spec.caseId } });
    }
    socket.disconnect();
    res.push(entry);
  }
  out({ type: 'open', result: { genId: spec.genId, opens: res } });
}

// ---- the line protocol ----

let closing = false;
let current: Fanout | Coedit | null = null;
let genId = '?';

async function handle(m: ToGenerator): Promise<void> {
  if (m.type === 'spec') {
    const spec: GeneratorSpec = m.spec;
    genId = spec.genId;
    if (spec.kind === 'fanout') await (current = new Fanout(spec)).connect();
    else if (spec.kind === 'coedit') await (current = new Coedit(spec)).connect();
    else await opens(spec);
  } else if (m.type === 'step') {
    if (!current) throw new Error('step before spec');
    out({ type: 'step', result: await current.step(m) });
  } else if (m.type === 'await-down' || m.type === 'reconnect') {
    if (!(current instanceof Fanout)) throw new Error(`${m.type} without board sockets`);
    if (m.type === 'await-down') {
      await current.awaitDown(m.timeoutMs);
      out({ type: 'down', genId });
    } else out({ type: 'reconnected', result: await current.reconnect(m.timeoutMs) });
  } else {
    closing = true;
    current?.close();
    setTimeout(() => process.exit(0), 200).unref();
  }
}

const fail = (e: unknown): void => {
  out({ type: 'error', genId, message: e instanceof Error ? e.message : String(e) });
  process.exit(1);
};
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);
// The harness going away (its stdin closing) ends the generator too.
const rl = readline.createInterface({ input: process.stdin });
let chain = Promise.resolve();
rl.on('line', (line) => {
  if (!line.trim()) return;
  const m = JSON.parse(line) as ToGenerator;
  chain = chain.then(() => handle(m)).catch(fail);
});
rl.on('close', () => process.exit(0));

import type { HistogramJson } from './stats.js';

/**
 * What the harness and a load generator say to each other: one JSON object a line, harness →
 * generator on stdin, generator → harness on stdout (progress goes to stderr).
 */

/** One board socket: which server process, whose session, which case it has open. */
export interface BoardSocketSpec {
  url: string;
  /** Session cookie; absent for the baseline, which checks nobody. */
  cookie?: string;
  caseId: string;
  /** This socket sends the case's commands (one sender per case). */
  sender: boolean;
}

export interface FanoutSpec {
  kind: 'fanout';
  genId: string;
  sockets: BoardSocketSpec[];
  /** Characters of item text in every command (the marker included). */
  textChars: number;
  /** Sockets connecting (and cases opening) at once in this generator. */
  concurrency: number;
}

export interface CoeditSpec {
  kind: 'coedit';
  genId: string;
  room: string;
  /** Each provider: the ws:// base it appends the room to (one server process), and whose session. */
  writers: { serverUrl: string; cookie?: string }[];
  readers: { serverUrl: string; cookie?: string }[];
}

export interface OpenSpec {
  kind: 'open';
  genId: string;
  url: string;
  cookies: { label: string; cookie: string }[];
  caseId: string;
  repeats: number;
}

export type GeneratorSpec = FanoutSpec | CoeditSpec | OpenSpec;

/** One measured period. `rate`: each sender sends at a fixed rate (open loop); `closed`: each keeps `window` commands in flight. */
export interface StepCommand {
  type: 'step';
  label: string;
  mode: 'rate' | 'closed';
  /** Commands (or keystrokes) per second per sender (writer). */
  ratePerSender?: number;
  window?: number;
  durationMs: number;
  /** How long after the last send deliveries are still counted. */
  drainMs: number;
  /**
   * Closed loop only: before a sender's case would hold more than `limit` items, its sockets in this
   * generator (all of the case's) leave it and open the next case of `next[caseId]`. A closed loop
   * on one case otherwise fills it up to the limit of items a case may hold.
   */
  rotate?: { limit: number; next: Record<string, string[]> };
}

export type ToGenerator =
  | { type: 'spec'; spec: GeneratorSpec }
  | StepCommand
  /** The reconnect storm: answered once every board socket has lost its server (the harness stops it). */
  | { type: 'await-down'; timeoutMs: number }
  /** The reconnect storm: every board socket connects again at once and opens its case from its cursor. */
  | { type: 'reconnect'; timeoutMs: number }
  | { type: 'close' };

export interface StepResult {
  label: string;
  genId: string;
  /** Commands sent, and answered by the server. */
  sent: number;
  acked: number;
  ackErrors: Record<string, number>;
  /** Send to ack (the durable commit for Casusbord). */
  ack: HistogramJson;
  /** Send to arrival at a viewer other than the sender, one sample per delivery. */
  delivery: HistogramJson;
  deliveries: number;
  /** Per command seen here: [commandId, deliveries, latest arrival in ms after sending]. */
  perCommand: [string, number, number][];
  /** Messages of other kinds received (presence, case lists), for the record. */
  otherMessages: number;
  /** Send times of the first and last command sent here (epoch ms). */
  firstSendAt: number | null;
  lastSendAt: number | null;
}

/** What one generator saw of a reconnect storm. Times in ms after `go`, the moment it let every socket connect. */
export interface StormResult {
  genId: string;
  sockets: number;
  /** Epoch ms: when its sockets were let go, and when the last of them had its case open again. */
  go: number;
  lastAt: number;
  /** Per socket: connected again; its case open again and caught up (the `case:open` ack). */
  connected: HistogramJson;
  current: HistogramJson;
  /** Sockets that did not get there, by error code; tries again after UNAVAILABLE (connecting or opening). */
  failures: Record<string, number>;
  retries: number;
  /** Reopens answered with a whole board rather than a patch from the cursor, and the ops in those patches. */
  views: number;
  catchUpOps: number;
}

export interface OpenResult {
  genId: string;
  /** Per viewer label: ack times of `case:open` in ms, and the size of the answer. */
  opens: { label: string; ms: number[]; bytes: number; items: number }[];
}

export type FromGenerator =
  | { type: 'ready'; genId: string; connectMs: number; sockets: number }
  | { type: 'step'; result: StepResult }
  | { type: 'open'; result: OpenResult }
  | { type: 'down'; genId: string }
  | { type: 'reconnected'; result: StormResult }
  | { type: 'error'; genId: string; message: string };

import { config } from './config.js';
import { Generator, runOpen, stepAll } from './generators.js';
import { CpuMeter, rssBytes, settle, sleep } from './procs.js';
import { idleRss, STOP_GRACE_MS, type System } from './servers.js';
import { SENDER, VIEWERS, WRITERS, USERS, type Cookies, type Family } from './setup.js';
import { Histogram, summarise, type LatencySummary } from './stats.js';
import { MAX_ITEMS_PER_CASE } from '../../shared/limits.js';
import type { BoardSocketSpec, FanoutSpec, StepCommand, StepResult } from './wire.js';

export type SystemName = 'baseline' | 'sqlite' | 'redis' | 'reference';
export type ScenarioName = 'one-to-one' | 'one-case' | 'many-cases' | 'coedit' | 'board' | 'reconnect';

export interface StepMetrics {
  label: string;
  mode: 'rate' | 'closed';
  /** Offered load (rate mode), commands per second over all senders. */
  offeredPerSecond: number | null;
  sent: number;
  acked: number;
  ackErrors: Record<string, number>;
  commandsPerSecond: number;
  deliveriesPerSecond: number;
  /** Send → arrival at one viewer other than the sender; one sample per delivery. */
  delivery: LatencySummary;
  /** Send → arrival at the last of the entitled viewers; one sample per command that reached all. */
  allViewers: LatencySummary;
  /** Send → ack: the durable commit for Casusbord. */
  ack: LatencySummary;
  /** Deliveries that arrived, of those expected. */
  completeness: number;
  /** Server processes (summed), Redis apart. */
  cpuPercent: number;
  cpuMsPerCommand: number | null;
  /** Server CPU per connected participant: µs of CPU per second. */
  cpuUsPerParticipantSecond: number | null;
  redisCpuPercent: number | null;
  /** The load generators (summed): near 100 % pinned, they, not the server, bound the step. */
  generatorCpuPercent: number | null;
}

export interface ScenarioResult {
  scenario: ScenarioName;
  system: SystemName;
  pinning: string;
  participants: number;
  cases: number;
  generators: number;
  connectSeconds: number | null;
  /** After connecting: how long the server(s) stayed busy (presence of everyone who opened); null: still busy at the limit. */
  settleSeconds?: number | null;
  steps: StepMetrics[];
  memory?: { baseRssBytes: number; idleRssBytes: number; perParticipantBytes: number; afterLoadRssBytes: number; redisRssBytes: number | null };
  capacity?: { limitMs: number; largestPassingPerSecond: number | null; firstFailingPerSecond: number | null; allPassed: boolean };
  board?: { items: number; opens: { viewer: string; items: number; bytes: number; p50: number; p95: number; max: number }[] };
  storm?: StormMetrics;
  error?: string;
}

/** The reconnect storm: the server(s) restarted, then every socket let go at once. */
export interface StormMetrics {
  sockets: number;
  /** SIGTERM until every server process had exited; then until each listened again (starting, loading its data). */
  stopSeconds: number;
  startSeconds: number;
  /** From letting every socket go until the last board was current; null when some never were. */
  allCurrentMs: number | null;
  /** Per socket, from letting go: connected again; its case open again from its cursor. */
  connected: LatencySummary;
  current: LatencySummary;
  failures: Record<string, number>;
  /** Tries again after UNAVAILABLE (the server could not serve then), as the board client makes them. */
  retries: number;
  /** Reopens answered with a whole board instead of a patch from the cursor; ops in those patches. */
  views: number;
  catchUpOps: number;
}

const round = (v: number, d = 1): number => +v.toFixed(d);

/** Merges what every generator saw of one step into the figures of the step. */
interface Meters {
  server: CpuMeter;
  redis: CpuMeter | null;
  generators: CpuMeter | null;
}

type Reading = ReturnType<CpuMeter['read']>;

function meters(sys: System, gens: Generator[]): Meters {
  return {
    server: new CpuMeter(sys.servers.map((p) => p.pid)),
    redis: sys.redis.length > 0 ? new CpuMeter(sys.redis.map((p) => p.pid)) : null,
    generators: gens.length ? new CpuMeter(gens.map((g) => g.proc.pid)) : null,
  };
}

/**
 * Runs a step, reading the meters also when its load stops: the CPU columns give the share of a
 * core while the load ran (averaged over the drain as well, a closed loop that filled its core
 * read as 64 %). CPU per command still counts the drain, where the step's last commands finish.
 */
async function measured<T>(m: Meters, durationMs: number, step: () => Promise<T>): Promise<{ results: T; during: Record<keyof Meters, Reading | null> }> {
  let during: Record<keyof Meters, Reading | null> | null = null;
  const read = (): Record<keyof Meters, Reading | null> => ({
    server: m.server.read(),
    redis: m.redis?.read() ?? null,
    generators: m.generators?.read() ?? null,
  });
  const timer = setTimeout(() => (during = read()), durationMs);
  const results = await step();
  clearTimeout(timer);
  return { results, during: during ?? read() };
}

function metrics(
  results: StepResult[],
  cmd: StepCommand,
  expectedPerCommand: number,
  offered: number | null,
  m: Meters,
  during: Record<keyof Meters, Reading | null>,
  participants: number,
): StepMetrics {
  const cpu = m.server;
  const delivery = new Histogram();
  const ack = new Histogram();
  const perCommand = new Map<string, [number, number]>();
  let sent = 0;
  let acked = 0;
  let deliveries = 0;
  const ackErrors: Record<string, number> = {};
  for (const r of results) {
    sent += r.sent;
    acked += r.acked;
    deliveries += r.deliveries;
    delivery.merge(r.delivery);
    ack.merge(r.ack);
    for (const [k, v] of Object.entries(r.ackErrors)) ackErrors[k] = (ackErrors[k] ?? 0) + v;
    for (const [id, n, max] of r.perCommand) {
      const e = perCommand.get(id);
      if (e) {
        e[0] += n;
        e[1] = Math.max(e[1], max);
      } else perCommand.set(id, [n, max]);
    }
  }
  const all = new Histogram();
  for (const [n, max] of perCommand.values()) if (n >= expectedPerCommand) all.add(max);
  const seconds = cmd.durationMs / 1000;
  const used = cpu.read();
  const share = (r: Reading | null): number | null => (r ? (r.cpuSeconds / r.wallSeconds) * 100 : null);
  const cpuPercent = share(during.server)!;
  return {
    label: cmd.label,
    mode: cmd.mode,
    offeredPerSecond: offered,
    sent,
    acked,
    ackErrors,
    commandsPerSecond: round(acked / seconds),
    deliveriesPerSecond: round(deliveries / seconds),
    delivery: summarise(delivery),
    allViewers: summarise(all),
    ack: summarise(ack),
    completeness: sent === 0 ? 0 : round(deliveries / (sent * expectedPerCommand), 4),
    cpuPercent: round(cpuPercent),
    cpuMsPerCommand: acked > 0 ? round((used.cpuSeconds * 1000) / acked, 3) : null,
    cpuUsPerParticipantSecond: participants > 0 ? round((cpuPercent * 1e4) / participants) : null,
    redisCpuPercent: during.redis ? round(share(during.redis)!) : null,
    generatorCpuPercent: during.generators ? round(share(during.generators)!) : null,
  };
}

export interface FanoutPlan {
  scenario: ScenarioName;
  system: SystemName;
  pinned: boolean;
  sys: System;
  /** Case i is seated by family i % families.length (null: the baseline, which checks nobody). */
  families: Family[] | null;
  caseIds: string[];
  /** Sockets per case, the sender included. */
  socketsPerCase: number;
  generators: number;
  /** Steps at a fixed rate per sender, then closed loop, then (optionally) the capacity curve. */
  rates: { label: string; perSender: number }[];
  closedWindow: number | null;
  /**
   * Spare cases the closed loop moves on to as it fills one (see `StepCommand.rotate`): one case
   * and one generator only, which then holds all of the case's sockets.
   */
  closedLoopSpares?: () => Promise<string[]>;
  capacity: number[] | null;
  measureMemory: boolean;
  /** After the steps: restart the server(s), and every socket reconnects at once (the reconnect storm). */
  storm?: boolean;
  /** Leave the system running for another scenario (only for a handful of sockets). */
  keepSystem?: boolean;
}

/** How long a socket may take to connect and have its case open again in the storm. */
const STORM_TIMEOUT_MS = 120_000;

/**
 * The reconnect storm: the server(s) stop as in a deploy and start again on the same ports, and
 * once they listen every socket connects at the same moment and opens its case from its cursor
 * (`since`), as the board's client does on reconnecting: how long until every board is current.
 */
async function reconnectStorm(sys: System, gens: Generator[]): Promise<StormMetrics> {
  const down = Promise.all(gens.map((g) => g.awaitDown(STOP_GRACE_MS + 30_000)));
  const { stopMs, startMs } = await sys.restart();
  await down;
  log(`server(s) stopped in ${(stopMs / 1000).toFixed(1)} s and listening again after ${(startMs / 1000).toFixed(1)} s more`);
  const results = await Promise.all(gens.map((g) => g.reconnect(STORM_TIMEOUT_MS)));
  const connected = new Histogram();
  const current = new Histogram();
  const failures: Record<string, number> = {};
  let views = 0;
  let catchUpOps = 0;
  let retries = 0;
  for (const r of results) {
    retries += r.retries;
    connected.merge(r.connected);
    current.merge(r.current);
    for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + v;
    views += r.views;
    catchUpOps += r.catchUpOps;
  }
  const sockets = results.reduce((n, r) => n + r.sockets, 0);
  const go = Math.min(...results.map((r) => r.go));
  const allCurrentMs = current.n === sockets ? Math.max(...results.map((r) => r.lastAt)) - go : null;
  const m: StormMetrics = {
    sockets,
    stopSeconds: round(stopMs / 1000, 2),
    startSeconds: round(startMs / 1000, 2),
    allCurrentMs: allCurrentMs === null ? null : round(allCurrentMs, 1),
    connected: summarise(connected),
    current: summarise(current),
    failures,
    retries,
    views,
    catchUpOps,
  };
  log(
    `${current.n} of ${sockets} boards current again, the last after ${m.allCurrentMs ?? '–'} ms (p50 ${m.current.p50} ms); ${retries} tries again after UNAVAILABLE; failures ${JSON.stringify(failures)}`,
  );
  return m;
}

const log = (s: string): void => console.error(`    ${s}`);

/** P participants over M cases, one sender per case: the board scenarios. */
export async function fanout(plan: FanoutPlan): Promise<ScenarioResult> {
  const { sys, caseIds, socketsPerCase } = plan;
  const participants = caseIds.length * socketsPerCase;
  const result: ScenarioResult = {
    scenario: plan.scenario,
    system: plan.system,
    pinning: plan.pinned ? 'pinned' : 'unpinned',
    participants,
    cases: caseIds.length,
    generators: plan.generators,
    connectSeconds: null,
    steps: [],
  };
  const specs: FanoutSpec[] = Array.from({ length: plan.generators }, (_, g) => ({
    kind: 'fanout',
    genId: `g${g}`,
    sockets: [],
    textChars: config.textChars,
    concurrency: config.concurrency,
  }));
  let n = 0;
  for (const [c, caseId] of caseIds.entries()) {
    const cookies = plan.families ? plan.families[c % plan.families.length]!.cookies : null;
    for (let k = 0; k < socketsPerCase; k++, n++) {
      const user = k === 0 ? SENDER : VIEWERS[(k - 1) % VIEWERS.length]!;
      const s: BoardSocketSpec = { url: sys.urls[n % sys.urls.length]!, caseId, sender: k === 0, ...(cookies ? { cookie: cookies[user] } : {}) };
      specs[n % plan.generators]!.sockets.push(s);
    }
  }
  const serverPids = sys.servers.map((p) => p.pid);
  const gens: Generator[] = [];
  try {
    const baseRss = plan.measureMemory ? await idleRss(sys) : 0;
    const t0 = performance.now();
    const started = await Promise.all(specs.map((spec) => Generator.start(spec, plan.pinned)));
    gens.push(...started.map((s) => s.gen));
    result.connectSeconds = round((performance.now() - t0) / 1000, 2);
    const quiet = await settle([...serverPids, ...sys.redis.map((p) => p.pid)], config.settleMaxMs);
    result.settleSeconds = quiet === null ? null : round(quiet, 1);
    log(
      `${participants} participants on ${caseIds.length} case(s) connected in ${result.connectSeconds} s; server quiet after ${quiet === null ? `more than ${config.settleMaxMs / 1000}` : result.settleSeconds} s more`,
    );
    if (plan.measureMemory) {
      await sleep(config.idleMs);
      const idle = await idleRss(sys);
      result.memory = {
        baseRssBytes: baseRss,
        idleRssBytes: idle,
        perParticipantBytes: Math.round((idle - baseRss) / participants),
        afterLoadRssBytes: 0,
        redisRssBytes: sys.redis.length > 0 ? sys.redis.reduce((n, p) => n + rssBytes(p.pid), 0) : null,
      };
    }
    const expected = socketsPerCase - 1;
    const run = async (cmd: StepCommand, offered: number | null): Promise<StepMetrics> => {
      const mt = meters(sys, gens);
      const { results, during } = await measured(mt, cmd.durationMs, () => stepAll(gens, cmd));
      const m = metrics(results, cmd, expected, offered, mt, during, participants);
      log(
        `${cmd.label}: ${m.commandsPerSecond} cmd/s, ${m.deliveriesPerSecond} deliveries/s, p50 ${m.delivery.p50} p99 ${m.delivery.p99} ms, complete ${m.completeness}, cpu ${m.cpuPercent} % (generators ${m.generatorCpuPercent} %)`,
      );
      result.steps.push(m);
      return m;
    };
    const warmupMs = plan.measureMemory ? Math.max(config.warmupMs, config.warmupAfterGcMs) : config.warmupMs;
    if (warmupMs > 0 && plan.rates[0]) {
      await stepAll(gens, {
        type: 'step',
        label: 'warm-up',
        mode: 'rate',
        ratePerSender: plan.rates[0].perSender,
        durationMs: warmupMs,
        drainMs: config.drainMs,
      });
    }
    for (const r of plan.rates) {
      await run(
        { type: 'step', label: r.label, mode: 'rate', ratePerSender: r.perSender, durationMs: config.stepMs, drainMs: config.drainMs },
        r.perSender * caseIds.length,
      );
    }
    if (plan.capacity) {
      const limit = config.manyCases.capacityLimitMs;
      const cap = { limitMs: limit, largestPassingPerSecond: null as number | null, firstFailingPerSecond: null as number | null, allPassed: true };
      for (const perCase of plan.capacity) {
        const offered = round(perCase * caseIds.length, 2);
        const m = await run(
          {
            type: 'step',
            label: `capacity ${offered} cmd/s`,
            mode: 'rate',
            ratePerSender: perCase,
            durationMs: config.manyCases.capacityStepMs,
            drainMs: config.drainMs,
          },
          offered,
        );
        const pass = m.delivery.p99 !== null && m.delivery.p99 < limit && m.completeness >= 0.99 && Object.keys(m.ackErrors).length === 0;
        if (!pass) {
          cap.firstFailingPerSecond = offered;
          cap.allPassed = false;
          break;
        }
        cap.largestPassingPerSecond = offered;
      }
      result.capacity = cap;
    }
    if (plan.closedWindow !== null) {
      // What a failed capacity step left queued is not this step's load.
      await settle([...serverPids, ...sys.redis.map((p) => p.pid)], 15_000);
      let rotate: StepCommand['rotate'];
      if (plan.closedLoopSpares) {
        if (caseIds.length !== 1 || gens.length !== 1) throw new Error('spare cases need one case and one generator');
        rotate = { limit: MAX_ITEMS_PER_CASE, next: { [caseIds[0]!]: await plan.closedLoopSpares() } };
      }
      await run(
        {
          type: 'step',
          label: `closed loop, ${plan.closedWindow} in flight per case`,
          mode: 'closed',
          window: plan.closedWindow,
          durationMs: config.stepMs,
          drainMs: 2 * config.drainMs,
          ...(rotate ? { rotate } : {}),
        },
        null,
      );
    }
    if (plan.measureMemory && result.memory) result.memory.afterLoadRssBytes = sys.servers.reduce((s, p) => s + rssBytes(p.pid), 0);
    if (plan.storm) {
      await settle([...sys.servers.map((p) => p.pid), ...sys.redis.map((p) => p.pid)], config.settleMaxMs);
      result.storm = await reconnectStorm(sys, gens);
    }
  } catch (e) {
    result.error = e instanceof Error ? e.message.slice(0, 2000) : String(e);
    log(`FAILED: ${result.error}`);
  } finally {
    // The server first: closing thousands of sockets one by one would only make it busy with presence.
    if (!plan.keepSystem) await sys.stop();
    await Promise.all(gens.map((g) => g.close()));
  }
  return result;
}

/** Keystroke to peer on one document: W writers, R readers, one generator. */
export async function coedit(opts: {
  system: SystemName;
  pinned: boolean;
  sys: System;
  /** ws:// base of each server process (the provider appends the room). */
  serverUrls: string[];
  room: string;
  cookies: Cookies | null;
}): Promise<ScenarioResult> {
  const { writers, readers, keysPerSecond, stepMs } = config.coedit;
  const result: ScenarioResult = {
    scenario: 'coedit',
    system: opts.system,
    pinning: opts.pinned ? 'pinned' : 'unpinned',
    participants: writers + readers,
    cases: 1,
    generators: 1,
    connectSeconds: null,
    steps: [],
  };
  let i = 0;
  const conn = (user: string): { serverUrl: string; cookie?: string } => ({
    serverUrl: opts.serverUrls[i++ % opts.serverUrls.length]!,
    ...(opts.cookies ? { cookie: opts.cookies[user as keyof Cookies] } : {}),
  });
  let gen: Generator | null = null;
  try {
    const t0 = performance.now();
    gen = (
      await Generator.start(
        {
          kind: 'coedit',
          genId: 'c0',
          room: opts.room,
          writers: Array.from({ length: writers }, (_, w) => conn(WRITERS[w % WRITERS.length]!)),
          readers: Array.from({ length: readers }, (_, r) => conn(USERS[r % USERS.length]!)),
        },
        opts.pinned,
      )
    ).gen;
    result.connectSeconds = round((performance.now() - t0) / 1000, 2);
    const cmd: StepCommand = {
      type: 'step',
      label: `${writers} writers × ${keysPerSecond} keys/s, ${readers} readers`,
      mode: 'rate',
      ratePerSender: keysPerSecond,
      durationMs: stepMs,
      drainMs: config.drainMs,
    };
    const g = gen;
    const mt = meters(opts.sys, [g]);
    const { results, during } = await measured(mt, cmd.durationMs, () => g.step(cmd));
    const m = metrics([results], cmd, writers + readers - 1, writers * keysPerSecond, mt, during, writers + readers);
    log(`${cmd.label}: ${m.commandsPerSecond} keys/s, p50 ${m.delivery.p50} p99 ${m.delivery.p99} ms, complete ${m.completeness}, cpu ${m.cpuPercent} %`);
    result.steps.push(m);
  } catch (e) {
    result.error = e instanceof Error ? e.message.slice(0, 2000) : String(e);
    log(`FAILED: ${result.error}`);
  } finally {
    await gen?.close();
  }
  return result;
}

/** Time to open (the `case:open` ack) a case with many items, for two viewers who see different parts. */
export async function boardLoad(opts: {
  system: SystemName;
  pinned: boolean;
  sys: System;
  cookies: Cookies;
  caseId: string;
  items: number;
}): Promise<ScenarioResult> {
  const result: ScenarioResult = {
    scenario: 'board',
    system: opts.system,
    pinning: opts.pinned ? 'pinned' : 'unpinned',
    participants: 1,
    cases: 1,
    generators: 1,
    connectSeconds: null,
    steps: [],
  };
  try {
    // On Redis, open on another process than the one the items were added on.
    const url = opts.sys.urls[opts.sys.urls.length - 1]!;
    const r = await runOpen(
      {
        kind: 'open',
        genId: 'o0',
        url,
        caseId: opts.caseId,
        repeats: config.board.repeats,
        cookies: [
          { label: 'ggz (sees 4 of 5 items)', cookie: opts.cookies.ggz },
          { label: 'om (sees all)', cookie: opts.cookies.om },
        ],
      },
      opts.pinned,
    );
    const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;
    result.board = {
      items: opts.items,
      opens: r.opens.map((o) => ({
        viewer: o.label,
        items: o.items,
        bytes: o.bytes,
        p50: round(pct(o.ms, 50), 2),
        p95: round(pct(o.ms, 95), 2),
        max: round(Math.max(...o.ms), 2),
      })),
    };
    for (const o of result.board.opens) log(`open ${o.items} items as ${o.viewer}: p50 ${o.p50} ms, max ${o.max} ms, ${o.bytes} bytes`);
  } catch (e) {
    result.error = e instanceof Error ? e.message.slice(0, 2000) : String(e);
    log(`FAILED: ${result.error}`);
  }
  return result;
}

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';

export const ROOT = path.resolve(import.meta.dirname, '../..');

/** Whether `taskset` can pin processes here (util-linux). */
export const TASKSET: boolean = (() => {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const CLK_TCK: number = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface Proc {
  name: string;
  pid: number;
  proc: ChildProcess;
  /** The last 64 kB the process wrote (stdout and stderr), for error messages. */
  output(): string;
  /** The first 16 kB it wrote. */
  head(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Every process the harness started and has not seen exit: stopped on the way out, whatever happens. */
const live = new Set<Proc>();
/** BENCH_LOG_DIR: keep each process's whole output there (created if missing). */
const LOG_DIR = process.env.BENCH_LOG_DIR;
if (LOG_DIR) fs.mkdirSync(LOG_DIR, { recursive: true });

export interface SpawnOptions {
  env?: Record<string, string>;
  /** Core to pin to with taskset; null runs it unpinned. */
  cpu?: number | null;
  /** Keep stdin open as a pipe (generators read commands from it). */
  stdin?: boolean;
}

/** Set once the harness is shutting down: nothing new is started after that. */
let shuttingDown = false;

export function spawnProc(name: string, cmd: string, args: string[], opts: SpawnOptions = {}): Proc {
  if (shuttingDown) throw new Error('the bench is stopping');
  const pinned = opts.cpu !== undefined && opts.cpu !== null && TASKSET;
  // Thousands of sockets need as many descriptors: raise the soft limit to the hard one first.
  const argv = RAISE_NOFILE ? ['sh', '-c', `ulimit -n ${RAISE_NOFILE} 2>/dev/null; exec "$0" "$@"`, cmd, ...args] : [cmd, ...args];
  // taskset and sh exec the command, so the pid we hold is the pid of the command itself.
  const full = pinned ? ['taskset', '-c', String(opts.cpu), ...argv] : argv;
  const proc = spawn(full[0]!, full.slice(1), {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  // The first 16 kB (start-up lines such as the inspector's address) and the last 64 kB.
  let head = '';
  let out = '';
  const keep = (c: Buffer): void => {
    const text = c.toString();
    if (head.length < 16 * 1024) head += text.slice(0, 16 * 1024 - head.length);
    out += text;
    if (out.length > 128 * 1024) out = out.slice(-64 * 1024);
  };
  // Always drain both pipes: a full pipe would stall the process being measured.
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  // For diagnosis (e.g. BENCH_SERVER_NODE_FLAGS=--trace-gc): everything each process wrote, in full.
  if (LOG_DIR) {
    const file = fs.createWriteStream(path.join(LOG_DIR, `${name.replace(/[^\w.-]+/g, '_')}-${proc.pid}.log`));
    proc.stdout!.pipe(file, { end: false });
    proc.stderr!.pipe(file, { end: false });
    proc.once('close', () => file.end());
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const p: Proc = {
    name,
    pid: proc.pid!,
    proc,
    output: () => out,
    head: () => head,
    exited,
    async stop(graceMs = 5000) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      live.delete(p);
    },
  };
  live.add(p);
  void exited.then(() => live.delete(p));
  return p;
}

/** Resolves with the first match of `re` in what the process writes; rejects if it exits first. */
export function waitForOutput(p: Proc, re: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const m = re.exec(p.output());
      if (m) {
        cleanup();
        resolve(m);
      }
      return !!m;
    };
    const onData = (): void => void check();
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${p.name}: no ${re} within ${timeoutMs} ms:\n${p.output().slice(-4000)}`));
    }, timeoutMs);
    const onExit = (): void => {
      if (check()) return;
      cleanup();
      reject(new Error(`${p.name} exited early:\n${p.output().slice(-4000)}`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      p.proc.stdout!.off('data', onData);
      p.proc.stderr!.off('data', onData);
      p.proc.off('exit', onExit);
    };
    p.proc.stdout!.on('data', onData);
    p.proc.stderr!.on('data', onData);
    p.proc.once('exit', onExit);
    check();
  });
}

/** Stops every process still running; `final` also refuses any new one from then on. */
export async function stopAll(final = false): Promise<void> {
  if (final) shuttingDown = true;
  await Promise.all([...live].map((p) => p.stop(2000)));
}

/** CPU seconds (user + system) the process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may itself hold spaces.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** Resident set size in bytes, from /proc/<pid>/status. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** CPU use of a set of processes between two moments. */
export class CpuMeter {
  private readonly start: number[];
  private readonly t0 = performance.now();
  constructor(private readonly pids: number[]) {
    this.start = pids.map(cpuSeconds);
  }
  /** CPU seconds used since the meter started, summed, and the wall seconds it covered. */
  read(): { cpuSeconds: number; wallSeconds: number } {
    const used = this.pids.reduce((s, pid, i) => s + cpuSeconds(pid) - this.start[i]!, 0);
    return { cpuSeconds: used, wallSeconds: (performance.now() - this.t0) / 1000 };
  }
}

/**
 * Forces a full garbage collection in a Node process started with `--inspect=127.0.0.1:0`,
 * through the inspector protocol: the server's own code is not changed for the benchmark.
 */
export async function forceGc(p: Proc): Promise<void> {
  const m = /Debugger listening on (ws:\/\/\S+)/.exec(p.head());
  if (!m) throw new Error(`${p.name} has no inspector to collect garbage through`);
  const ws = new WebSocket(m[1]!);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let id = 0;
  const call = (method: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const my = ++id;
      const timer = setTimeout(() => reject(new Error(`${p.name}: ${method} timed out`)), 30_000);
      const on = (data: WebSocket.RawData): void => {
        const msg = JSON.parse(data.toString()) as { id?: number };
        if (msg.id === my) {
          clearTimeout(timer);
          ws.off('message', on);
          resolve();
        }
      };
      ws.on('message', on);
      ws.send(JSON.stringify({ id: my, method }));
    });
  try {
    await call('HeapProfiler.enable');
    // Twice: the first pass finalises what the second frees.
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.disable');
  } finally {
    ws.close();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the processes are quiet (under `percent` % of a core, summed, over `windowMs`),
 * at most `maxMs`. Returns how long it took, or null when they never went quiet.
 */
export async function settle(pids: number[], maxMs: number, percent = 10, windowMs = 400): Promise<number | null> {
  const t0 = performance.now();
  while (performance.now() - t0 < maxMs) {
    const m = new CpuMeter(pids);
    await sleep(windowMs);
    const { cpuSeconds, wallSeconds } = m.read();
    if ((cpuSeconds / wallSeconds) * 100 < percent) return (performance.now() - t0) / 1000;
  }
  return null;
}

function ulimit(flag: string): string | null {
  try {
    return execFileSync('sh', ['-c', `ulimit ${flag}`])
      .toString()
      .trim();
  } catch {
    return null;
  }
}
const SOFT_NOFILE = ulimit('-n');
const HARD_NOFILE = ulimit('-Hn');
/** The hard limit, when the soft one is below it (processes are started with it raised). */
const RAISE_NOFILE: string | null =
  SOFT_NOFILE && HARD_NOFILE && SOFT_NOFILE !== HARD_NOFILE && (HARD_NOFILE === 'unlimited' || Number(HARD_NOFILE) > Number(SOFT_NOFILE)) ? HARD_NOFILE : null;

/** The open-files limit the started processes run with. */
export function openFilesLimit(): number | null {
  const v = RAISE_NOFILE ?? SOFT_NOFILE;
  return v === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(v) || null;
}

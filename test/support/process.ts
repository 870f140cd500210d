import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** A server process starts in a few seconds; on a busy machine in several. */
const PROCESS_WAIT_MS = 30_000;

export interface ServerProcess {
  proc: ChildProcess;
  url: string;
  port: number;
  /** Everything the process wrote, for assertions on logs. */
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts the server as `npm start` does (`node --single-threaded-gc --import tsx server/index.ts`),
 * itself, not through npm, which would orphan the server on kill; resolves when it logs its port.
 */
export function spawnServer(env: Record<string, string>): Promise<ServerProcess> {
  const proc = spawn(process.execPath, ['--single-threaded-gc', '--import', 'tsx', 'server/index.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', CLIENT_BUILD: 'off', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`waited ${PROCESS_WAIT_MS} ms for the server to listen:\n${out}`)), PROCESS_WAIT_MS);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const m = /"port":(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        proc.stdout!.off('data', onData);
        proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
        const port = Number(m[1]);
        resolve({
          proc,
          port,
          url: `http://127.0.0.1:${port}`,
          output: () => out,
          exited,
          kill(signal = 'SIGTERM') {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
            return exited;
          },
        });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before listening:\n${out}`));
    });
  });
}

export interface StartingProcess {
  proc: ChildProcess;
  /** Everything it wrote, stdout and stderr as they came. */
  output: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once the output matches; rejects if the process ends first, or after `ms`. */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the server like spawnServer, for tests of how a start goes: it may never listen. */
export function startServerProcess(env: Record<string, string>): StartingProcess {
  const proc = spawn(process.execPath, ['--single-threaded-gc', '--import', 'tsx', 'server/index.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', CLIENT_BUILD: 'off', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const watchers = new Set<() => void>();
  // 'close', not 'exit': by then all it wrote has been read.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('close', (code, signal) => resolve({ code, signal })),
  );
  const seen = (): void => {
    for (const w of watchers) w();
  };
  proc.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    seen();
  });
  proc.stderr!.on('data', (c: Buffer) => {
    const s = c.toString();
    out += s;
    err += s;
    seen();
  });
  return {
    proc,
    output: () => out,
    stderr: () => err,
    exited,
    waitFor(pattern, ms = PROCESS_WAIT_MS) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          if (watchers.delete(check)) reject(new Error(`waited ${ms} ms for the server to print ${pattern}:\n${out}`));
        }, ms);
        const check = (): void => {
          const m = pattern.exec(out);
          if (!m) return;
          clearTimeout(timer);
          watchers.delete(check);
          resolve(m);
        };
        watchers.add(check);
        check();
        void exited.then(({ code, signal }) => {
          if (!watchers.delete(check)) return;
          clearTimeout(timer);
          reject(new Error(`server exited (${code ?? signal}) before printing ${pattern}:\n${out}`));
        });
      });
    },
    kill(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/**
 * Resolves once the server says it can serve (/healthz/ready answers 200). After a Redis restart
 * a process answers UNAVAILABLE until its connections are back and answered; a test that goes on
 * at once waits for this first, as a client retries.
 */
export async function whenReady(url: string, ms = PROCESS_WAIT_MS): Promise<void> {
  const until = performance.now() + ms;
  for (;;) {
    const res = await fetch(`${url}/healthz/ready`).catch(() => null);
    if (res?.status === 200) return;
    if (performance.now() >= until) throw new Error(`waited ${ms} ms for ${url} to be ready (last answer: ${res ? res.status : 'none'})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

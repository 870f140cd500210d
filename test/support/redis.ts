import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../server/log.js';

/** For stores and links that tests open beside a server: their Redis errors are expected (a test stops Redis). */
export const quietLog = createLogger('silent');

export interface PrivateRedis {
  url: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
  /**
   * Stops and starts it again on the same port and directory (append-only keeps the data), with
   * other arguments if given, resolving once its log shows `until` (by default: serving).
   * SIGKILL: killed, as a crash would, with whatever it was doing.
   */
  restart(again?: { signal?: 'SIGTERM' | 'SIGKILL'; args?: string[]; until?: string }): Promise<void>;
  /** Resolves once the running server's log shows `text`. */
  logged(text: string): Promise<void>;
  /** Sends the server a signal: SIGSTOP makes it hang with its connections open, SIGCONT resumes it. */
  signal(sig: NodeJS.Signals): void;
}

/** A redis-server starts in milliseconds; loading a test's data (slowed on purpose) takes seconds. */
const REDIS_WAIT_MS = 30_000;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

interface Launched {
  proc: ChildProcess;
  /** Resolves once its log shows `text`. */
  logged(text: string): Promise<void>;
}

/** Started once its log shows `until` (by default: loaded and serving). */
function launch(port: number, dir: string, appendOnly: boolean, args: string[] = [], until = 'Ready to accept connections'): Promise<Launched> {
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', appendOnly ? 'yes' : 'no', '--dir', dir, ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const waiters: { text: string; resolve: () => void }[] = [];
  proc.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    for (const w of [...waiters]) {
      if (out.includes(w.text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  const logged = (text: string): Promise<void> =>
    new Promise((resolve, reject) => {
      if (out.includes(text)) return resolve();
      const waiter = {
        text,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        if (waiters.includes(waiter)) waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`waited ${REDIS_WAIT_MS} ms for redis-server to log ${text}: ${out}`));
      }, REDIS_WAIT_MS);
      waiters.push(waiter);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}) before logging ${text}: ${out}`));
      });
    });
  return logged(until).then(() => ({ proc, logged }));
}

/** A private redis-server on a free port, for tests that own their Redis. */
export async function startRedis(opts: { appendOnly?: boolean; args?: string[] } = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'casusbord-redis-'));
  let launched = await launch(port, dir, opts.appendOnly ?? false, opts.args);
  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> => {
    const proc = launched.proc;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    // A stopped server takes its signal only once it runs again.
    proc.kill('SIGCONT');
    proc.kill(signal);
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    stop: () => stop(),
    async restart(again = {}) {
      await stop(again.signal);
      launched = await launch(port, dir, opts.appendOnly ?? false, again.args ?? opts.args, again.until);
    },
    signal(sig) {
      const proc = launched.proc;
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
    },
    logged: (text) => launched.logged(text),
  };
}

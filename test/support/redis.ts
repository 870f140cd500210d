import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface PrivateRedis {
  url: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
  /**
   * Stops and starts it again on the same port and directory (append-only keeps the data, or a
   * SAVE before). `args` are added to the start's; it resolves once the log matches `until`
   * (by default: ready to accept connections).
   */
  restart(opts?: { args?: string[]; until?: RegExp }): Promise<void>;
  /** Sends the server a signal: SIGSTOP makes it hang with its connections open, SIGCONT resumes it. */
  signal(sig: NodeJS.Signals): void;
}

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

function launch(port: number, dir: string, appendOnly: boolean, args: string[] = [], until = /Ready to accept connections/): Promise<ChildProcess> {
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', appendOnly ? 'yes' : 'no', '--dir', dir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (until.test(out)) resolve(proc);
    });
    proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
  });
}

/** A private redis-server on a free port, for tests that own their Redis; `args` are added to its start. */
export async function startRedis(opts: { appendOnly?: boolean; args?: string[] } = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'casusbord-redis-'));
  let proc = await launch(port, dir, opts.appendOnly ?? false, opts.args);
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    // A stopped server takes its SIGTERM only once it runs again.
    proc.kill('SIGCONT');
    proc.kill('SIGTERM');
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    stop,
    async restart(restartOpts = {}) {
      await stop();
      proc = await launch(port, dir, opts.appendOnly ?? false, [...(opts.args ?? []), ...(restartOpts.args ?? [])], restartOpts.until);
    },
    signal(sig) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
    },
  };
}

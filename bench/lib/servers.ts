import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { forceGc, rssBytes, spawnProc, waitForOutput, type Proc } from './procs.js';

export type Topology = 'baseline' | 'sqlite' | 'redis';

/** One system under test: one or more server processes (and Redis), all on the server core. */
export interface System {
  topology: Topology;
  /** One URL per server process; sockets are spread over them. */
  urls: string[];
  /** The processes whose CPU and memory count as the server's. */
  servers: Proc[];
  /** The durable Redis and the bus Redis between the processes (none without Redis). */
  redis: Proc[];
  /**
   * Stops every server process as a deploy does (SIGTERM, and waits for it to exit) and starts it
   * again on the same port and data (Redis keeps running); resolves once each listens again.
   * `servers` then holds the new processes.
   */
  restart(): Promise<{ stopMs: number; startMs: number }>;
  stop(): Promise<void>;
}

/** How long a server may take to stop on SIGTERM (closing thousands of sockets) before it is killed. */
export const STOP_GRACE_MS = 20_000;

/** Restarts the processes in `servers` in place with `start(i, port)`, keeping each one's port. */
async function restartAll(servers: Proc[], urls: string[], start: (i: number, port: string) => Promise<Proc>): Promise<{ stopMs: number; startMs: number }> {
  const t0 = performance.now();
  await Promise.all(servers.map((p) => p.stop(STOP_GRACE_MS)));
  const t1 = performance.now();
  const fresh = await Promise.all(urls.map((u, i) => start(i, new URL(u).port)));
  servers.splice(0, servers.length, ...fresh);
  return { stopMs: t1 - t0, startMs: performance.now() - t1 };
}

const SERVER_CORE = 0;
const INSPECT = '--inspect=127.0.0.1:0';
/**
 * Every Node server of the bench (Casusbord, the plain broadcast, the y-websocket reference) runs
 * as `npm start` and the Dockerfile run Casusbord: with V8's garbage collector on one thread.
 */
const RUNTIME_FLAGS = ['--single-threaded-gc'];
/** Extra Node flags for the Casusbord processes, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile a run. */
const EXTRA_FLAGS = (process.env.BENCH_SERVER_NODE_FLAGS ?? '').split(' ').filter(Boolean);
// For profiling: a JavaScript build of the server (e.g. an unminified esbuild bundle, whose
// profile has lines and columns that tsx's whitespace-minified output lacks).
const SERVER_ENTRY = process.env.BENCH_SERVER_ENTRY ?? 'server/index.ts';
const SERVER_ARGS = SERVER_ENTRY.endsWith('.ts') ? ['--import', 'tsx', SERVER_ENTRY] : [SERVER_ENTRY];

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

function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

async function casusbordProcess(name: string, env: Record<string, string>, pinned: boolean): Promise<{ proc: Proc; url: string }> {
  const proc = spawnProc(name, process.execPath, [INSPECT, ...RUNTIME_FLAGS, ...EXTRA_FLAGS, ...SERVER_ARGS], {
    cpu: pinned ? SERVER_CORE : null,
    env: {
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      CLIENT_BUILD: 'off',
      COMMANDS_PER_SECOND: '100000',
      SEED_DEMO: 'true',
      NODE_ENV: 'production',
      ...env,
    },
  });
  const m = await waitForOutput(proc, /"port":(\d+)/, 90_000);
  return { proc, url: `http://127.0.0.1:${m[1]}` };
}

/** Casusbord as it is deployed: one process on SQLite, or `processes` processes on a private Redis. */
export async function startCasusbord(topology: 'sqlite' | 'redis', pinned: boolean, processes = 3): Promise<System> {
  const dirs: string[] = [];
  const servers: Proc[] = [];
  const redis: Proc[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop(5000)));
    await Promise.all(redis.map((r) => r.stop(5000)));
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  };
  try {
    if (topology === 'sqlite') {
      const dir = tmpDir('casusbord-bench-');
      dirs.push(dir);
      const s = await casusbordProcess('casusbord', { DATA_DIR: dir }, pinned);
      servers.push(s.proc);
      const restart = (): ReturnType<System['restart']> =>
        restartAll(servers, [s.url], async (_, port) => (await casusbordProcess('casusbord', { DATA_DIR: dir, PORT: port }, pinned)).proc);
      return { topology, urls: [s.url], servers, redis, restart, stop };
    }
    const dir = tmpDir('casusbord-bench-redis-');
    dirs.push(dir);
    // As docker-compose runs them: the durable Redis append-only, fsynced before it answers (as
    // the README asks), and the bus between the processes without persistence.
    const [port, busPort] = [await freePort(), await freePort()];
    const launch = async (name: string, p: number, persistence: string[]): Promise<void> => {
      const r = spawnProc(name, 'redis-server', ['--port', String(p), '--bind', '127.0.0.1', ...persistence, '--dir', dir], {
        cpu: pinned ? SERVER_CORE : null,
      });
      redis.push(r);
      await waitForOutput(r, /Ready to accept connections/, 30_000);
    };
    await launch('redis-server', port, ['--save', '', '--appendonly', 'yes', '--appendfsync', 'always']);
    await launch('redis-bus', busPort, ['--save', '', '--appendonly', 'no']);
    const env = {
      REDIS_URL: `redis://127.0.0.1:${port}`,
      REDIS_BUS_URL: `redis://127.0.0.1:${busPort}`,
      REDIS_PREFIX: `bench${Date.now().toString(36)}`,
      DATA_DIR: dir,
    };
    // All at once: one claims the demo data and seeds it, the others wait for it.
    const started = await Promise.allSettled(Array.from({ length: processes }, (_, i) => casusbordProcess(`casusbord-${i + 1}`, env, pinned)));
    const urls: string[] = [];
    for (const r of started) {
      if (r.status === 'fulfilled') {
        servers.push(r.value.proc);
        urls.push(r.value.url);
      }
    }
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const restart = (): ReturnType<System['restart']> =>
      restartAll(servers, urls, async (i, port) => (await casusbordProcess(`casusbord-${i + 1}`, { ...env, PORT: port }, pinned)).proc);
    return { topology, urls, servers, redis, restart, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function jsonPortProcess(name: string, script: string, pinned: boolean, port = '0'): Promise<System> {
  const proc = spawnProc(name, process.execPath, [INSPECT, ...RUNTIME_FLAGS, '--import', 'tsx', script], {
    cpu: pinned ? SERVER_CORE : null,
    env: { PORT: port },
  });
  try {
    const m = await waitForOutput(proc, /\{"port":(\d+)\}/, 60_000);
    const urls = [`http://127.0.0.1:${m[1]}`];
    const servers = [proc];
    const restart = (): ReturnType<System['restart']> =>
      restartAll(servers, urls, async (_, p) => (await jsonPortProcess(name, script, pinned, p)).servers[0]!);
    return { topology: 'baseline', urls, servers, redis: [], restart, stop: () => servers[0]!.stop(3000) };
  } catch (e) {
    await proc.stop(1000);
    throw e;
  }
}

/** The plain Socket.IO room broadcast: no authorisation, no projection, no persistence. */
export const startBaseline = (pinned: boolean): Promise<System> => jsonPortProcess('baseline', 'bench/baseline-server.ts', pinned);

/** The stock y-websocket server (@y/websocket-server), in memory. */
export const startReference = (pinned: boolean): Promise<System> => jsonPortProcess('y-websocket-reference', 'bench/reference-server.ts', pinned);

/** Idle memory of every server process after a forced full collection. */
export async function idleRss(sys: System): Promise<number> {
  let total = 0;
  for (const s of sys.servers) {
    await forceGc(s);
    total += rssBytes(s.pid);
  }
  return total;
}

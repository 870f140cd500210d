import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { PROTOCOL_VERSION, SOCKET_PATH, type CasePatch, type CaseSummary } from '../shared/protocol.js';
import { login } from '../test/support/client.js';
import { spawnServer } from '../test/support/process.js';

/**
 * `npm run bench`: Casusbord against a plain Socket.IO broadcast, same payloads, same run. The
 * servers run in their own processes; this process is the load generator. Later work adds the
 * Redis topology, co-editing and the capacity curve.
 */
interface Scenario {
  name: string;
  viewers: number;
  commands: number;
}
const SCENARIOS: Scenario[] = [
  { name: 'one command to one viewer', viewers: 1, commands: 400 },
  { name: 'fan-out to 50 viewers', viewers: 50, commands: 150 },
];
const VIEWER_USERS = ['ggz', 'om', 'gemeente', 'woning', 'politie2', 'regisseur'];

function connect(url: string, cookie?: string): Promise<Socket> {
  const s = io(url, {
    path: SOCKET_PATH,
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    auth: { protocolVersion: PROTOCOL_VERSION },
    extraHeaders: cookie ? { cookie } : {},
  });
  return new Promise((resolve, reject) => {
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  });
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

/** Sends commands one after another; each is done when every viewer has received its patch. */
async function drive(sender: Socket, viewers: Socket[], commands: number, payload: (n: number) => unknown): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  const t0 = performance.now();
  for (let n = 0; n < commands; n++) {
    const marker = `bench-${n}-${Math.random()}`;
    const start = performance.now();
    const arrived = viewers.map(
      (v) =>
        new Promise<void>((resolve) => {
          const on = (p: CasePatch): void => {
            if (JSON.stringify(p).includes(marker)) {
              latencies.push(performance.now() - start);
              v.off('case:patch', on);
              resolve();
            }
          };
          v.on('case:patch', on);
        }),
    );
    const p = payload(n) as { text: string };
    p.text = marker;
    sender.emit('item:add', p, () => undefined);
    await Promise.all(arrived);
  }
  return { latencies, seconds: (performance.now() - t0) / 1000 };
}

async function runCasusbord(s: Scenario): Promise<{ latencies: number[]; seconds: number }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'casusbord-bench-'));
  const server = await spawnServer({ DATA_DIR: dataDir, LOG_LEVEL: 'info', COMMANDS_PER_SECOND: '100000' });
  try {
    const sender = await connect(server.url, await login(server.url, 'politie'));
    const cases = await new Promise<CaseSummary[]>((resolve) => sender.once('cases:snapshot', resolve));
    const caseId = cases.find((c) => c.title.startsWith('Casus R.'))!.id;
    const cookies = await Promise.all(VIEWER_USERS.map((u) => login(server.url, u)));
    const viewers = await Promise.all(Array.from({ length: s.viewers }, (_, i) => connect(server.url, cookies[i % cookies.length])));
    await Promise.all(viewers.map((v) => v.emitWithAck('case:open', { caseId })));
    const result = await drive(sender, viewers, s.commands, () => ({ caseId, phase: 'beeldvorming', text: '', visibility: { kind: 'table' } }));
    for (const v of [sender, ...viewers]) v.disconnect();
    return result;
  } finally {
    await server.kill('SIGTERM');
  }
}

async function runBaseline(s: Scenario): Promise<{ latencies: number[]; seconds: number }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'bench/baseline-server.ts'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => proc.stdout.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { port: number }).port)));
  const url = `http://127.0.0.1:${port}`;
  try {
    const sender = await connect(url);
    const viewers = await Promise.all(Array.from({ length: s.viewers }, () => connect(url)));
    const result = await drive(sender, viewers, s.commands, () => ({ caseId: 'x', phase: 'beeldvorming', text: '', visibility: { kind: 'table' } }));
    for (const v of [sender, ...viewers]) v.disconnect();
    return result;
  } finally {
    proc.kill('SIGTERM');
  }
}

const rows: Record<string, unknown>[] = [];
for (const s of SCENARIOS) {
  console.error(`running: ${s.name}`);
  const base = await runBaseline(s);
  const ours = await runCasusbord(s);
  const row = (label: string, r: { latencies: number[]; seconds: number }) => ({
    scenario: s.name,
    server: label,
    p50_ms: +pct(r.latencies, 50).toFixed(2),
    p95_ms: +pct(r.latencies, 95).toFixed(2),
    p99_ms: +pct(r.latencies, 99).toFixed(2),
    commands_per_s: +(s.commands / r.seconds).toFixed(1),
    deliveries_per_s: +((s.commands * s.viewers) / r.seconds).toFixed(1),
  });
  const b = row('plain Socket.IO', base);
  const o = row('Casusbord', ours);
  rows.push(b, { ...o, p99_ratio: +(o.p99_ms / b.p99_ms).toFixed(2), throughput_ratio: +(o.commands_per_s / b.commands_per_s).toFixed(2) });
}
console.table(rows);
const file = path.join('bench/results', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
fs.writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), cpus: os.cpus().length, node: process.version, rows }, null, 2));
console.log(`saved ${file}`);

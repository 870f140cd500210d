import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuShares, machineCpuTimes, probeFsync } from './lib/disk.js';
import { config } from './lib/config.js';
import { openFilesLimit, ROOT, stopAll, TASKSET } from './lib/procs.js';
import { judgeGoals, markdown, writeTable, type Results } from './lib/report.js';
import { boardLoad, coedit, fanout, type ScenarioName, type ScenarioResult, type SystemName } from './lib/scenarios.js';
import { startBaseline, startCasusbord, startReference, type System, type Topology } from './lib/servers.js';
import { addItems, createCases, demoFamily, families, minutesDocId, type Family } from './lib/setup.js';

/**
 * `npm run bench`: Casusbord (one process on SQLite; three on a private Redis) against a plain
 * Socket.IO room broadcast and the stock y-websocket server, same payloads, same run. Servers and
 * load generators are separate processes; pinned runs put the servers on core 0 and the
 * generators on core 1. Writes bench/results/<timestamp>.json (not committed) and the table in docs/PERFORMANCE.md.
 */

const started = performance.now();
const at = new Date().toISOString();
const loadAtStart = os.loadavg();
const results: ScenarioResult[] = [];

const say = (s: string): void => console.error(s);

function tmpFs(): string {
  try {
    return execFileSync('df', ['-T', os.tmpdir()]).toString().trim().split('\n')[1]!.split(/\s+/)[1]!;
  } catch {
    return '?';
  }
}

interface Prepared {
  sys: System;
  /** The demo accounts, logged in (null for the baseline). */
  demo: Family | null;
  /** Families for the many-cases scenario, made when first needed. */
  families: Family[] | null;
  shared: boolean;
}

async function prepare(system: Topology, pinned: boolean, shared: boolean): Promise<Prepared> {
  if (system === 'baseline') return { sys: await startBaseline(pinned), demo: null, families: null, shared };
  const sys = await startCasusbord(system, pinned, config.redisProcesses);
  try {
    return { sys, demo: await demoFamily(sys.urls[0]!), families: null, shared };
  } catch (e) {
    await sys.stop();
    throw e;
  }
}

/** A scenario that measured nothing: skipped, or its setting up failed. */
const notRun = (scenario: ScenarioName, system: SystemName, pinned: boolean, error: string): ScenarioResult => ({
  scenario,
  system,
  pinning: pinned ? 'pinned' : 'unpinned',
  participants: 0,
  cases: 0,
  generators: 0,
  connectSeconds: null,
  steps: [],
  error,
});

let fakeCaseNo = 0;
const fakeCases = (n: number): string[] => Array.from({ length: n }, () => `case-${fakeCaseNo++}`);

async function cases(p: Prepared, n: number, fams: Family[] | null): Promise<string[]> {
  return fams ? createCases(p.sys.urls[0]!, fams, n) : fakeCases(n);
}

async function run(name: ScenarioName, system: Topology, pinned: boolean, p: Prepared): Promise<ScenarioResult> {
  const c = config;
  const base = { system: system as SystemName, pinned, sys: p.sys, closedWindow: 1, capacity: null, measureMemory: false, keepSystem: p.shared };
  const demo = p.demo ? [p.demo] : null;
  switch (name) {
    case 'one-to-one': {
      const rates = [{ label: `${c.oneToOne.rate} cmd/s`, perSender: c.oneToOne.rate }];
      // A closed loop on one case can add more items than a case may hold: spare cases to move on to
      // (enough for 14,000 commands/s).
      const spares = (): Promise<string[]> => cases(p, Math.ceil((config.stepMs / 1000) * 3.5), demo);
      return fanout({
        ...base,
        scenario: name,
        families: demo,
        caseIds: await cases(p, 1, demo),
        closedLoopSpares: spares,
        socketsPerCase: 2,
        generators: 1,
        rates,
      });
    }
    case 'one-case': {
      const o = c.oneCase;
      const rates = [{ label: `${o.rate} cmd/s`, perSender: o.rate }];
      return fanout({
        ...base,
        scenario: name,
        families: demo,
        caseIds: await cases(p, 1, demo),
        socketsPerCase: o.viewers + 1,
        generators: o.generators,
        rates,
      });
    }
    case 'many-cases': {
      const m = c.manyCases;
      const t0 = performance.now();
      if (p.demo && !p.families) p.families = await families(p.sys.urls[0]!, m.families);
      const t1 = performance.now();
      const caseIds = await cases(p, m.cases, p.families);
      if (p.demo)
        say(
          `    ${m.families * 10} accounts ready in ${((t1 - t0) / 1000).toFixed(1)} s, ${m.cases} cases created in ${((performance.now() - t1) / 1000).toFixed(1)} s`,
        );
      return fanout({
        ...base,
        scenario: name,
        families: p.families,
        caseIds,
        socketsPerCase: m.perCase,
        generators: m.generators,
        rates: [{ label: `${m.rate} cmd/s per case`, perSender: m.rate }],
        capacity: m.capacityPinnings.includes(pinned ? 'pinned' : 'unpinned') ? m.capacitySteps : null,
        measureMemory: true,
      });
    }
    case 'reconnect': {
      // The many-cases population, one step of load so every board has a recent cursor, then the restart.
      const m = c.manyCases;
      if (p.demo && !p.families) p.families = await families(p.sys.urls[0]!, m.families);
      const caseIds = await cases(p, m.cases, p.families);
      return fanout({
        ...base,
        scenario: name,
        families: p.families,
        caseIds,
        socketsPerCase: m.perCase,
        generators: m.generators,
        rates: [{ label: `${m.rate} cmd/s per case`, perSender: m.rate }],
        closedWindow: null,
        storm: true,
      });
    }
    case 'coedit': {
      const ws = (u: string): string => u.replace(/^http/, 'ws');
      if (!p.demo) {
        const ref = await startReference(pinned);
        try {
          return await coedit({ system: 'reference', pinned, sys: ref, serverUrls: ref.urls.map((u) => `${ws(u)}/ref`), room: 'minutes', cookies: null });
        } finally {
          await ref.stop();
        }
      }
      const [caseId] = await cases(p, 1, demo);
      const room = await minutesDocId(p.sys.urls[0]!, p.demo.cookies.regisseur, caseId!);
      return coedit({ system, pinned, sys: p.sys, serverUrls: p.sys.urls.map((u) => `${ws(u)}/collab`), room, cookies: p.demo.cookies });
    }
    case 'board': {
      const [caseId] = await cases(p, 1, demo);
      await addItems(p.sys.urls[0]!, p.demo!.cookies, caseId!, config.board.items, config.textChars);
      return boardLoad({ system, pinned, sys: p.sys, cookies: p.demo!.cookies, caseId: caseId!, items: config.board.items });
    }
  }
}

/** Every scenario on one system: the light ones share a server; the big ones (full run) get their own. */
async function runSystem(system: Topology, pinned: boolean): Promise<ScenarioResult[]> {
  const out: ScenarioResult[] = [];
  let shared: Prepared | null = null;
  try {
    // The storm restarts its server: never one another scenario shares.
    const ownServer = (n: string): boolean => (!config.quick && (n === 'one-case' || n === 'many-cases')) || n === 'reconnect';
    const wanted = (pinned ? config.scenarios : config.scenarios.filter((n) => config.unpinnedScenarios.includes(n))) as ScenarioName[];
    // The light scenarios share one server, stopped before the big ones start on their own.
    const names = [...wanted.filter((n) => !ownServer(n)), ...wanted.filter(ownServer)];
    for (const name of names) {
      if (ownServer(name) && shared) {
        await shared.sys.stop();
        shared = null;
      }
      if (name === 'board' && system === 'baseline') continue;
      const sysName: SystemName = system === 'baseline' && name === 'coedit' ? 'reference' : system;
      if ((performance.now() - started) / 1000 > config.budgetSeconds) {
        say(`  ${name} · ${sysName} · ${pinned ? 'pinned' : 'unpinned'} · skipped: past the time budget of ${config.budgetSeconds} s (BENCH_BUDGET_S)`);
        out.push(notRun(name, sysName, pinned, `skipped: past the time budget of ${config.budgetSeconds} s`));
        continue;
      }
      const own = ownServer(name);
      say(
        `  ${name} · ${system === 'baseline' ? (name === 'coedit' ? 'y-websocket reference' : 'plain Socket.IO') : system} · ${pinned ? 'pinned' : 'unpinned'}`,
      );
      let p: Prepared | null = null;
      const t0 = performance.now();
      try {
        p = own ? await prepare(system, pinned, false) : (shared ??= await prepare(system, pinned, true));
        out.push(await run(name, system, pinned, p));
      } catch (e) {
        // Setting up failed (a server that did not start): recorded, and the run goes on.
        const message = e instanceof Error ? e.message.slice(0, 2000) : String(e);
        say(`    FAILED: ${message}`);
        out.push(notRun(name, sysName, pinned, message));
        if (p?.shared) {
          await p.sys.stop();
          shared = null;
        }
      } finally {
        if (p && !p.shared) await p.sys.stop();
        say(`    (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      }
    }
  } finally {
    await shared?.sys.stop();
    await stopAll();
  }
  return out;
}

async function main(): Promise<void> {
  let pinnings = config.pinnings.filter((p) => p === 'unpinned' || (p === 'pinned' && TASKSET));
  if (!TASKSET) say('taskset not found: running unpinned only');
  if (pinnings.length === 0) pinnings = ['unpinned'];
  const openFiles = openFilesLimit();
  const needed = Math.max(config.manyCases.cases * config.manyCases.perCase, config.oneCase.viewers) + 200;
  if (openFiles !== null && openFiles < needed)
    say(`warning: ulimit -n is ${openFiles}, below the ${needed} sockets of the largest scenario; raise it (ulimit -n ${needed * 2}) before running`);
  say(`bench ${config.quick ? '(quick) ' : ''}— systems ${config.systems.join(', ')}; ${pinnings.join(', ')}; scenarios ${config.scenarios.join(', ')}`);
  const fsyncSamples = config.quick ? 50 : 300;
  const fsyncAtStart = await probeFsync(fsyncSamples);
  const cpuAtStart = machineCpuTimes();
  say(`fsync of 4 KB on the temp disk: p50 ${fsyncAtStart.p50} p99 ${fsyncAtStart.p99} max ${fsyncAtStart.max} ms`);
  for (const pinning of pinnings) {
    for (const system of config.systems) results.push(...(await runSystem(system, pinning === 'pinned')));
  }
  const cpu = cpuShares(cpuAtStart, machineCpuTimes());
  if (cpu) say(`machine CPU time during the run: ${cpu.stealPercent} % stolen by the host, ${cpu.iowaitPercent} % waiting on the disk`);
  const fsyncAtEnd = await probeFsync(fsyncSamples);
  const res: Results = {
    run: {
      at,
      quick: config.quick,
      machine: {
        cpus: os.cpus().length,
        model: os.cpus()[0]?.model ?? '?',
        node: process.version,
        taskset: TASKSET,
        openFiles,
        tmpFs: tmpFs(),
        loadAverage: loadAtStart,
        fsync: { atStart: fsyncAtStart, atEnd: fsyncAtEnd },
        ...(cpu ? { cpu } : {}),
      },
      config,
      durationSeconds: (performance.now() - started) / 1000,
    },
    results,
    goals: judgeGoals(results),
  };
  const dir = path.join(ROOT, 'bench/results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${at.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify(res, null, 2)}\n`);
  const table = markdown(res);
  writeTable(path.join(ROOT, 'docs/PERFORMANCE.md'), table, '# Performance\n');
  console.log(table);
  console.log(`saved ${path.relative(ROOT, file)}; table in docs/PERFORMANCE.md`);
}

// Whatever happens, every process the harness started is stopped before it exits.
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    say(`${sig}: stopping everything the bench started`);
    void stopAll(true).finally(() => process.exit(130));
  });
}
try {
  await main();
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  await stopAll();
}

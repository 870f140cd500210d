import type { FsyncProbe } from './disk.js';
import fs from 'node:fs';
import type { ScenarioResult, StepMetrics } from './scenarios.js';

export interface RunInfo {
  at: string;
  quick: boolean;
  machine: {
    cpus: number;
    model: string;
    node: string;
    taskset: boolean;
    openFiles: number | null;
    tmpFs: string;
    loadAverage: number[];
    fsync?: { atStart: FsyncProbe; atEnd: FsyncProbe };
    /** Of the machine's CPU time during the run: taken by the host (a shared VM), waiting on the disk. */
    cpu?: { stealPercent: number; iowaitPercent: number };
  };
  config: unknown;
  durationSeconds: number;
}

export interface Goal {
  goal: string;
  target: string;
  measured: string;
  met: boolean | null;
}

export interface Results {
  run: RunInfo;
  results: ScenarioResult[];
  goals: Goal[];
}

const SYSTEM_LABEL: Record<string, string> = {
  baseline: 'plain Socket.IO',
  reference: 'y-websocket reference',
  sqlite: 'Casusbord, SQLite',
  redis: 'Casusbord, 3 × Redis',
};
const f = (v: number | null | undefined, d = 1): string => (v === null || v === undefined ? '–' : v.toFixed(d));
const kb = (b: number | null | undefined): string => (b === null || b === undefined ? '–' : `${(b / 1024).toFixed(1)} KB`);
const mb = (b: number | null | undefined): string => (b === null || b === undefined ? '–' : `${(b / 1024 / 1024).toFixed(0)} MB`);

function reference(all: ScenarioResult[], r: ScenarioResult): ScenarioResult | undefined {
  if (r.system === 'baseline' || r.system === 'reference') return undefined;
  return all.find((b) => (b.system === 'baseline' || b.system === 'reference') && b.scenario === r.scenario && b.pinning === r.pinning && !b.error);
}
const stepOf = (r: ScenarioResult | undefined, label: string): StepMetrics | undefined => r?.steps.find((s) => s.label === label);
const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a === null || a === undefined || b === null || b === undefined || b === 0 ? null : a / b;

/** The goals of the issue, judged on what was measured (never asserted). */
export function judgeGoals(all: ScenarioResult[]): Goal[] {
  const goals: Goal[] = [];
  const ok = (r: ScenarioResult): boolean => !r.error && (r.system === 'sqlite' || r.system === 'redis');
  const label = (r: ScenarioResult): string => `${SYSTEM_LABEL[r.system]}, ${r.pinning}`;
  for (const r of all.filter((x) => ok(x) && x.scenario === 'one-to-one')) {
    const s = r.steps[0];
    goals.push({
      goal: `one command to one other viewer (${label(r)})`,
      target: 'p99 < 10 ms incl. durable commit',
      measured: `p99 ${f(s?.delivery.p99, 2)} ms at ${f(s?.offeredPerSecond, 0)} cmd/s`,
      met: s?.delivery.p99 === null || s?.delivery.p99 === undefined ? null : s.delivery.p99 < 10,
    });
  }
  for (const r of all.filter((x) => ok(x) && x.scenario === 'one-case')) {
    const s = r.steps[0];
    const b = stepOf(reference(all, r), s?.label ?? '');
    const q = ratio(s?.delivery.p99, b?.delivery.p99);
    goals.push({
      goal: `one case watched by ${r.participants - 1} viewers (${label(r)})`,
      target: 'p99 ≤ 1.2 × plain room broadcast',
      measured: `p99 ${f(s?.delivery.p99)} ms vs ${f(b?.delivery.p99)} ms: ${f(q, 2)} ×`,
      met: q === null ? null : q <= 1.2,
    });
  }
  for (const r of all.filter((x) => ok(x) && x.scenario === 'many-cases')) {
    const s = r.steps[0];
    goals.push({
      goal: `${r.participants} participants over ${r.cases} cases at ${f(s?.offeredPerSecond ? s.offeredPerSecond / r.cases : null, 2)} cmd/s per case (${label(r)})`,
      target: 'p99 < 50 ms, all delivered',
      measured: `p99 ${f(s?.delivery.p99)} ms, ${f((s?.completeness ?? 0) * 100, 1)} % delivered`,
      met: s?.delivery.p99 === null || s?.delivery.p99 === undefined ? null : s.delivery.p99 < 50 && s.completeness >= 0.99,
    });
  }
  for (const r of all.filter((x) => ok(x) && (x.scenario === 'many-cases' || x.scenario === 'one-case'))) {
    const s = r.steps.find((x) => x.mode === 'closed');
    const b = stepOf(reference(all, r), s?.label ?? '');
    const q = ratio(s?.deliveriesPerSecond, b?.deliveriesPerSecond);
    goals.push({
      goal: `throughput, ${r.scenario} (${label(r)})`,
      target: '≥ 0.5 × unfiltered baseline',
      measured: `${f(s?.deliveriesPerSecond, 0)} vs ${f(b?.deliveriesPerSecond, 0)} deliveries/s: ${f(q, 2)} ×`,
      met: q === null ? null : q >= 0.5,
    });
  }
  for (const r of all.filter((x) => ok(x) && x.scenario === 'coedit')) {
    const s = r.steps[0];
    const b = reference(all, r)?.steps[0];
    const q = ratio(s?.delivery.p99, b?.delivery.p99);
    goals.push({
      goal: `co-editing keystroke to peer (${label(r)})`,
      target: 'p99 ≤ 1.2 × y-websocket reference',
      measured: `p99 ${f(s?.delivery.p99, 2)} ms vs ${f(b?.delivery.p99, 2)} ms: ${f(q, 2)} ×`,
      met: q === null ? null : q <= 1.2,
    });
  }
  for (const r of all.filter((x) => ok(x) && x.scenario === 'reconnect' && x.storm)) {
    const b = reference(all, r)?.storm;
    const q = ratio(r.storm!.allCurrentMs, b?.allCurrentMs);
    goals.push({
      goal: `reconnect storm: ${r.participants} participants back after a restart, every board current (${label(r)})`,
      target: '≤ 2 × plain Socket.IO reconnecting the same sockets',
      measured: `${f(r.storm!.allCurrentMs, 0)} ms vs ${f(b?.allCurrentMs, 0)} ms: ${f(q, 2)} ×`,
      met: q === null ? null : q <= 2,
    });
  }
  for (const r of all.filter((x) => ok(x) && x.scenario === 'many-cases' && x.memory)) {
    const per = r.memory!.perParticipantBytes;
    goals.push({
      goal: `server memory per connected participant (${label(r)})`,
      target: '≤ 30 KB RSS, idle after GC',
      measured: kb(per),
      met: per <= 30 * 1024,
    });
  }
  return goals;
}

/** The generated part of docs/PERFORMANCE.md. */
export function markdown(res: Results): string {
  const { run, results: all } = res;
  const lines: string[] = [];
  const m = run.machine;
  lines.push(
    `Run ${run.at}${run.quick ? ' (**BENCH_QUICK=1 smoke run: small sizes, short steps; not the figures to judge by**)' : ''} in ${run.durationSeconds.toFixed(0)} s on ${m.cpus} × ${m.model}, Node ${m.node}; ` +
      `taskset ${m.taskset ? 'available (pinned: servers and Redis on core 0, generators on core 1)' : 'missing: unpinned only'}; open files ${m.openFiles ?? '?'}; temp files on ${m.tmpFs}; load average at start ${m.loadAverage.map((x) => x.toFixed(2)).join(' ')}.`,
    '',
  );
  if (m.fsync) {
    const f = (p: FsyncProbe): string => `p50 ${p.p50} ms, p99 ${p.p99} ms, max ${p.max} ms, ${p.over20ms} of ${p.samples} over 20 ms`;
    lines.push(
      `The disk under every durable commit (fdatasync of a 4 KB append in the temp directory, every 10 ms): at the start ${f(m.fsync.atStart)}; at the end ${f(m.fsync.atEnd)}.`,
      '',
    );
  }
  if (m.cpu) {
    lines.push(
      `Of the machine's CPU time during the run (/proc/stat, both cores): ${m.cpu.stealPercent} % stolen by the host (other tenants of a shared machine), ${m.cpu.iowaitPercent} % idle waiting on the disk.`,
      '',
    );
  }
  lines.push('#### Goals', '', '| goal | target | measured | met |', '| --- | --- | --- | --- |');
  for (const g of res.goals) lines.push(`| ${g.goal} | ${g.target} | ${g.measured} | ${g.met === null ? '–' : g.met ? 'yes' : '**no**'} |`);
  lines.push('');

  lines.push(
    '#### Board: command to delivery',
    '',
    'Latency in ms. *p50…p99*: per delivery to a viewer other than the sender; *all*: p99 until the last entitled viewer had it; *ack*: p99 send → ack (the durable commit). CPU: the share of a core while the load of the step ran; *CPU ms/cmd* also counts its drain, where the last commands finish. Ratios against the plain broadcast in the same step and pinning: p99 ours / theirs, and (closed loop) deliveries/s ours / theirs.',
    '',
    '| scenario | step | system | pinning | participants | cmd/s | deliveries/s | p50 | p95 | p99 | all p99 | ack p99 | delivered | server CPU | CPU ms/cmd | generator CPU | p99 ratio | throughput ratio |',
    '| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const r of all.filter((x) => x.scenario === 'one-to-one' || x.scenario === 'one-case' || x.scenario === 'many-cases')) {
    if (r.error) {
      lines.push(
        `| ${r.scenario} | – | ${SYSTEM_LABEL[r.system]} | ${r.pinning} | ${r.participants} | ${r.error.startsWith('skipped') ? '' : 'failed: '}${r.error.split('\n')[0]!.replace(/\|/g, '/')} |  |  |  |  |  |  |  |  |  |  |  |  |`,
      );
      continue;
    }
    const base = reference(all, r);
    for (const s of r.steps) {
      const b = stepOf(base, s.label);
      const cpu = `${f(s.cpuPercent, 0)} %${s.redisCpuPercent !== null ? ` (+${f(s.redisCpuPercent, 0)} % Redis)` : ''}`;
      lines.push(
        `| ${r.scenario} | ${s.label} | ${SYSTEM_LABEL[r.system]} | ${r.pinning} | ${r.participants} | ${f(s.commandsPerSecond)} | ${f(s.deliveriesPerSecond, 0)} | ${f(s.delivery.p50, 2)} | ${f(s.delivery.p95, 2)} | ${f(s.delivery.p99, 2)} | ${f(s.allViewers.p99, 2)} | ${f(s.ack.p99, 2)} | ${f(s.completeness * 100, 1)} % | ${cpu} | ${f(s.cpuMsPerCommand, 2)} | ${f(s.generatorCpuPercent, 0)} % | ${f(ratio(s.delivery.p99, b?.delivery.p99), 2)} | ${s.mode === 'closed' ? f(ratio(s.deliveriesPerSecond, b?.deliveriesPerSecond), 2) : '–'} |`,
      );
    }
  }
  lines.push('');

  const connected = all.filter((r) => (r.scenario === 'one-case' || r.scenario === 'many-cases') && !r.error);
  if (connected.length) {
    lines.push(
      '#### Connecting',
      '',
      'Time until every participant had connected and had its case open, and how long the server(s) stayed busy after that (presence); measuring starts once they are quiet.',
      '',
      '| scenario | system | pinning | participants | cases | connect + open | then busy for |',
      '| --- | --- | --- | ---: | ---: | ---: | ---: |',
    );
    for (const r of connected) {
      lines.push(
        `| ${r.scenario} | ${SYSTEM_LABEL[r.system]} | ${r.pinning} | ${r.participants} | ${r.cases} | ${f(r.connectSeconds)} s | ${r.settleSeconds === null ? '**still busy at the limit**' : `${f(r.settleSeconds)} s`} |`,
      );
    }
    lines.push('');
  }

  const caps = all.filter((r) => r.capacity);
  if (caps.length) {
    lines.push(
      '#### Capacity curve (many cases)',
      '',
      'Offered load raised step by step until delivery p99 reached the limit (or deliveries went missing); ≥ means the last step still passed.',
      '',
      '| system | pinning | participants | cases | largest load with p99 under the limit | first load over it | the curve: offered cmd/s → p99 ms |',
      '| --- | --- | ---: | ---: | ---: | ---: | --- |',
    );
    for (const r of caps) {
      const c = r.capacity!;
      const curve = r.steps
        .filter((s) => s.label.startsWith('capacity '))
        .map((s) => `${f(s.offeredPerSecond, 0)} → ${f(s.delivery.p99, 1)}${s.completeness < 0.99 ? ` (${f(s.completeness * 100, 0)} % delivered)` : ''}`)
        .join(', ');
      lines.push(
        `| ${SYSTEM_LABEL[r.system]} | ${r.pinning} | ${r.participants} | ${r.cases} | ${c.largestPassingPerSecond === null ? 'none of the steps' : `${c.allPassed ? '≥ ' : ''}${f(c.largestPassingPerSecond, 0)} cmd/s`} | ${c.firstFailingPerSecond === null ? '–' : `${f(c.firstFailingPerSecond, 0)} cmd/s`} | ${curve} |`,
      );
    }
    lines.push('');
  }

  const mems = all.filter((r) => r.memory);
  if (mems.length) {
    lines.push(
      '#### Server memory (many cases)',
      '',
      'RSS of the server process(es), after a forced idle period and two full collections (through the inspector); *per participant* is (idle − before connecting) / participants.',
      '',
      '| system | pinning | participants | before connecting | idle, connected | per participant | after the load steps | Redis RSS | server CPU per participant at the goal load |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const r of mems) {
      const mm = r.memory!;
      lines.push(
        `| ${SYSTEM_LABEL[r.system]} | ${r.pinning} | ${r.participants} | ${mb(mm.baseRssBytes)} | ${mb(mm.idleRssBytes)} | ${kb(mm.perParticipantBytes)} | ${mb(mm.afterLoadRssBytes)} | ${mb(mm.redisRssBytes)} | ${f(r.steps[0]?.cpuUsPerParticipantSecond, 0)} µs/s |`,
      );
    }
    lines.push('');
  }

  const co = all.filter((r) => r.scenario === 'coedit');
  if (co.length) {
    lines.push(
      '#### Co-editing: keystroke to peer',
      '',
      '| system | pinning | step | keys/s | p50 | p95 | p99 | delivered | server CPU | p99 ratio |',
      '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const r of co) {
      const s = r.steps[0];
      if (r.error || !s) {
        lines.push(
          `| ${SYSTEM_LABEL[r.system]} | ${r.pinning} | ${r.error?.startsWith('skipped') ? '' : 'failed: '}${(r.error ?? '').split('\n')[0]!.replace(/\|/g, '/')} |  |  |  |  |  |  |  |`,
        );
        continue;
      }
      const b = reference(all, r)?.steps[0];
      lines.push(
        `| ${SYSTEM_LABEL[r.system]} | ${r.pinning} | ${s.label} | ${f(s.commandsPerSecond)} | ${f(s.delivery.p50, 2)} | ${f(s.delivery.p95, 2)} | ${f(s.delivery.p99, 2)} | ${f(s.completeness * 100, 1)} % | ${f(s.cpuPercent, 0)} % | ${f(ratio(s.delivery.p99, b?.delivery.p99), 2)} |`,
      );
    }
    lines.push('');
  }

  const storms = all.filter((r) => r.scenario === 'reconnect');
  if (storms.length) {
    lines.push(
      '#### Reconnect storm',
      '',
      'The many-cases population after a step of load: the server(s) stop as in a deploy (SIGTERM) and start again on the same ports and data; once they listen, every socket connects at the same moment and opens its case from its cursor (`since`), as the board client does after a reconnect. *All current*: from letting them go until the last board had its answer.',
      '',
      '| system | pinning | participants | stop | start until listening | connected p50 / p99 | current p50 / p99 | all current | ratio | tries again (UNAVAILABLE) | not current | whole boards / ops caught up |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
    );
    for (const r of storms) {
      const m = r.storm;
      if (r.error || !m) {
        lines.push(
          `| ${SYSTEM_LABEL[r.system]} | ${r.pinning} | ${r.participants} | ${r.error?.startsWith('skipped') ? '' : 'failed: '}${(r.error ?? '').split('\n')[0]!.replace(/\|/g, '/')} |  |  |  |  |  |  |  |  |`,
        );
        continue;
      }
      const failed =
        Object.entries(m.failures)
          .map(([k, v]) => `${v} ${k}`)
          .join(', ') || 'none';
      lines.push(
        `| ${SYSTEM_LABEL[r.system]} | ${r.pinning} | ${m.sockets} | ${f(m.stopSeconds)} s | ${f(m.startSeconds)} s | ${f(m.connected.p50, 0)} / ${f(m.connected.p99, 0)} ms | ${f(m.current.p50, 0)} / ${f(m.current.p99, 0)} ms | ${f(m.allCurrentMs, 0)} ms | ${f(ratio(m.allCurrentMs, reference(all, r)?.storm?.allCurrentMs), 2)} | ${m.retries} | ${failed} | ${m.views} / ${m.catchUpOps} |`,
      );
    }
    lines.push('');
  }

  const boards = all.filter((r) => r.scenario === 'board');
  if (boards.length) {
    lines.push(
      '#### Board load: `case:open` of a large case',
      '',
      '| system | pinning | viewer | items shown | answer size | p50 | p95 | max |',
      '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const r of boards) {
      if (r.error || !r.board) {
        lines.push(
          `| ${SYSTEM_LABEL[r.system]} | ${r.pinning} | ${r.error?.startsWith('skipped') ? '' : 'failed: '}${(r.error ?? '').split('\n')[0]!.replace(/\|/g, '/')} |  |  |  |  |  |`,
        );
        continue;
      }
      for (const o of r.board.opens)
        lines.push(
          `| ${SYSTEM_LABEL[r.system]} | ${r.pinning} | ${o.viewer} | ${o.items} of ${r.board.items} | ${kb(o.bytes)} | ${f(o.p50, 2)} ms | ${f(o.p95, 2)} ms | ${f(o.max, 2)} ms |`,
        );
    }
    lines.push('');
  }
  return lines.join('\n');
}

export const START = '<!-- bench:start -->';
export const END = '<!-- bench:end -->';

/** Replaces what sits between the markers in the document (adding them at the end when missing). */
export function writeTable(docPath: string, table: string, template: string): void {
  const doc = fs.existsSync(docPath) ? fs.readFileSync(docPath, 'utf8') : template;
  const block = `${START}\n${table}\n${END}`;
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  const next = a >= 0 && b > a ? doc.slice(0, a) + block + doc.slice(b + END.length) : `${doc.trimEnd()}\n\n${block}\n`;
  fs.writeFileSync(docPath, next);
}

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Histogram } from './stats.js';
import { sleep } from './procs.js';

export interface FsyncProbe {
  samples: number;
  p50: number;
  p99: number;
  max: number;
  /** Samples over 20 ms: stalls of the disk that a durable commit cannot avoid. */
  over20ms: number;
}

/**
 * How long an fdatasync of a 4 KB append takes on the disk the servers write to: the floor under
 * every durable commit, and on a shared machine the source of stalls no server design removes.
 * Taken at the start and the end of a run, so a figure can be read against the disk it met.
 */
export async function probeFsync(samples: number): Promise<FsyncProbe> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'casusbord-fsync-'));
  const fd = fs.openSync(path.join(dir, 'probe'), 'w');
  const block = Buffer.alloc(4096, 7);
  const h = new Histogram();
  let over = 0;
  try {
    for (let i = 0; i < samples; i++) {
      fs.writeSync(fd, block);
      const t = performance.now();
      fs.fdatasyncSync(fd);
      const ms = performance.now() - t;
      h.add(ms);
      if (ms > 20) over++;
      await sleep(10);
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const r = (x: number | null): number => Math.round((x ?? 0) * 100) / 100;
  return { samples, p50: r(h.percentile(50)), p99: r(h.percentile(99)), max: r(h.max), over20ms: over };
}

/** The machine's CPU time so far (/proc/stat, all cores, in clock ticks), or null off Linux. */
export interface CpuTimes {
  total: number;
  steal: number;
  iowait: number;
}

export function machineCpuTimes(): CpuTimes | null {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice
    const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
    return { total: v.reduce((a, b) => a + b, 0), iowait: v[4] ?? 0, steal: v[7] ?? 0 };
  } catch {
    return null;
  }
}

/** Share of the machine's CPU time between two readings that the host took (steal) or that waited on the disk. */
export function cpuShares(a: CpuTimes | null, b: CpuTimes | null): { stealPercent: number; iowaitPercent: number } | null {
  if (!a || !b || b.total <= a.total) return null;
  const d = b.total - a.total;
  return { stealPercent: Math.round((1000 * (b.steal - a.steal)) / d) / 10, iowaitPercent: Math.round((1000 * (b.iowait - a.iowait)) / d) / 10 };
}

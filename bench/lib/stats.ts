/**
 * Latency histograms that generators can send to the harness as JSON and the harness can merge:
 * logarithmic buckets 1 % wide from 10 µs up, so a percentile is off by at most 1 %.
 */
const MIN_MS = 0.01;
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);

export type HistogramJson = { counts: Record<string, number>; n: number; sum: number; max: number };

export class Histogram {
  private counts = new Map<number, number>();
  n = 0;
  sum = 0;
  max = 0;

  add(ms: number): void {
    const v = Math.max(ms, MIN_MS);
    const b = Math.floor(Math.log(v / MIN_MS) / LOG_GROWTH);
    this.counts.set(b, (this.counts.get(b) ?? 0) + 1);
    this.n++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  merge(other: Histogram | HistogramJson): this {
    const entries = other instanceof Histogram ? other.counts.entries() : Object.entries(other.counts).map(([k, c]) => [Number(k), c] as const);
    for (const [b, c] of entries) this.counts.set(b, (this.counts.get(b) ?? 0) + c);
    this.n += other.n;
    this.sum += other.sum;
    this.max = Math.max(this.max, other.max);
    return this;
  }

  /** The upper edge of the bucket holding the p-th percentile (never above the largest sample). */
  percentile(p: number): number | null {
    if (this.n === 0) return null;
    const rank = Math.max(1, Math.ceil((p / 100) * this.n));
    let seen = 0;
    for (const b of [...this.counts.keys()].sort((x, y) => x - y)) {
      seen += this.counts.get(b)!;
      if (seen >= rank) return Math.min(this.max, MIN_MS * GROWTH ** (b + 1));
    }
    return this.max;
  }

  get mean(): number | null {
    return this.n === 0 ? null : this.sum / this.n;
  }

  toJSON(): HistogramJson {
    return { counts: Object.fromEntries(this.counts), n: this.n, sum: this.sum, max: this.max };
  }

  static from(json: HistogramJson): Histogram {
    return new Histogram().merge(json);
  }
}

export interface LatencySummary {
  n: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

const round = (v: number | null, digits = 2): number | null => (v === null ? null : +v.toFixed(digits));

export function summarise(h: Histogram): LatencySummary {
  return {
    n: h.n,
    p50: round(h.percentile(50)),
    p95: round(h.percentile(95)),
    p99: round(h.percentile(99)),
    max: round(h.n ? h.max : null),
    mean: round(h.mean),
  };
}

/** A wall clock shared by every process on the machine, with sub-millisecond resolution. */
export const epochMs = (): number => performance.timeOrigin + performance.now();

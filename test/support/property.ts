// Short and long mode of the random (property) tests. CI runs the short mode: each test's own
// number of runs. CASUSBORD_PROPERTY_RUNS=N runs N instead (long mode: 10,000 random meetings and
// more), and FC_SEED=S replays the runs of seed S, as fast-check prints it on a failure.

function positiveInteger(name: string): number | null {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return null;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive whole number, not ${JSON.stringify(raw)}`);
  return n;
}

/** How many random runs to make: CASUSBORD_PROPERTY_RUNS when set, else the short mode's `short`. */
export function propertyRuns(short: number): number {
  return positiveInteger('CASUSBORD_PROPERTY_RUNS') ?? short;
}

export const longMode = (): boolean => positiveInteger('CASUSBORD_PROPERTY_RUNS') !== null;

/** The seed of the random runs: FC_SEED when set, else `fallback` (a fixed one, or a fresh one per run of the suite). */
export function propertySeed(fallback: number = Date.now() % 2 ** 31): number {
  const raw = process.env.FC_SEED;
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`FC_SEED must be a whole number, not ${JSON.stringify(raw)}`);
  return n;
}

/** A test's time limit for `runs` runs of about `perRunMs` each, never under the suite's minute. */
export const timeoutFor = (runs: number, perRunMs: number): number => Math.max(60_000, runs * perRunMs);

/** In long mode, a line every `every` runs, so a run of hours shows it is moving. */
export function progress(label: string, total: number, every = 100): () => void {
  let done = 0;
  const started = Date.now();
  return () => {
    done++;
    if (longMode() && done % every === 0) {
      const s = Math.round((Date.now() - started) / 1000);
      const mb = Math.round(process.memoryUsage().rss / 2 ** 20);
      console.log(`${label}: ${done} of ${total} runs in ${s} s (test process ${mb} MB)`);
    }
  };
}

/** A seeded source of numbers in [0, 1) (mulberry32): the same seed gives the same choices. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

import type { Topology } from './servers.js';

/**
 * Sizes of every scenario, from the environment. BENCH_QUICK=1 is a smoke run (under a minute);
 * without it the full run (under fifteen minutes on two cores). Any size can be set on its own.
 */
const env = process.env;
export const QUICK = env.BENCH_QUICK === '1';
const num = (name: string, full: number, quick: number): number => {
  const v = env[name];
  if (v === undefined || v === '') return QUICK ? quick : full;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number (got ${JSON.stringify(v)})`);
  return n;
};
const list = (name: string, full: string, quick: string): string[] =>
  (env[name] ?? (QUICK ? quick : full))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export const config = {
  quick: QUICK,
  /** Which systems run: baseline is the plain broadcast (and the y-websocket reference for co-editing). */
  systems: list('BENCH_SYSTEMS', 'baseline,sqlite,redis', 'baseline,sqlite,redis') as Topology[],
  /** pinned: servers on core 0, generators on core 1 (taskset); unpinned: wherever the kernel puts them. */
  pinnings: list('BENCH_PINNING', 'pinned,unpinned', 'pinned'),
  scenarios: list('BENCH_SCENARIOS', 'one-to-one,one-case,many-cases,coedit,board,reconnect', 'one-to-one,one-case,many-cases,coedit,board,reconnect'),
  /** The unpinned pass repeats these (the board load is one client: pinning hardly matters to it; the storm is pinned only). */
  unpinnedScenarios: list('BENCH_UNPINNED_SCENARIOS', 'one-to-one,one-case,many-cases,coedit', 'one-to-one,one-case,many-cases,coedit'),
  /** Past this many seconds no further scenario starts (recorded as skipped), so a full run ends within 15 minutes. */
  budgetSeconds: num('BENCH_BUDGET_S', 800, 600),
  /** Characters of item text per command. */
  textChars: num('BENCH_TEXT_CHARS', 200, 200),
  /** Server processes on one Redis. */
  redisProcesses: num('BENCH_REDIS_PROCESSES', 3, 3),
  stepMs: num('BENCH_STEP_MS', 3500, 700),
  drainMs: num('BENCH_DRAIN_MS', 1000, 200),
  /** An unrecorded step at the first rate before measuring: JIT, connection pools, caches. */
  warmupMs: num('BENCH_WARMUP_MS', 1000, 0),
  /**
   * The warm-up after the idle-memory reading: its forced full collections shrink the heap, and
   * regrowing it cost the first recorded step a p99 four times that of the same load later on
   * (SQLite, pinned: 120 ms against 28 ms; 30 ms without the reading).
   */
  warmupAfterGcMs: num('BENCH_WARMUP_AFTER_GC_MS', 5000, 0),
  oneToOne: { rate: num('BENCH_1TO1_RATE', 50, 50) },
  oneCase: {
    viewers: num('BENCH_ONECASE_VIEWERS', 1500, 60),
    rate: num('BENCH_ONECASE_RATE', 5, 5),
    generators: num('BENCH_ONECASE_GENERATORS', 3, 1),
  },
  manyCases: {
    cases: num('BENCH_CASES', 500, 20),
    perCase: num('BENCH_PER_CASE', 10, 5),
    /** Commands per second per case at the goal load. */
    rate: num('BENCH_CASE_RATE', 1, 1),
    generators: num('BENCH_GENERATORS', 3, 1),
    /** Sets of ten accounts seating the cases (the demo accounts and ones the bench creates). */
    families: num('BENCH_FAMILIES', 5, 1),
    /** The capacity curve: commands per second per case, step by step until p99 passes the limit. */
    capacitySteps: list('BENCH_CAPACITY_STEPS', '0.25,0.5,1,2,4,8', '2').map(Number),
    capacityStepMs: num('BENCH_CAPACITY_STEP_MS', 3000, 700),
    capacityLimitMs: num('BENCH_CAPACITY_LIMIT_MS', 50, 50),
    /** Pinnings that run the capacity curve (it is the longest part). */
    capacityPinnings: list('BENCH_CAPACITY_PINNING', 'pinned', 'pinned'),
  },
  coedit: {
    writers: num('BENCH_WRITERS', 5, 5),
    readers: num('BENCH_READERS', 20, 5),
    keysPerSecond: num('BENCH_KEYS_PER_SECOND', 10, 10),
    /**
     * Longer than the board's steps: 50 keystrokes a second reach each of 24 peers, so the p99 of a
     * 3.5 s step rested on its two slowest keystrokes, and the reference's own p99 ranged over
     * 5.2–8.5 ms in runs back to back.
     */
    stepMs: num('BENCH_COEDIT_STEP_MS', 12000, 700),
  },
  board: { items: num('BENCH_BOARD_ITEMS', 500, 100), repeats: num('BENCH_BOARD_REPEATS', 10, 3) },
  /** The forced idle period before idle memory is read. */
  idleMs: num('BENCH_IDLE_MS', 5000, 300),
  /** After connecting, wait at most this long for the server to go quiet before measuring. */
  settleMaxMs: num('BENCH_SETTLE_MAX_MS', 30000, 15000),
  /** Sockets connecting at once per generator. */
  concurrency: num('BENCH_CONNECT_CONCURRENCY', 50, 20),
};

export type Config = typeof config;

import type { Parameters } from 'fast-check';

/**
 * Seeds of the random (property) tests that once failed, kept as named regression tests that
 * every `npm test` runs before the random runs, whatever the seed of the day.
 *
 * When a property test fails, fast-check prints the seed and the path of the shrunk counterexample
 * (`{ seed: -1819918769, path: "0:1:3", endOnFailure: true }`). Add it here under the test that
 * failed, with a name and what went wrong; fix the code; the entry stays. The pair replays exactly
 * that counterexample as long as the arbitrary it came from (`leakScenario.ts`) is unchanged: when
 * that changes, replay each entry and check it still makes its case (or write it as a scripted test).
 */
export interface SeedRegression {
  /** Short and stable: the test's name. */
  name: string;
  /** The rule or guarantee ids the failure broke, for the test name. */
  ids: string;
  seed: number;
  path: string;
  /** What the counterexample showed, and the commit that fixed it. */
  why: string;
}

/** The leak property on one process (`leak.property.test.ts`). */
export const LEAK_ONE_PROCESS: SeedRegression[] = [];

/** The leak property over three processes (`cluster.leak.test.ts`). */
export const LEAK_THREE_PROCESSES: SeedRegression[] = [];

/** fast-check parameters that replay only the counterexample of `r`. */
export function replaying<T>(r: Pick<SeedRegression, 'seed' | 'path'>): Parameters<T> {
  return { seed: r.seed, path: r.path, endOnFailure: true, verbose: 1 };
}

/** The test name of a regression. */
export const regressionName = (r: SeedRegression): string => `${r.ids} regression "${r.name}" (seed ${r.seed}, path ${r.path})`;

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { replaying } from '../support/regressions.js';

// The mechanism that keeps a failing seed as a regression test: the seed and path fast-check
// reports replay exactly its shrunk counterexample, once, and fail as it did.
describe('seed regressions', () => {
  // Fails for a list holding a number of 50 or more among at least three: shrinking has work to do.
  const failing = fc.property(fc.array(fc.nat(100)), (xs) => !(xs.length >= 3 && xs.some((x) => x >= 50)));

  it('replays the shrunk counterexample of a failure from its seed and path, and only that', () => {
    const first = fc.check(failing, { seed: 20_261_130, numRuns: 1_000 });
    expect(first.failed).toBe(true);
    const { seed, counterexamplePath, counterexample } = first;
    expect(counterexamplePath).not.toBeNull();

    const seen: number[][] = [];
    const again = fc.check(
      fc.property(fc.array(fc.nat(100)), (xs) => {
        seen.push(xs);
        return !(xs.length >= 3 && xs.some((x) => x >= 50));
      }),
      replaying({ seed, path: counterexamplePath! }),
    );
    expect(again.failed).toBe(true);
    expect(seen).toEqual([counterexample![0]]);
  });
});

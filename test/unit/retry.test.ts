import { describe, expect, it } from 'vitest';
import { UNAVAILABLE_FIRST_RETRY_MS, UNAVAILABLE_RETRY_AFTER_MS } from '../../shared/limits.js';
import { retryDelay } from '../../client/src/lib/retry.js';

describe('P-REDIS: the client waits longer after each UNAVAILABLE answer, up to a bound', () => {
  it('doubles from the first wait to the longest, each within a fifth of it', () => {
    for (let attempt = 0; attempt < 30; attempt++) {
      const base = Math.min(UNAVAILABLE_FIRST_RETRY_MS * 2 ** attempt, UNAVAILABLE_RETRY_AFTER_MS);
      for (let i = 0; i < 50; i++) {
        const d = retryDelay(attempt);
        expect(d).toBeGreaterThanOrEqual(base * 0.8);
        expect(d).toBeLessThanOrEqual(base * 1.2);
      }
    }
  });
});

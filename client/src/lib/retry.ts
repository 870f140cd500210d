import { UNAVAILABLE_FIRST_RETRY_MS, UNAVAILABLE_RETRY_AFTER_MS } from '../../../shared/limits.js';

/** What is shown while a request the server could not serve now is tried again. */
export const RETRYING_TEXT = 'Casusbord is tijdelijk niet beschikbaar. We proberen het opnieuw…';

/**
 * The wait before try `attempt + 1` after an UNAVAILABLE answer: doubling from
 * UNAVAILABLE_FIRST_RETRY_MS up to UNAVAILABLE_RETRY_AFTER_MS, each a little shorter or longer, so
 * the tabs of a whole house do not come back at the same moment.
 */
export function retryDelay(attempt: number): number {
  const base = Math.min(UNAVAILABLE_FIRST_RETRY_MS * 2 ** Math.max(0, attempt), UNAVAILABLE_RETRY_AFTER_MS);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

export const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waiting in tests, always with a deadline: a wait that never ends fails the test after `ms` with
 * a message that says what it waited for, instead of running into the runner's timeout (which
 * names nothing) or, in a loop, holding the run up for good.
 */

/** What a test waits for before it fails, unless it says otherwise. */
export const WAIT_MS = 10_000;

/** `promise`, or a failure after `ms` naming `what`. */
export function within<T>(what: string, promise: Promise<T>, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`waited ${ms} ms for ${what}`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * The first value of `check` other than undefined or false, asked at once and again each time the
 * listener handed to `subscribe` is called (subscribe returns the unsubscribe); fails after `ms`.
 */
export function when<T>(what: string, check: () => T | undefined | false, subscribe: (listener: () => void) => () => void, ms = WAIT_MS): Promise<T> {
  return new Promise((resolve, reject) => {
    let off: (() => void) | null = null;
    let done = false;
    const finish = (): void => {
      done = true;
      clearTimeout(timer);
      off?.();
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`waited ${ms} ms for ${what}`));
    }, ms);
    const run = (): void => {
      if (done) return;
      const v = check();
      if (v === undefined || v === false) return;
      finish();
      resolve(v);
    };
    off = subscribe(run);
    if (done) off();
    run();
  });
}

/**
 * Asks `check` again each turn of the event loop (or every `pauseMs`, for a check that costs a
 * request) until it holds, for state that tells no event (another process's position, a Redis's
 * client list, a scrape); fails after `ms` naming `what`.
 */
export async function poll(
  what: string,
  check: () => boolean | Promise<boolean>,
  { ms = WAIT_MS, pauseMs = 0 }: { ms?: number; pauseMs?: number } = {},
): Promise<void> {
  const until = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() >= until) throw new Error(`waited ${ms} ms for ${what}`);
    await new Promise((resolve) => (pauseMs > 0 ? setTimeout(resolve, pauseMs) : setImmediate(resolve)));
  }
}

import type { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import { REPEATED_ERROR_LOG_EVERY_MS } from '../shared/limits.js';

/**
 * Structured JSON logs. They never carry case content: only ids, codes and counts that the
 * operator needs. Texts, titles, names and goals stay in the file (R-FILE).
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'casusbord' },
    // A second guard: should anyone log a payload by mistake, these fields never leave the process.
    redact: {
      paths: [
        'text',
        'title',
        'goal',
        'subjectNote',
        'password',
        '*.text',
        '*.title',
        '*.goal',
        '*.subjectNote',
        '*.password',
        'input',
        '*.input',
        'req.headers.cookie',
      ],
      censor: '[weggelaten]',
    },
  });
}

/**
 * Logs errors that may come in floods (a Redis that is away fails every reconnect, every few
 * hundred ms, alike): each distinct message the first time, then at most once per `everyMs` with
 * `repeated`, how many were left out since its last line. `flush` tells what was left out at once
 * (when the cause is over), as `<msg>: repeats` lines, and starts afresh, so the next outage's
 * first error is logged at once again.
 */
export class RepeatedErrorLog {
  private readonly seen = new Map<string, { loggedAt: number; since: number }>();

  constructor(
    private readonly log: Logger,
    private readonly fields: Record<string, string>,
    private readonly msg: string,
    private readonly everyMs = REPEATED_ERROR_LOG_EVERY_MS,
    private readonly now: () => number = Date.now,
  ) {}

  report(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: unknown } | null)?.code;
    const t = this.now();
    const s = this.seen.get(message);
    if (s && t - s.loggedAt < this.everyMs) {
      s.since++;
      return;
    }
    // Messages differ by little (an address, a port): the map stays small, but is cut when it is not.
    if (this.seen.size >= 100) this.seen.clear();
    this.seen.set(message, { loggedAt: t, since: 0 });
    this.log.warn({ ...this.fields, err: message, ...(typeof code === 'string' ? { code } : {}), ...(s ? { repeated: s.since } : {}) }, this.msg);
  }

  flush(): void {
    for (const [message, s] of this.seen) if (s.since > 0) this.log.warn({ ...this.fields, err: message, repeated: s.since }, `${this.msg}: repeats`);
    this.seen.clear();
  }
}

/**
 * The one error listener of a Redis client in the server (node-redis ends the process on an
 * 'error' nobody hears): every error is logged, floods of the same one thinned out, and what was
 * thinned out is told when the connection is ready again.
 */
export function logRedisErrors(client: EventEmitter, link: string, log: Logger): void {
  const errors = new RepeatedErrorLog(log, { link }, 'Redis client error');
  client.on('error', (err: unknown) => errors.report(err));
  client.on('ready', () => errors.flush());
}

export type { Logger };

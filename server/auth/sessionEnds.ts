import { SESSION_CHECK_EVERY_MS } from '../../shared/limits.js';
import type { SessionEndBus } from '../cluster/cluster.js';
import type { Logger } from '../log.js';
import type { Sessions } from './sessions.js';

/** An endpoint whose connections live on a session (the board's sockets, co-editing connections). */
export interface SessionHolder {
  /** The sessions its open connections run on. */
  sessionHashes(): Iterable<string>;
  /** Closes every connection of these sessions at once; nothing they send after is handled. */
  endSessions(idHashes: readonly string[]): void;
}

/**
 * Ends connections with their session, on every endpoint and every process: logout, an account
 * disabled, new roles or password (told here), and idle expiry or maximum age (found by a sweep).
 */
export class SessionEnds {
  private readonly holders: SessionHolder[] = [];
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(
    private readonly sessions: Sessions,
    private readonly cluster: SessionEndBus,
    private readonly log: Logger,
  ) {
    cluster.onSessionsEnded((ids) => this.endHere(ids));
    // Back from a break of the link: ends announced meanwhile did not reach this process.
    cluster.onResync(() => {
      this.sweep().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'session sweep failed'));
    });
    this.sweepTimer = setInterval(() => {
      this.sweep().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'session sweep failed'));
    }, SESSION_CHECK_EVERY_MS);
    this.sweepTimer.unref();
  }

  add(holder: SessionHolder): void {
    this.holders.push(holder);
  }

  /**
   * These sessions ended (already gone from the store): their connections close everywhere.
   * Resolves once every process has closed them, so whoever ended a session (a logout, an admin)
   * is answered only when nothing typed after it can be taken anywhere.
   */
  async end(idHashes: readonly string[]): Promise<void> {
    if (idHashes.length === 0) return;
    this.endHere(idHashes);
    await this.cluster.sessionsEnded(idHashes);
  }

  private endHere(idHashes: readonly string[]): void {
    for (const h of this.holders) {
      try {
        h.endSessions(idHashes);
      } catch (err) {
        this.log.error({ err }, 'ending sessions failed');
      }
    }
  }

  /** Ends this process's connections whose session no longer holds (idle, too old, user disabled). */
  async sweep(): Promise<void> {
    const hashes = new Set<string>();
    for (const h of this.holders) for (const id of h.sessionHashes()) hashes.add(id);
    const ended: string[] = [];
    for (const id of hashes) if (!(await this.sessions.check(id, false))) ended.push(id);
    if (ended.length > 0) this.endHere(ended);
  }

  close(): void {
    clearInterval(this.sweepTimer);
  }
}

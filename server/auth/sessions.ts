import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Viewer } from '../../shared/domain.js';
import type { UserId } from '../../shared/ids.js';
import { SESSION_IDLE_MS, SESSION_MAX_AGE_MS } from '../../shared/limits.js';
import type { Directory } from '../directory/directory.js';
import { RepeatedErrorLog, type Logger } from '../log.js';
import type { SessionStore } from '../store/types.js';

export const SESSION_COOKIE = 'cb_session';

export interface Session {
  idHash: string;
  viewer: Viewer;
}

const hashId = (id: string): string => createHash('sha256').update(id).digest('base64url');

/** Parses one cookie out of a Cookie header without trusting its shape. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_-]{20,100}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}

/** Server-side sessions: the cookie holds a random id, the store only its hash. */
export class Sessions {
  // Writing last-seen on every request is wasted I/O; once a minute keeps idle expiry accurate enough.
  private static readonly TOUCH_EVERY_MS = 60_000;
  /** A failed touch only makes idle expiry come early; with the store away every request's would fail. */
  private readonly touchErrors: RepeatedErrorLog;

  constructor(
    private readonly store: SessionStore,
    private readonly dir: Directory,
    log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.touchErrors = new RepeatedErrorLog(log, {}, 'session last-seen not stored');
  }

  async create(userId: UserId): Promise<{ cookieValue: string; idHash: string }> {
    const cookieValue = randomBytes(32).toString('base64url');
    const t = this.now();
    const idHash = hashId(cookieValue);
    await this.store.putSession({ idHash, userId, createdAt: t, lastSeenAt: t });
    return { cookieValue, idHash };
  }

  /** The hash of the request's session cookie, whether or not that session is still valid. */
  idHashOf(req: Pick<IncomingMessage, 'headers'>): string | undefined {
    const value = readCookie(req.headers.cookie, SESSION_COOKIE);
    return value === undefined ? undefined : hashId(value);
  }

  /** The session behind a request's cookie, when it exists, is fresh and its user is active. */
  async resolve(req: Pick<IncomingMessage, 'headers'>): Promise<Session | undefined> {
    const idHash = this.idHashOf(req);
    return idHash === undefined ? undefined : this.check(idHash, true);
  }

  /**
   * Whether a session still holds: not idle too long, not older than a working day, its user
   * active. `activity` counts as use of the session (a request, a command).
   */
  async check(idHash: string, activity: boolean): Promise<Session | undefined> {
    const s = await this.store.getSession(idHash);
    if (!s) return undefined;
    const t = this.now();
    if (t - s.lastSeenAt > SESSION_IDLE_MS || t - s.createdAt > SESSION_MAX_AGE_MS) {
      await this.store.deleteSession(idHash);
      return undefined;
    }
    const user = this.dir.user(s.userId);
    if (!user || !user.active) return undefined;
    // Not awaited: a socket's handshake must not wait for a commit between reading its session and
    // joining the session's room, or a logout in between would miss it. A touch never brings
    // back a session deleted meanwhile (Store.touchSession).
    if (activity && t - s.lastSeenAt > Sessions.TOUCH_EVERY_MS) void this.store.touchSession(idHash, t).catch((err: unknown) => this.touchErrors.report(err));
    return { idHash, viewer: { userId: user.id, orgId: user.orgId, roles: user.roles } };
  }

  async destroy(idHash: string): Promise<void> {
    await this.store.deleteSession(idHash);
  }

  async destroyAllOf(userId: UserId): Promise<string[]> {
    return this.store.deleteSessionsOf(userId);
  }
}

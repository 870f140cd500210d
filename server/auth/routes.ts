import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { UserRole, Viewer } from '../../shared/domain.js';
import { loginThrottledText } from '../../shared/errors.js';
import { SESSION_IDLE_MS } from '../../shared/limits.js';
import type { Directory as DirectoryView, Me } from '../../shared/protocol.js';
import { LoginSchema } from '../../shared/schemas.js';
import type { Directory } from '../directory/directory.js';
import { HttpError, parseBody } from '../http/errors.js';
import type { AccessRecord, SessionStore } from '../store/types.js';
import type { AccessLog } from '../audit/accessLog.js';
import { DUMMY_HASH_PROMISE, verifyPassword } from './passwords.js';
import { SESSION_COOKIE, type Session, type Sessions } from './sessions.js';
import { LoginThrottle } from './throttle.js';

export interface AuthDeps {
  store: SessionStore;
  dir: Directory;
  sessions: Sessions;
  access: AccessLog;
  cookieSecure: boolean;
  addressOf: (req: Request) => string;
  /** Resolves once every process has closed the connections of these sessions. */
  onLogout: (idHashes: string[]) => Promise<void>;
  /** The clock of login throttling: tests move it instead of waiting. */
  now?: () => number;
}

export function meOf(dir: Directory, viewer: Viewer): Me {
  const u = dir.user(viewer.userId)!;
  return { userId: u.id, username: u.username, displayName: u.displayName, orgId: u.orgId, roles: u.roles };
}

/** Resolves the session into res.locals.session, or answers 401. */
export function requireSession(sessions: Sessions): RequestHandler {
  return async (req, res, next) => {
    const s = await sessions.resolve(req);
    if (!s) throw new HttpError(401, 'UNAUTHENTICATED');
    res.locals.session = s;
    next();
  };
}

export const sessionOf = (res: Response): Session => res.locals.session as Session;

/** After requireSession: only a user with this role of the house goes on; others get 403. */
export function requireRole(role: UserRole): RequestHandler {
  return (_req, res, next) => {
    if (!sessionOf(res).viewer.roles.includes(role)) throw new HttpError(403, 'FORBIDDEN');
    next();
  };
}

export function authRoutes(d: AuthDeps): Router {
  const r = Router();
  const authRecord = (req: Request, action: 'login' | 'logout', outcome: AccessRecord['outcome'], viewer?: Viewer): AccessRecord => ({
    at: new Date().toISOString(),
    action,
    operation: action,
    caseId: null,
    itemId: null,
    userId: viewer?.userId ?? null,
    orgId: viewer?.orgId ?? null,
    role: 'none',
    purpose: 'aanmelden',
    address: d.addressOf(req),
    outcome,
  });

  const throttle = new LoginThrottle(d.store, d.now ?? Date.now, d.cookieSecure);
  r.post('/login', async (req, res) => {
    const { username, password } = parseBody(LoginSchema, req.body);
    const name = username.toLowerCase();
    const user = d.dir.userByUsername(name);
    const viewer = user ? { userId: user.id, orgId: user.orgId, roles: user.roles } : undefined;
    const attempt = await throttle.begin(req, name, user?.id, d.addressOf(req));
    if (!attempt.ok) {
      d.access.record(authRecord(req, 'login', 'denied', viewer));
      const seconds = Math.ceil(attempt.retryAfterMs / 1000);
      res.setHeader('Retry-After', String(seconds));
      throw new HttpError(429, 'LOGIN_THROTTLED', loginThrottledText(seconds, attempt.newDevice));
    }
    // Unknown users cost a full scrypt too, so response time does not tell who has an account.
    const ok = await verifyPassword(password, user?.passwordHash ?? (await DUMMY_HASH_PROMISE));
    if (!ok || !user || !user.active) {
      d.access.record(authRecord(req, 'login', 'denied', viewer));
      throw new HttpError(401, 'LOGIN_FAILED');
    }
    await attempt.succeeded(res, user.id);
    // A new login replaces whatever session this browser had.
    const previous = d.sessions.idHashOf(req);
    if (previous) {
      await d.sessions.destroy(previous);
      await d.onLogout([previous]);
    }
    const { cookieValue } = await d.sessions.create(user.id);
    res.cookie(SESSION_COOKIE, cookieValue, {
      httpOnly: true,
      sameSite: 'strict',
      secure: d.cookieSecure,
      path: '/',
      maxAge: SESSION_IDLE_MS,
    });
    d.access.record(authRecord(req, 'login', 'ok', viewer));
    res.json({ me: meOf(d.dir, viewer!) });
  });

  r.post('/logout', async (req, res) => {
    const s = await d.sessions.resolve(req);
    // Even an expired session may still have sockets open: end them by the cookie's hash.
    const idHash = s?.idHash ?? d.sessions.idHashOf(req);
    if (idHash) {
      await d.sessions.destroy(idHash);
      await d.onLogout([idHash]);
    }
    if (s) d.access.record(authRecord(req, 'logout', 'ok', s.viewer));
    res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', secure: d.cookieSecure, path: '/' });
    res.status(204).end();
  });

  r.get('/me', requireSession(d.sessions), (_req, res) => {
    res.json({ me: meOf(d.dir, sessionOf(res).viewer) });
  });

  r.get('/directory', requireSession(d.sessions), (_req, res) => {
    const { viewer } = sessionOf(res);
    const seesPeople = viewer.roles.includes('chair') || viewer.roles.includes('privacy');
    const body: DirectoryView = {
      orgs: d.dir.allOrgs(),
      tables: d.dir.allTables(),
      // Chairs compose case tables and the privacy officer asks about people, so they see who
      // works where; others need no staff list.
      people: seesPeople
        ? d.dir
            .allUsers()
            .filter((u) => u.active)
            .map((u) => ({ userId: u.id, name: u.displayName, orgId: u.orgId }))
        : [],
      recordsBsn: d.dir.recordsBsn,
    };
    res.json(body);
  });

  return r;
}

import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Viewer } from '../../shared/domain.js';
import { LOGIN_LOCK_MS, LOGIN_MAX_FAILURES, SESSION_IDLE_MS } from '../../shared/limits.js';
import type { Directory as DirectoryView, Me } from '../../shared/protocol.js';
import { LoginSchema } from '../../shared/schemas.js';
import type { Directory } from '../directory/directory.js';
import { HttpError, parseBody } from '../http/errors.js';
import type { AccessRecord, Store } from '../store/types.js';
import type { AccessLog } from '../audit/accessLog.js';
import { DUMMY_HASH_PROMISE, verifyPassword } from './passwords.js';
import { SESSION_COOKIE, type Session, type Sessions } from './sessions.js';

// An address sees more failures than one account before it is locked: a shared office NAT.
const ADDRESS_FAILURE_FACTOR = 4;

export interface AuthDeps {
  store: Store;
  dir: Directory;
  sessions: Sessions;
  access: AccessLog;
  cookieSecure: boolean;
  addressOf: (req: Request) => string;
  onLogout: (idHashes: string[]) => void;
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

  r.post('/login', async (req, res) => {
    const { username, password } = parseBody(LoginSchema, req.body);
    const now = Date.now();
    const userKey = `u:${username.toLowerCase()}`;
    const addrKey = `a:${d.addressOf(req)}`;
    const [uf, af] = await Promise.all([d.store.getLoginFailures(userKey), d.store.getLoginFailures(addrKey)]);
    const user = d.dir.userByUsername(username.toLowerCase());
    const viewer = user ? { userId: user.id, orgId: user.orgId, roles: user.roles } : undefined;
    if (uf.lockedUntil > now || af.lockedUntil > now) {
      d.access.record(authRecord(req, 'login', 'denied', viewer));
      throw new HttpError(429, 'LOGIN_LOCKED');
    }
    // Unknown users cost a full scrypt too, so response time does not tell who has an account.
    const ok = await verifyPassword(password, user?.passwordHash ?? (await DUMMY_HASH_PROMISE));
    if (!ok || !user || !user.active) {
      const [u2] = await Promise.all([
        d.store.recordLoginFailure(userKey, now, LOGIN_MAX_FAILURES, LOGIN_LOCK_MS),
        d.store.recordLoginFailure(addrKey, now, LOGIN_MAX_FAILURES * ADDRESS_FAILURE_FACTOR, LOGIN_LOCK_MS),
      ]);
      d.access.record(authRecord(req, 'login', 'denied', viewer));
      throw new HttpError(u2.lockedUntil > now ? 429 : 401, u2.lockedUntil > now ? 'LOGIN_LOCKED' : 'LOGIN_FAILED');
    }
    await d.store.clearLoginFailures(userKey);
    // A new login replaces whatever session this browser had.
    const previous = d.sessions.idHashOf(req);
    if (previous) {
      await d.sessions.destroy(previous);
      d.onLogout([previous]);
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
      d.onLogout([idHash]);
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
    const isChair = viewer.roles.includes('chair');
    const body: DirectoryView = {
      orgs: d.dir.allOrgs(),
      tables: d.dir.allTables(),
      // Chairs compose case tables, so they see who works where; others need no staff list.
      people: isChair
        ? d.dir
            .allUsers()
            .filter((u) => u.active)
            .map((u) => ({ userId: u.id, name: u.displayName, orgId: u.orgId }))
        : [],
    };
    res.json(body);
  });

  return r;
}

import { createHash, randomBytes } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Response } from 'express';
import type { UserId } from '../../shared/ids.js';
import { LOGIN_DEVICE_TRUST_MS, LOGIN_THROTTLE_ACCOUNT, LOGIN_THROTTLE_ADDRESS, LOGIN_THROTTLE_DEVICE } from '../../shared/limits.js';
import type { LoginBucket, SessionStore } from '../store/types.js';
import { readCookie } from './sessions.js';

/** Set at each login; says "this browser logged in to this account before". */
export const DEVICE_COOKIE = 'cb_device';
// Sent with login requests only: nothing else needs it.
const DEVICE_COOKIE_PATH = '/api/login';
/** No account has it: a name that is no account costs the same look-ups as one that is. */
const NO_USER = '-' as UserId;

const sha256 = (value: string): string => createHash('sha256').update(value).digest('base64url');

/**
 * What an address is counted as. IPv6 by its /64: one host usually holds a whole /64, and would
 * otherwise have 2^64 fresh allowances. An IPv4 address mapped into IPv6 is that IPv4 address.
 */
export function addressGroup(address: string): string {
  const bare = address.split('%')[0]!.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  if (!isIPv6(bare)) return bare;
  const [head = '', tail] = bare.split('::');
  const groups = (part: string | undefined): string[] => (part ? part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return `${all
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

export type LoginAttempt =
  | { ok: false; retryAfterMs: number; newDevice: boolean }
  | {
      ok: true;
      /** The password was right: takes the attempt back and marks the browser as known to the account. */
      succeeded(res: Response, userId: UserId): Promise<void>;
    };

/**
 * Login throttling that a stranger cannot turn against the owner (shared/limits.ts has the
 * numbers and why). A browser that logged in to the account before (its device cookie is known
 * to that account) is held back by its own failures only. Any other browser is held back by the
 * failures of all browsers new to the account together, and by those from its address. Whether
 * the account exists changes none of this.
 */
export class LoginThrottle {
  constructor(
    private readonly store: SessionStore,
    private readonly now: () => number,
    private readonly cookieSecure: boolean,
  ) {}

  /** Counts an attempt before its password is checked; a failure simply leaves it counted. */
  async begin(req: Pick<IncomingMessage, 'headers'>, username: string, userId: UserId | undefined, address: string): Promise<LoginAttempt> {
    const now = this.now();
    const token = readCookie(req.headers.cookie, DEVICE_COOKIE);
    const deviceHash = token === undefined ? undefined : sha256(token);
    const known = deviceHash !== undefined && (await this.store.isLoginDevice(deviceHash, userId ?? NO_USER, now));
    const buckets: LoginBucket[] = known
      ? [{ key: `device:${userId}:${deviceHash}`, policy: LOGIN_THROTTLE_DEVICE }]
      : [
          { key: `account:${username}`, policy: LOGIN_THROTTLE_ACCOUNT },
          { key: `address:${addressGroup(address)}`, policy: LOGIN_THROTTLE_ADDRESS },
        ];
    const retryAt = await this.store.takeLoginAttempt(buckets, now);
    if (retryAt > now) return { ok: false, retryAfterMs: retryAt - now, newDevice: !known };
    return {
      ok: true,
      succeeded: async (res, id) => {
        // The owner's own device forgets its typos. A new device takes back only its own attempt:
        // the owner's success must not hand a guesser elsewhere a fresh allowance.
        if (known) await this.store.clearLoginFailures(buckets[0]!.key);
        else await this.store.returnLoginAttempt(buckets.map((b) => b.key));
        // A fresh value for a browser new to the account: a cookie planted in it is never adopted.
        const value = known ? token! : randomBytes(32).toString('base64url');
        await this.store.rememberLoginDevice(sha256(value), id, this.now(), LOGIN_DEVICE_TRUST_MS);
        res.cookie(DEVICE_COOKIE, value, {
          httpOnly: true,
          sameSite: 'strict',
          secure: this.cookieSecure,
          path: DEVICE_COOKIE_PATH,
          maxAge: LOGIN_DEVICE_TRUST_MS,
        });
      },
    };
  }
}

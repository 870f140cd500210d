import { randomBytes, scryptSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrgId, UserId } from '../../shared/ids.js';
import { LOGIN_THROTTLE_ACCOUNT, LOGIN_THROTTLE_ADDRESS } from '../../shared/limits.js';
import { DEVICE_COOKIE } from '../../server/auth/throttle.js';
import { DEMO_PASSWORD } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';

// The throttle's clock is the test's: a wait is a step of the clock, not a sleep.
let clock = Date.UTC(2026, 10, 30, 8);
let srv: TestServer;
beforeAll(async () => {
  // Behind one trusted proxy: X-Forwarded-For names the address, so every scenario has its own.
  srv = await startTestServer({ loginNow: () => clock, env: { TRUST_PROXY: '1' } });
});
afterAll(async () => srv?.close());

const WRONG = 'fout-wachtwoord';
const PASSWORD = 'test-wachtwoord';

/**
 * Accounts with PASSWORD, stored as scrypt with N = 2^10 (the stored hash names its parameters):
 * checked in a millisecond, so the hundreds of guesses the throttle lets through cost seconds,
 * not minutes. Where it matters that a guess costs what it does in production (a name that is no
 * account against one that is), the demo accounts serve.
 */
async function accounts(usernames: string[]): Promise<void> {
  const salt = randomBytes(16);
  const key = scryptSync(PASSWORD.normalize('NFKC'), salt, 32, { N: 1024, r: 8, p: 1 });
  const passwordHash = ['scrypt', 1024, 8, 1, salt.toString('base64url'), key.toString('base64url')].join('$');
  for (const username of usernames) {
    await srv.app.store.putUser({
      id: `usr_${username}` as UserId,
      username,
      displayName: username,
      orgId: 'org_leeuwarden' as OrgId,
      roles: [],
      active: true,
      passwordHash,
    });
  }
  await srv.app.dir.load();
}

interface Answer {
  status: number;
  code: string | undefined;
  message: string | undefined;
  /** Seconds, from the Retry-After header. */
  retryAfter: number | undefined;
}

/** A browser: what it keeps between logins is the device cookie. */
class Browser {
  device: string | undefined;
  deviceCookie: string | undefined;

  /** One login from `address` (through the proxy), or from the test's own peer without one. */
  async login(username: string, password: string, address?: string): Promise<Answer> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (address) headers['x-forwarded-for'] = address;
    if (this.device) headers.cookie = `${DEVICE_COOKIE}=${this.device}`;
    const res = await fetch(`${srv.url}/api/login`, { method: 'POST', headers, body: JSON.stringify({ username, password }) });
    for (const c of res.headers.getSetCookie()) {
      const m = new RegExp(`^${DEVICE_COOKIE}=([^;]*)`).exec(c);
      if (m) [this.deviceCookie, this.device] = [c, m[1]];
    }
    const body = (await res.json()) as { error?: { code: string; message: string } };
    const retryAfter = res.headers.get('retry-after');
    return { status: res.status, code: body.error?.code, message: body.error?.message, retryAfter: retryAfter === null ? undefined : Number(retryAfter) };
  }
}

/** The owner's browser after one login from `address`. */
async function ownerDevice(username: string, address: string, password = PASSWORD): Promise<Browser> {
  const b = new Browser();
  expect((await b.login(username, password, address)).status).toBe(200);
  expect(b.device).toBeDefined();
  return b;
}

/**
 * Guesses wrong until `failures` guesses were checked (401), waiting out each throttled answer
 * by moving the clock; each guess from a fresh browser and, with `addresses`, from the next one.
 * Returns the waits it was told, in seconds.
 */
async function guess(username: string, failures: number, addresses: (n: number) => string): Promise<number[]> {
  const waits: number[] = [];
  for (let n = 0; n < failures;) {
    const a = await new Browser().login(username, WRONG, addresses(n));
    if (a.status === 429) {
      expect(a.code).toBe('LOGIN_THROTTLED');
      waits.push(a.retryAfter!);
      clock += a.retryAfter! * 1000;
    } else {
      expect(a.status).toBe(401);
      n++;
    }
  }
  return waits;
}

describe('P-THROTTLE: login throttling that a stranger cannot turn against the owner', () => {
  it('P-THROTTLE: the device cookie is HttpOnly, SameSite=Strict, sent to the login route only, and long-lived', async () => {
    const b = await ownerDevice('reclassering', '198.51.100.7', DEMO_PASSWORD);
    expect(b.deviceCookie).toMatch(/HttpOnly/i);
    expect(b.deviceCookie).toMatch(/SameSite=Strict/i);
    expect(b.deviceCookie).toMatch(/Path=\/api\/login/i);
    expect(Number(/Max-Age=(\d+)/i.exec(b.deviceCookie!)![1])).toBeGreaterThan(90 * 24 * 3600);
    // A known device keeps its cookie; a new login renews it.
    const first = b.device;
    expect((await b.login('reclassering', DEMO_PASSWORD, '198.51.100.7')).status).toBe(200);
    expect(b.device).toBe(first);
  });

  it("P-THROTTLE: a stranger's failures, from another address and from the owner's, do not keep the owner's device out, not even at the hard cap", async () => {
    await accounts(['eigenaar']);
    const home = '203.0.113.10';
    const owner = await ownerDevice('eigenaar', home);

    // A stranger from elsewhere: five guesses are checked, then the next waits, right password or not.
    await guess('eigenaar', LOGIN_THROTTLE_ACCOUNT.freeFailures, () => '198.51.100.20');
    const held = await new Browser().login('eigenaar', PASSWORD, '198.51.100.20');
    expect([held.status, held.code, held.retryAfter]).toEqual([429, 'LOGIN_THROTTLED', 1]);
    expect((await owner.login('eigenaar', PASSWORD, home)).status).toBe(200);
    // From the owner's own address, without the device cookie: held back too; the owner is not.
    expect((await new Browser().login('eigenaar', WRONG, home)).status).toBe(429);
    expect((await owner.login('eigenaar', PASSWORD, home)).status).toBe(200);

    // The stranger guesses on from ever new addresses, waiting every wait out, up to the hard cap.
    await guess('eigenaar', LOGIN_THROTTLE_ACCOUNT.maxFailures! - LOGIN_THROTTLE_ACCOUNT.freeFailures, (n) => `10.77.${n >> 8}.${n & 255}`);
    for (const address of ['10.78.0.1', home]) {
      const capped = await new Browser().login('eigenaar', PASSWORD, address);
      expect([capped.status, capped.code]).toEqual([429, 'LOGIN_THROTTLED']);
      // Closed for the rest of the 30 days, and the answer says how long in Dutch.
      expect(capped.retryAfter!).toBeGreaterThan(28 * 24 * 3600);
      expect(capped.message).toMatch(
        /^Te veel mislukte pogingen om in te loggen\. Probeer het over (29|30) dagen opnieuw\. Op een apparaat waarop u eerder inlogde/,
      );
    }
    // The owner's device is held back by its own failures only.
    expect((await owner.login('eigenaar', PASSWORD, home)).status).toBe(200);
    expect((await owner.login('eigenaar', PASSWORD, '10.78.0.1')).status).toBe(200);
    // Once the 30 days from the first failure are over, new devices may try again.
    clock += LOGIN_THROTTLE_ACCOUNT.windowMs;
    expect((await new Browser().login('eigenaar', PASSWORD, '10.78.0.1')).status).toBe(200);
  });

  it('P-THROTTLE: guessing waits a delay that doubles after five free failures, up to 15 minutes, and a wait is not shortened by trying', async () => {
    await accounts(['vertraagd']);
    const address = '198.51.100.30';
    await guess('vertraagd', LOGIN_THROTTLE_ACCOUNT.freeFailures, () => address);
    const waits: number[] = [];
    for (let n = 0; n < 12; n++) {
      const b = new Browser();
      const held = await b.login('vertraagd', WRONG, address);
      expect(held.status).toBe(429);
      waits.push(held.retryAfter!);
      // Just before the wait is over: still held back, and by the same wait (refusals count nothing).
      clock += held.retryAfter! * 1000 - 1;
      expect((await b.login('vertraagd', PASSWORD, address)).retryAfter).toBe(1);
      clock += 1;
      expect((await b.login('vertraagd', WRONG, address)).status).toBe(401);
    }
    expect(waits).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]);
    const last = await new Browser().login('vertraagd', WRONG, address);
    expect(last.message).toBe(
      'Te veel mislukte pogingen om in te loggen. Probeer het over 15 minuten opnieuw. Op een apparaat waarop u eerder inlogde, kunt u wel meteen inloggen.',
    );
    clock += LOGIN_THROTTLE_ACCOUNT.windowMs;
  });

  it('P-THROTTLE: of a burst of guesses sent at once, only the free ones are checked', async () => {
    await accounts(['salvo']);
    const answers = await Promise.all(Array.from({ length: 12 }, (_, n) => new Browser().login('salvo', WRONG, `198.51.100.${60 + n}`)));
    expect(answers.filter((a) => a.status === 401)).toHaveLength(LOGIN_THROTTLE_ACCOUNT.freeFailures);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(12 - LOGIN_THROTTLE_ACCOUNT.freeFailures);
    clock += LOGIN_THROTTLE_ACCOUNT.windowMs;
  });

  it("P-THROTTLE: the owner's own device has its own allowance: its typos slow it down, its success forgives them", async () => {
    await accounts(['typist']);
    const address = '198.51.100.40';
    const owner = await ownerDevice('typist', address);
    for (let n = 0; n < LOGIN_THROTTLE_ACCOUNT.freeFailures; n++) expect((await owner.login('typist', WRONG, address)).status).toBe(401);
    const held = await owner.login('typist', PASSWORD, address);
    expect([held.status, held.retryAfter]).toEqual([429, 1]);
    // No hint at other devices: this is one.
    expect(held.message).toBe('Te veel mislukte pogingen om in te loggen. Probeer het over 1 seconde opnieuw.');
    // The owner's typos on the device do not hold back the owner's new devices.
    expect((await new Browser().login('typist', PASSWORD, address)).status).toBe(200);
    clock += 1000;
    expect((await owner.login('typist', PASSWORD, address)).status).toBe(200);
    // Forgiven: five typos are free again.
    for (let n = 0; n < LOGIN_THROTTLE_ACCOUNT.freeFailures; n++) expect((await owner.login('typist', WRONG, address)).status).toBe(401);
    expect((await owner.login('typist', PASSWORD, address)).status).toBe(429);
    clock += 1000;
  });

  it('P-THROTTLE: P-EXIST: a name that is no account is throttled exactly like one that is', async () => {
    const script = async (username: string, address: string): Promise<Answer[]> => {
      const start = clock;
      const out: Answer[] = [];
      for (const step of [0, 0, 0, 0, 0, 0, 0, 999, 1, 0, 0, 2_000, 0]) {
        clock += step;
        out.push(await new Browser().login(username, WRONG, address));
      }
      clock = start;
      return out;
    };
    const known = await script('politie2', '198.51.100.50');
    const unknown = await script('niemand-bekend', '198.51.100.51');
    expect(unknown).toEqual(known);
    expect(known.map((a) => a.status)).toEqual([401, 401, 401, 401, 401, 429, 429, 429, 401, 429, 429, 401, 429]);
    clock += LOGIN_THROTTLE_ACCOUNT.windowMs;
  });
});

describe('P-THROTTLE: the address throttle', () => {
  it('P-THROTTLE: an office of 50 behind one address logs in normally, half of them after a typo', async () => {
    const office = Array.from({ length: 50 }, (_, i) => `kantoor${i}`);
    await accounts(office);
    const nat = '192.0.2.50';
    const answers: number[][] = [];
    // Ten at a time: a busy morning, within the same second.
    for (let at = 0; at < office.length; at += 10) {
      answers.push(
        ...(await Promise.all(
          office.slice(at, at + 10).map(async (username, i) => {
            const b = new Browser();
            const typo = (at + i) % 2 === 0 ? [(await b.login(username, `${PASSWORD}!`, nat)).status] : [];
            return [...typo, (await b.login(username, PASSWORD, nat)).status];
          }),
        )),
      );
    }
    expect(answers).toEqual(office.map((_, i) => (i % 2 === 0 ? [401, 200] : [200])));
    clock += LOGIN_THROTTLE_ADDRESS.windowMs;
  });

  it('P-THROTTLE: guessing over many accounts from one address is slowed down, never stopped, and spares known devices there', async () => {
    const names = Array.from({ length: 25 }, (_, i) => `sproei${i}`);
    const later = Array.from({ length: 9 }, (_, i) => `sproei-later${i}`);
    await accounts(['buurman', ...names, ...later]);
    const address = '192.0.2.60';
    const owner = await ownerDevice('buurman', address);
    // Four guesses at each of 25 accounts: below every account's free failures, a hundred at the address.
    for (let round = 0; round < 4; round++) {
      const statuses = await Promise.all(names.map(async (n) => (await new Browser().login(n, WRONG, address)).status));
      expect(statuses.every((s) => s === 401)).toBe(true);
    }
    const waits: number[] = [];
    for (let n = 0; n < 8; n++) {
      const held = await new Browser().login(later[n]!, WRONG, address);
      expect(held.status).toBe(429);
      waits.push(held.retryAfter!);
      clock += held.retryAfter! * 1000;
      expect((await new Browser().login(later[n]!, WRONG, address)).status).toBe(401);
    }
    expect(waits).toEqual([1, 2, 4, 8, 16, 32, 60, 60]);
    // A device that logged in before is not held back by its address.
    expect((await owner.login('buurman', PASSWORD, address)).status).toBe(200);
    // Another address is not held back either, and after the hour this one is free again.
    expect((await new Browser().login('sproei0', WRONG, '192.0.2.61')).status).toBe(401);
    expect((await new Browser().login(later[8]!, WRONG, address)).status).toBe(429);
    clock += LOGIN_THROTTLE_ADDRESS.windowMs;
    expect((await new Browser().login(later[8]!, WRONG, address)).status).toBe(401);
  });
});

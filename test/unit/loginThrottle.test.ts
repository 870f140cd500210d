import { describe, expect, it } from 'vitest';
import { loginThrottledText, waitTextNl } from '../../shared/errors.js';
import { LOGIN_THROTTLE_ACCOUNT, type LoginThrottlePolicy } from '../../shared/limits.js';
import { addressGroup } from '../../server/auth/throttle.js';
import { loginRetryAt } from '../../server/store/types.js';

describe('P-THROTTLE: what a login bucket allows', () => {
  const p: LoginThrottlePolicy = { freeFailures: 2, firstDelayMs: 100, maxDelayMs: 400, maxFailures: 6, windowMs: 10_000 };
  const at = (count: number, now = 1_000) => loginRetryAt({ count, firstAt: 0, lastAt: 500 }, p, now);

  it('P-THROTTLE: free failures, then a doubling delay after the last one, a maximum, a cap until the window ends', () => {
    expect(loginRetryAt(undefined, p, 1_000)).toBe(0);
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => at(n))).toEqual([0, 0, 600, 700, 900, 900, 10_000]);
    expect(at(6, 10_000)).toBe(0);
    expect(at(3, 10_000)).toBe(0);
  });

  it('P-THROTTLE: the account policy stays within NIST SP 800-63B (at most 100 failures) and ASVS 2.2.1 (at most 100 an hour)', () => {
    expect(LOGIN_THROTTLE_ACCOUNT.maxFailures).toBeLessThanOrEqual(100);
    // The fastest a guesser can go: each guess the moment its wait is over.
    let now = 0;
    let failures = 0;
    const state = { count: 0, firstAt: 0, lastAt: 0 };
    while (now < 60 * 60 * 1000 && failures < 1_000) {
      const retryAt = loginRetryAt(state, LOGIN_THROTTLE_ACCOUNT, now);
      if (retryAt >= LOGIN_THROTTLE_ACCOUNT.windowMs) break;
      now = Math.max(now, retryAt);
      Object.assign(state, { count: state.count + 1, lastAt: now });
      failures++;
    }
    expect(failures).toBeLessThanOrEqual(100);
  });
});

describe('P-THROTTLE: addresses as the throttle counts them', () => {
  it('P-THROTTLE: IPv4 as it is, IPv4 mapped into IPv6 as IPv4, IPv6 by its /64', () => {
    expect(addressGroup('192.0.2.7')).toBe('192.0.2.7');
    expect(addressGroup('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(addressGroup('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(addressGroup('2001:0DB8:0001:0002::1')).toBe('2001:db8:1:2::/64');
    expect(addressGroup('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressGroup('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressGroup('::1')).toBe('0:0:0:0::/64');
    expect(addressGroup('64:ff9b::192.0.2.7')).toBe('64:ff9b:0:0::/64');
    expect(addressGroup('unknown')).toBe('unknown');
  });
});

describe('P-THROTTLE: the wait in Dutch', () => {
  it('P-THROTTLE: rounds up to seconds, minutes, hours or days, singular and plural', () => {
    expect([0.2, 1, 45, 59, 60, 61, 900, 3_599, 3_600, 7_201, 172_799, 172_800, 2_592_000].map(waitTextNl)).toEqual([
      '1 seconde',
      '1 seconde',
      '45 seconden',
      '59 seconden',
      '1 minuut',
      '2 minuten',
      '15 minuten',
      '1 uur',
      '1 uur',
      '3 uur',
      '2 dagen',
      '2 dagen',
      '30 dagen',
    ]);
    expect(loginThrottledText(120, false)).toBe('Te veel mislukte pogingen om in te loggen. Probeer het over 2 minuten opnieuw.');
    expect(loginThrottledText(120, true)).toMatch(/opnieuw\. Op een apparaat waarop u eerder inlogde, kunt u wel meteen inloggen\.$/);
  });
});

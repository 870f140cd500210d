import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../shared/ids.js';
import { startRedis, type PrivateRedis } from '../support/redis.js';
import type { TestServer } from '../support/server.js';
import { openAs, startBrowserEnv, type UserPage } from './support.js';

// The built client in Chromium against a server whose Redis goes away and comes back.
let redis: PrivateRedis;
let srv: TestServer;
let browser: Browser;
let user: UserPage;

beforeAll(async () => {
  // Append-only: the session made before the outage is still there after the restart.
  redis = await startRedis({ appendOnly: true });
  ({ srv, browser } = await startBrowserEnv({}, { REDIS_URL: redis.url, REDIS_PREFIX: newId('t') }));
});
afterAll(async () => {
  try {
    await user?.ctx.close();
    await browser?.close();
    await srv?.close();
  } finally {
    await redis?.stop();
  }
});

describe('P-REDIS in the browser: "tijdelijk niet beschikbaar", tried again, still logged in', () => {
  it('a reconnect and a reload while Redis is away wait for it instead of going to the login page', async () => {
    user = await openAs(browser, srv.url, 'politie');
    const { page } = user;
    const caseLink = page.getByRole('link', { name: /Casus R\./ });
    await caseLink.waitFor();

    await redis.stop();
    try {
      // A network blip meanwhile: the socket's new handshake is refused for now, not as logged out.
      srv.app.realtime.io.local.disconnectSockets(true);
      await page.getByRole('status').filter({ hasText: 'Casusbord is tijdelijk niet beschikbaar — we proberen het opnieuw…' }).waitFor();
      // A reload meanwhile: the session cannot be looked up yet; the page says so and asks again.
      await page.reload();
      await page.getByRole('status').filter({ hasText: 'Casusbord is tijdelijk niet beschikbaar. We proberen het opnieuw…' }).waitFor();
      expect(await page.getByRole('button', { name: 'Inloggen' }).count()).toBe(0);
    } finally {
      await redis.restart();
    }
    await caseLink.waitFor();
    await page.getByRole('button', { name: 'Uitloggen' }).waitFor();
    expect(await page.getByRole('button', { name: 'Inloggen' }).count()).toBe(0);
    expect(user.problems.filter((p) => !/status of 503/.test(p))).toEqual([]);
  });
});

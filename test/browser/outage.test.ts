import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../shared/ids.js';
import { startRedis, type PrivateRedis } from '../support/redis.js';
import type { TestServer } from '../support/server.js';
import { poll } from '../support/wait.js';
import { openAs, startBrowserEnv, type UserPage } from './support.js';

// The built client in Chromium against a server whose Redis goes away and comes back.
let redis: PrivateRedis;
let srv: TestServer;
let browser: Browser;
let user: UserPage;
const others: UserPage[] = [];

beforeAll(async () => {
  // Append-only: the session made before the outage is still there after the restart.
  redis = await startRedis({ appendOnly: true });
  ({ srv, browser } = await startBrowserEnv({}, { REDIS_URL: redis.url, REDIS_PREFIX: newId('t') }));
});
afterAll(async () => {
  try {
    await user?.ctx.close();
    for (const u of others) await u.ctx.close();
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

const minutes = (p: Page) => p.getByRole('region', { name: 'Verslag' }).getByRole('textbox', { name: 'Verslag van het overleg' });
const minutesStatus = (p: Page, text: string) => p.getByRole('region', { name: 'Verslag' }).getByRole('status').filter({ hasText: text });

/** Until the minutes hold `part`: a textarea's value tells no event to wait on, so it is asked again. */
const minutesHold = (p: Page, part: string): Promise<void> =>
  poll(`the minutes to hold ${JSON.stringify(part)}`, async () => (await minutes(p).inputValue()).includes(part), { ms: 30_000, pauseMs: 50 });

describe('P-DURABLE in the browser: text the server cannot store stays in the editor', () => {
  it('P-DURABLE: minutes typed while Redis is away are refused (1013), kept in the editor, and reach the others once it is back', async () => {
    const [pol, ggz] = await Promise.all(['politie', 'ggz'].map((u) => openAs(browser, srv.url, u)));
    others.push(pol!, ggz!);
    for (const { page } of [pol!, ggz!]) {
      await page.getByRole('link', { name: /Casus R\./ }).click();
      await minutesStatus(page, 'Verbonden').waitFor();
    }
    const typed = 'Getypt terwijl Redis weg was.';
    await redis.stop();
    try {
      await minutes(pol!.page).click();
      await minutes(pol!.page).pressSequentially(typed, { delay: 5 });
      // Refused with "try again later": the editor goes offline and keeps every character.
      await minutesStatus(pol!.page, 'Offline — wijzigingen worden later samengevoegd').waitFor();
      expect(await minutes(pol!.page).inputValue()).toContain(typed);
      expect(await minutes(ggz!.page).inputValue()).not.toContain(typed);
    } finally {
      await redis.restart();
    }
    await minutesHold(ggz!.page, typed);
    await minutesStatus(pol!.page, 'Verbonden').waitFor();
    expect(await minutes(pol!.page).inputValue()).toContain(typed);
  });
});

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../support/server.js';
import { openAs, startBrowserEnv, type UserPage } from './support.js';

// Co-editing in real Chromium: two partners type in the same minutes at the same time.
let srv: TestServer;
let browser: Browser;
const users: Record<string, UserPage> = {};

beforeAll(async () => {
  ({ srv, browser } = await startBrowserEnv());
  for (const u of ['politie', 'ggz', 'regisseur']) {
    users[u] = await openAs(browser, srv.url, u);
    await users[u]!.page.getByRole('link', { name: /Casus R\./ }).click();
    await users[u]!.page.getByRole('region', { name: 'Beeldvorming' }).waitFor();
  }
});
afterAll(async () => {
  for (const u of Object.values(users)) await u.ctx.close();
  await browser?.close();
  await srv?.close();
});

const minutes = (p: Page) => p.getByRole('region', { name: 'Verslag' }).getByRole('textbox', { name: 'Verslag van het overleg' });

/** Waits (on the page's own animation frames, no sleeps) until the minutes hold every part. */
async function valueContains(p: Page, parts: string[]): Promise<string> {
  // A string runs in the page, where the DOM is: the test's own tsconfig has no DOM types.
  await p.waitForFunction(
    `(() => { const el = [...document.querySelectorAll('textarea')].find((t) => t.getAttribute('aria-label') === 'Verslag van het overleg');
      return !!el && ${JSON.stringify(parts)}.every((x) => el.value.includes(x)); })()`,
  );
  return minutes(p).inputValue();
}

describe('R-OWN co-editing in the browser', () => {
  it('R-OWN: two browsers type in the same minutes at once and both see the merged text and each other’s cursor', async () => {
    const pol = users.politie!.page;
    const ggz = users.ggz!.page;
    await pol.getByRole('region', { name: 'Verslag' }).getByText('Verbonden', { exact: true }).waitFor();
    await ggz.getByRole('region', { name: 'Verslag' }).getByText('Verbonden', { exact: true }).waitFor();
    await minutes(pol).click();
    await minutes(ggz).click();
    // Typed at the same time, key by key.
    await Promise.all([
      minutes(pol).pressSequentially('Politie: huisbezoek dinsdag. ', { delay: 15 }),
      minutes(ggz).pressSequentially('GGZ: intake volgende week. ', { delay: 15 }),
    ]);
    const a = await valueContains(pol, ['Politie: huisbezoek dinsdag.', 'GGZ: intake volgende week.']);
    const b = await valueContains(ggz, ['Politie: huisbezoek dinsdag.', 'GGZ: intake volgende week.']);
    expect(a).toBe(b);
    // Each sees the other's cursor, named by the server, not by the other browser.
    await pol.getByText('Klaske Wijnia (GGZ)', { exact: true }).waitFor();
    await ggz.getByText('Jan Dijkstra (Politie)', { exact: true }).waitFor();
  });

  it('R-TAKEHOME: after the chair ends the discussion the minutes belong to the house’s file: partners no longer see them, the chair reads them', async () => {
    const chair = users.regisseur!.page;
    await chair.getByRole('button', { name: 'Bespreking afronden' }).click();
    await chair.getByRole('dialog', { name: 'Bespreking afronden?' }).getByRole('button', { name: 'Ja, afronden' }).click();
    const ggz = users.ggz!.page;
    await ggz.getByText('Na de bespreking hoort het verslag bij het dossier van het Zorg- en Veiligheidshuis.', { exact: false }).waitFor();
    expect(await minutes(ggz).count()).toBe(0);
    expect(await ggz.content()).not.toContain('Politie: huisbezoek dinsdag.');
    await chair.getByText('Deze casus wordt nu niet besproken; het verslag hoort bij het dossier en is alleen te lezen.').waitFor();
    expect(await minutes(chair).getAttribute('readonly')).not.toBeNull();
    for (const u of Object.values(users)) expect(u.problems).toEqual([]);
  });
});

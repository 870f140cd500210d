import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UserId } from '../../shared/ids.js';
import type { TestServer } from '../support/server.js';
import { openAs, startBrowserEnv, type UserPage } from './support.js';

// R-FILE in real Chromium: the plan prints for the house's file, with a record of the print; the
// board itself prints nothing of the case.
let srv: TestServer;
let browser: Browser;
let chair: UserPage;

beforeAll(async () => {
  ({ srv, browser } = await startBrowserEnv());
  chair = await openAs(browser, srv.url, 'regisseur');
  await chair.page.getByRole('link', { name: /Casus R\./ }).click();
  await chair.page.getByRole('region', { name: 'Beeldvorming' }).waitFor();
});
afterAll(async () => {
  await chair?.ctx.close();
  await browser?.close();
  await srv?.close();
});

describe('R-FILE: the plan on paper', () => {
  it('R-FILE: the board prints only a notice; the plan prints, and each print is logged first', async () => {
    const page = chair.page;
    await page.emulateMedia({ media: 'print' });
    expect(await page.getByRole('region', { name: 'Beeldvorming' }).isVisible()).toBe(false);
    await page.emulateMedia({ media: 'screen' });

    await page.getByRole('link', { name: 'Plan van aanpak afdrukken' }).click();
    await page.getByRole('heading', { name: 'Plan van aanpak' }).waitFor();
    // The page's print is counted instead of opening the print dialog (runs in the browser).
    await page.evaluate(() => {
      const g = globalThis as unknown as { printed: number; print: () => void };
      g.printed = 0;
      g.print = () => void g.printed++;
    });
    await page.getByRole('button', { name: 'Afdrukken' }).click();
    await page.waitForFunction(() => (globalThis as unknown as { printed: number }).printed === 1);
    await srv.app.access.flush();
    const records = (await srv.app.store.readAccess({ userId: 'usr_regisseur' as UserId })).filter((r) => r.action === 'export');
    expect(records.map((r) => r.operation)).toEqual(['case:print plan']);

    await page.emulateMedia({ media: 'print' });
    expect(await page.getByRole('heading', { name: 'Plan van aanpak' }).isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: 'Afdrukken' }).isVisible()).toBe(false);
    expect(chair.problems).toEqual([]);
  });
});

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../support/server.js';
import { logIn, openAs, startBrowserEnv, type UserPage } from './support.js';

// Real Chromium against the real server and the built client.
let srv: TestServer;
let browser: Browser;
const opened: UserPage[] = [];

beforeAll(async () => {
  // The login throttle's clock stands still: a wait it names does not run out during a test.
  const now = Date.now();
  ({ srv, browser } = await startBrowserEnv({ loginNow: () => now }));
});
afterAll(async () => {
  for (const u of opened) await u.ctx.close();
  await browser?.close();
  await srv?.close();
});

async function as(username: string | null): Promise<UserPage> {
  const u = await openAs(browser, srv.url, username);
  opened.push(u);
  return u;
}

async function openCase(page: Page, title: RegExp): Promise<void> {
  await page.getByRole('link', { name: title }).click();
  await page.getByRole('region', { name: 'Beeldvorming' }).waitFor();
}

const card = (page: Page, text: string) => page.getByRole('article').filter({ hasText: text });

describe('login and logout', () => {
  it('refuses a wrong password in plain Dutch, logs in, and logs out', async () => {
    const { page, problems } = await as(null);
    await logIn(page, 'ggz', 'helemaal-fout');
    await page.getByRole('alert').filter({ hasText: 'Gebruikersnaam of wachtwoord onjuist.' }).waitFor();
    await logIn(page, 'ggz');
    await page.getByRole('button', { name: 'Uitloggen' }).waitFor();
    expect(await page.getByRole('banner').textContent()).toContain('Klaske Wijnia');
    await page.getByRole('button', { name: 'Uitloggen' }).click();
    await page.getByRole('button', { name: 'Inloggen' }).waitFor();
    // The session is really gone on the server, not only in the page.
    const me = await page.evaluate(async () => (await fetch('/api/me')).status);
    expect(me).toBe(401);
    expect(problems).toEqual([]);
  });

  it('P-THROTTLE: after repeated failures the login page says in Dutch how long to wait', async () => {
    const { page, problems } = await as(null);
    // Five failures from this browser, then the right password through the form.
    for (let n = 0; n < 5; n++) {
      const status = await page.evaluate(async () => {
        const body = JSON.stringify({ username: 'woning', password: 'helemaal-fout' });
        return (await fetch('/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body })).status;
      });
      expect(status).toBe(401);
    }
    await logIn(page, 'woning');
    await page
      .getByRole('alert')
      .filter({
        hasText:
          'Te veel mislukte pogingen om in te loggen. Probeer het over 1 seconde opnieuw. Op een apparaat waarop u eerder inlogde, kunt u wel meteen inloggen.',
      })
      .waitFor();
    expect(problems.filter((p) => !/status of 429/.test(p))).toEqual([]);
  });
});

describe('R-NEED R-ROLE live board in two browsers', () => {
  it('R-NEED: partners see each other’s permitted items live; a restricted item stays invisible to a third organisation', async () => {
    const pol = await as('politie');
    const ggz = await as('ggz');
    const om = await as('om');
    for (const u of [pol, ggz, om]) await openCase(u.page, /Casus R\./);

    // Politie adds an item for the whole table: GGZ sees it appear without reloading.
    const column = pol.page.getByRole('region', { name: 'Beeldvorming' });
    await column.getByLabel('Nieuwe inbreng').fill('Wijkagent: vanochtend opnieuw melding van geluidsoverlast.');
    await column.getByRole('button', { name: 'Toevoegen' }).click();
    await card(ggz.page, 'vanochtend opnieuw melding').waitFor();
    expect(await card(ggz.page, 'vanochtend opnieuw melding').getAttribute('aria-label')).toBe('Inbreng van Politie');

    // GGZ answers; Politie sees it live.
    await ggz.page.getByRole('region', { name: 'Beeldvorming' }).getByLabel('Nieuwe inbreng').fill('GGZ: intake kan deze week.');
    await ggz.page.getByRole('region', { name: 'Beeldvorming' }).getByRole('button', { name: 'Toevoegen' }).click();
    await card(pol.page, 'intake kan deze week').waitFor();

    // Politie restricts a new item to the OM: the OM sees it, GGZ (a third organisation) does not.
    await column.getByLabel('Nieuwe inbreng').fill('Alleen voor het OM: verdachte in beeld bij tweede incident.');
    await column.getByRole('radio', { name: 'Alleen geselecteerde organisaties' }).check();
    await column.getByRole('group', { name: 'Geselecteerde organisaties' }).getByRole('checkbox', { name: 'OM' }).check();
    await column.getByRole('button', { name: 'Toevoegen' }).click();
    await card(om.page, 'verdachte in beeld').waitFor();
    await om.page.getByText('Alleen zichtbaar voor: Politie, OM').first().waitFor();

    // A later public item proves GGZ's board is live and caught up, and still lacks the restricted one.
    await column.getByLabel('Nieuwe inbreng').fill('Politie: buurtonderzoek afgerond.');
    await column.getByRole('radio', { name: 'Hele casustafel' }).check();
    await column.getByRole('button', { name: 'Toevoegen' }).click();
    await card(ggz.page, 'buurtonderzoek afgerond').waitFor();
    expect(await ggz.page.content()).not.toContain('verdachte in beeld');
    expect(await ggz.page.content()).not.toContain('Lopend onderzoek naar bedreiging');

    // Politie withdraws its first item: it leaves the other boards.
    const own = card(pol.page, 'vanochtend opnieuw melding');
    await own.getByRole('button', { name: 'Intrekken' }).click();
    await own.getByRole('button', { name: 'Ja, intrekken' }).click();
    await card(ggz.page, 'vanochtend opnieuw melding').waitFor({ state: 'detached' });
    await card(om.page, 'vanochtend opnieuw melding').waitFor({ state: 'detached' });

    for (const u of [pol, ggz, om]) expect(u.problems).toEqual([]);
  });

  it('R-ROLE: a user of an organisation outside the case sees nothing of it', async () => {
    const vt = await as('veiligthuis');
    await vt.page.getByRole('link', { name: /Gezin B\./ }).waitFor();
    const html = await vt.page.content();
    expect(html).not.toContain('Casus R.');
    expect(html).not.toContain('Leeuwarden-Oost');
    // Even typed into the address bar, the board of a case it is not in stays empty.
    const caseR = [...srv.app.cases.all()].find((c) => c.title.startsWith('Casus R.'))!.id;
    await vt.page.goto(`${srv.url}/#/casus/${caseR}`);
    await vt.page.getByText('Niet gevonden, of u heeft hier geen toegang toe.').first().waitFor();
    expect(await vt.page.content()).not.toContain('Leeuwarden-Oost');
  });
});

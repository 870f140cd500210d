import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../support/server.js';
import { openAs, startBrowserEnv, type UserPage } from './support.js';

// R-REUSE, R-GOAL and R-TAKEHOME in real Chromium, on the demo case "Casus T." (Heerenveen), which
// comes up in this afternoon's Top X meeting after "Casus R.".
let srv: TestServer;
let browser: Browser;
const users: Record<string, UserPage> = {};

beforeAll(async () => {
  ({ srv, browser } = await startBrowserEnv());
  const partners = ['reclassering', 'ggz', 'politie2'];
  for (const u of ['regisseur', ...partners]) users[u] = await openAs(browser, srv.url, u);
  // The partners wait on the overview; when the chair moves the meeting on to T., each is taken to it.
  for (const u of partners) await users[u]!.page.getByRole('heading', { name: 'Mijn overleggen' }).waitFor();
  const chair = users.regisseur!.page;
  await chair
    .getByRole('region', { name: 'Mijn overleggen' })
    .getByRole('link', { name: /Top X-aanpak/ })
    .first()
    .click();
  await chair.getByRole('listitem').filter({ hasText: 'Casus T.' }).getByRole('button', { name: 'Volgende: deze bespreken' }).click();
  // Everyone who follows the meeting, the chair too, is taken to the case that comes up.
  for (const u of ['regisseur', ...partners]) {
    await users[u]!.page.getByRole('heading', { name: 'Casus T. (1984), Heerenveen' }).waitFor();
    await users[u]!.page.getByRole('region', { name: 'Beeldvorming' }).waitFor();
  }
});
afterAll(async () => {
  for (const u of Object.values(users)) await u.ctx.close();
  await browser?.close();
  await srv?.close();
});

const page = (u: string): Page => users[u]!.page;
const card = (p: Page, org: string, text: RegExp) => p.getByRole('article', { name: `Inbreng van ${org}` }).filter({ hasText: text });
const inbox = (p: Page) => p.getByRole('region', { name: 'Verzoeken om toestemming' });

describe('R-REUSE in the browser', () => {
  it('R-REUSE: a reuse request is answered live in another browser', async () => {
    const item = card(page('ggz'), 'Reclassering', /meldplicht/);
    await item.getByRole('button', { name: 'Hergebruik vragen' }).click();
    await item.getByLabel('Doel van hergebruik').fill('Afstemmen van de behandeling');
    await item.getByRole('button', { name: 'Verzoek versturen' }).click();
    await item.getByText('Hergebruik gevraagd — wacht op antwoord').waitFor();

    const request = inbox(page('reclassering')).getByRole('group', { name: 'Hergebruik voor GGZ' });
    await request.getByRole('button', { name: 'Toestaan' }).click();
    await item.getByText('Hergebruik toegestaan: Afstemmen van de behandeling').waitFor();
  });
});

describe('R-GOAL in the browser', () => {
  it('R-GOAL: a goal change freezes the board, the progress bar fills, and the new goal comes into force', async () => {
    const chair = page('regisseur');
    await chair.getByRole('button', { name: 'Doel wijzigen' }).click();
    await chair.getByLabel('Nieuw doel').fill('Recidive voorkomen met behandeling in een kliniek.');
    await chair.getByRole('button', { name: 'Doelwijziging voorstellen' }).click();

    const rec = page('reclassering');
    const bar = rec.getByRole('progressbar', { name: 'Voortgang doelwijziging' });
    await bar.waitFor();
    expect(await bar.getAttribute('aria-valuemax')).toBe('3');
    expect(await bar.getAttribute('aria-valuenow')).toBe('0');
    // Out of use: the reclassering no longer sees the police item.
    await card(rec, 'Politie', /drugsmilieu/).waitFor({ state: 'detached' });

    const confirm = async (u: string): Promise<void> => {
      await page(u).getByRole('group', { name: 'Bevestig uw inbreng voor het nieuwe doel' }).getByRole('button', { name: 'Alles bevestigen' }).click();
    };
    await confirm('reclassering');
    await rec.getByText(/1 van 3 inbrengen opnieuw bevestigd/).waitFor();
    expect(await bar.getAttribute('aria-valuenow')).toBe('1');
    await confirm('politie2');
    await rec.getByText(/2 van 3 inbrengen opnieuw bevestigd; wacht op GGZ/).waitFor();
    expect(await bar.getAttribute('aria-valuenow')).toBe('2');
    await confirm('ggz');
    // The last confirmation brings the goal into force: the bar is gone, the items are back.
    await bar.waitFor({ state: 'detached' });
    await rec.getByText('Recidive voorkomen met behandeling in een kliniek.').first().waitFor();
    await card(rec, 'Politie', /drugsmilieu/).waitFor();
    await card(chair, 'Politie', /drugsmilieu/).waitFor();
  });
});

describe('R-TAKEHOME in the browser', () => {
  it('R-TAKEHOME: after the discussion ends, the take-home list shows exactly what may be taken home', async () => {
    const chair = page('regisseur');
    await chair.getByRole('button', { name: 'Naar Besluiten' }).click();
    const plan = chair.getByRole('region', { name: 'Plan van aanpak' });
    await plan.getByLabel('Wat', { exact: true }).fill('Intake verslavingszorg');
    await plan.getByLabel('Uitvoerder').selectOption({ label: 'GGZ Friesland' });
    await plan
      .getByRole('group', { name: 'Benodigde inbreng' })
      .getByRole('checkbox', { name: /meldplicht/ })
      .check();
    await plan.getByRole('button', { name: 'Interventie toevoegen' }).click();

    const request = inbox(page('reclassering')).getByRole('group', { name: 'Mee naar huis voor GGZ' });
    await request.getByRole('button', { name: 'Toestaan' }).click();
    await page('ggz').getByRole('region', { name: 'Plan van aanpak' }).getByText('Toegestaan').first().waitFor();

    await chair.getByRole('button', { name: 'Bespreking afronden' }).click();
    await chair.getByRole('dialog', { name: 'Bespreking afronden?' }).getByRole('button', { name: 'Ja, afronden' }).click();

    const ggz = page('ggz');
    await ggz.getByText('Deze casus wordt nu niet besproken. U ziet alleen uw eigen inbreng en wat u mee naar huis mag nemen.').waitFor();
    await card(ggz, 'Politie', /drugsmilieu/).waitFor({ state: 'detached' });
    await card(ggz, 'Reclassering', /meldplicht/).waitFor();

    await ggz.getByRole('link', { name: 'Mijn meeneemlijst' }).first().click();
    const list = ggz.getByRole('list', { name: 'Meeneemlijst' });
    await list.waitFor();
    const text = (await list.textContent()) ?? '';
    expect(text).toContain('Voor interventie: Intake verslavingszorg');
    expect(text).toContain('Eigen inbreng');
    expect(text).toContain('meldplicht');
    expect(text).not.toContain('drugsmilieu');
    expect(await ggz.content()).not.toContain('drugsmilieu');
    for (const u of Object.values(users)) expect(u.problems).toEqual([]);
  });
});

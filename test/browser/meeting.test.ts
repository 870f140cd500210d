import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../support/server.js';
import { openAs, startBrowserEnv, type UserPage } from './support.js';

// A chair plans an afternoon meeting, puts two cases on its agenda and runs them one after the
// other, with two partners in other browsers that each take part in one of the two cases only:
// Elkien (housing) in "Casus R.", the Reclassering in "Casus T.".
let srv: TestServer;
let browser: Browser;
const users: Record<string, UserPage> = {};
const page = (u: string): Page => users[u]!.page;
const myMeetings = (p: Page) => p.getByRole('region', { name: 'Mijn overleggen' });

beforeAll(async () => {
  ({ srv, browser } = await startBrowserEnv());
  for (const u of ['regisseur', 'woning', 'reclassering']) users[u] = await openAs(browser, srv.url, u);
  for (const u of ['woning', 'reclassering']) await page(u).getByRole('heading', { name: 'Mijn overleggen' }).waitFor();
});
afterAll(async () => {
  for (const u of Object.values(users)) await u.ctx.close();
  await browser?.close();
  await srv?.close();
});

/** The chair puts the case whose board is open on the new meeting's agenda. */
async function schedule(chair: Page, title: string, from: string, to: string): Promise<void> {
  await chair.getByRole('link', { name: '← Alle casussen' }).click();
  await chair.getByRole('link', { name: new RegExp(title) }).click();
  await chair.getByText('Op de agenda zetten', { exact: true }).click();
  await chair.getByLabel('Overleg', { exact: true }).selectOption({ label: 'vandaag, 16:00–18:00 · Zaal 3' });
  await chair.getByLabel('Begintijd', { exact: true }).fill(from);
  await chair.getByLabel('Eindtijd', { exact: true }).fill(to);
  await chair.getByRole('button', { name: 'Inplannen' }).click();
  await chair.getByRole('status').filter({ hasText: 'Op de agenda van vandaag gezet.' }).waitFor();
}

describe('R-ROLE: planning an afternoon', () => {
  it('R-ROLE: the chair plans a meeting and puts two cases on it; each partner sees only its own case there', async () => {
    const chair = page('regisseur');
    await chair.getByRole('button', { name: 'Overleg plannen' }).click();
    const form = chair.getByRole('dialog', { name: 'Overleg plannen' });
    await form.getByLabel('Overlegtafel').selectOption({ label: 'Top X-aanpak' });
    await form.getByLabel('Begintijd').fill('16:00');
    await form.getByLabel('Eindtijd').fill('18:00');
    await form.getByLabel(/Plaats/).fill('Zaal 3');
    await form.getByRole('button', { name: 'Overleg plannen' }).click();
    await chair.getByText('Nog geen casussen op de agenda.', { exact: false }).waitFor();

    // "Casus R." is under discussion in the demo meeting: the chair rounds that off first.
    await chair.getByRole('link', { name: '← Alle casussen' }).click();
    await chair.getByRole('link', { name: /Casus R\./ }).click();
    await chair.getByRole('button', { name: 'Bespreking afronden' }).click();
    await chair.getByRole('dialog', { name: 'Bespreking afronden?' }).getByRole('button', { name: 'Ja, afronden' }).click();
    await chair.getByRole('status').filter({ hasText: 'Niet in bespreking' }).waitFor();
    await chair.getByText('Op de agenda zetten', { exact: true }).click();
    await chair.getByLabel('Overleg', { exact: true }).selectOption({ label: 'vandaag, 16:00–18:00 · Zaal 3' });
    await chair.getByLabel('Begintijd', { exact: true }).fill('16:00');
    await chair.getByLabel('Eindtijd', { exact: true }).fill('16:30');
    await chair.getByRole('button', { name: 'Inplannen' }).click();
    await chair.getByRole('status').filter({ hasText: 'Op de agenda van vandaag gezet.' }).waitFor();
    await schedule(chair, 'Casus T\\.', '16:30', '17:00');

    const rec = myMeetings(page('reclassering')).getByRole('listitem').filter({ hasText: 'Zaal 3' });
    await rec.getByText('Casus T. (1984), Heerenveen').waitFor();
    const woning = myMeetings(page('woning')).getByRole('listitem').filter({ hasText: 'Zaal 3' });
    await woning.getByText('Casus R. (1991), Leeuwarden-Oost').waitFor();
    expect(await rec.textContent()).not.toContain('Casus R.');
    expect(await woning.textContent()).not.toContain('Casus T.');
    // Not even the meeting's own times, whose gap before 16:30 would tell of another case.
    expect(await rec.textContent()).not.toContain('16:00');
  });
});

describe('R-TAKEHOME: running two cases in a row', () => {
  it('R-TAKEHOME: partners are taken to their case when it comes up, and it closes for them when it ends', async () => {
    const chair = page('regisseur');
    await chair.getByRole('link', { name: '← Alle casussen' }).click();
    await myMeetings(chair).getByRole('listitem').filter({ hasText: 'Zaal 3' }).getByRole('link').first().click();
    // The reclassering follows the meeting's page; its case is second.
    await myMeetings(page('reclassering')).getByRole('listitem').filter({ hasText: 'Zaal 3' }).getByRole('link').first().click();
    await page('reclassering').getByRole('status').filter({ hasText: 'Uw volgende casus: 16:30 Casus T.' }).waitFor();
    expect(await page('reclassering').getByRole('region', { name: 'Agenda' }).textContent()).not.toContain('Casus R.');

    await chair.getByRole('listitem').filter({ hasText: 'Casus R.' }).getByRole('button', { name: 'Bespreken' }).click();
    for (const u of ['regisseur', 'woning']) await page(u).getByRole('heading', { name: 'Casus R. (1991), Leeuwarden-Oost' }).waitFor();
    await page('woning').getByRole('status').filter({ hasText: 'Nu in bespreking' }).waitFor();
    // The reclassering stays where it is: nothing of R. reaches it.
    expect(await page('reclassering').content()).not.toContain('Casus R.');

    await chair.getByRole('link', { name: /Overleg vandaag 16:00/ }).click();
    await chair.getByRole('listitem').filter({ hasText: 'Casus T.' }).getByRole('button', { name: 'Volgende: deze bespreken' }).click();
    for (const u of ['regisseur', 'reclassering']) await page(u).getByRole('heading', { name: 'Casus T. (1984), Heerenveen' }).waitFor();
    // R. was ended on the way: Elkien now keeps only its own and what it may take home.
    await page('woning').getByText('Deze casus wordt nu niet besproken. U ziet alleen uw eigen inbreng en wat u mee naar huis mag nemen.').waitFor();
    for (const u of Object.values(users)) expect(u.problems).toEqual([]);
  });
});

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../support/server.js';
import { openAs, startBrowserEnv, type UserPage } from './support.js';

// A hybrid meeting of the Top X table with "Casus R." under discussion (demo data). The chair
// records who is in the room and opens the room screen; the GGZ, joining in the room, marks
// itself present, and the police investigation that only the OM may see leaves the screen.
let srv: TestServer;
let browser: Browser;
const users: Record<string, UserPage> = {};
const page = (u: string): Page => users[u]!.page;
let screen: Page;
let meetingUrl: string;

const INVESTIGATION = 'Lopend onderzoek naar bedreiging met een mes';
const NUISANCE = 'Sinds januari 14 meldingen van geluidsoverlast';

beforeAll(async () => {
  ({ srv, browser } = await startBrowserEnv());
  const today = srv.app.dir.allMeetings().find((m) => m.tableId === 'tbl_topx' && m.date === srv.app.dir.today())!;
  meetingUrl = `${srv.url}/#/overleg/${today.id}`;
  for (const u of ['regisseur', 'ggz']) {
    users[u] = await openAs(browser, srv.url, u);
    await page(u).getByRole('heading', { name: 'Mijn overleggen' }).waitFor();
    await page(u).goto(meetingUrl);
  }
});
afterAll(async () => {
  for (const u of Object.values(users)) await u.ctx.close();
  await browser?.close();
  await srv?.close();
});

describe('R-ROOM: the room screen of a hybrid meeting', () => {
  it('R-ROOM: the chair opens the room screen; it shows no case until someone is recorded in the room, and keeps its link out of sight', async () => {
    const chair = page('regisseur');
    const room = chair.getByRole('region', { name: 'In de zaal' });
    const opened = users.regisseur!.ctx.waitForEvent('page');
    await room.getByRole('button', { name: 'Zaalscherm openen' }).click();
    screen = await opened;
    await screen.getByText('Nog niemand in de zaal vastgelegd').waitFor();
    await screen.getByText('Geen casus op het scherm.').waitFor();
    expect(screen.url()).toMatch(/#\/zaal$/);
    // A screen only shows: no form, no button, no link.
    expect(await screen.locator('button, input, textarea, select, a').count()).toBe(0);
  });

  it('R-ROOM: with the police and the OM in the room the screen shows the case with what both may see', async () => {
    const room = page('regisseur').getByRole('region', { name: 'In de zaal' });
    await room.getByLabel(/Jan Dijkstra/).check();
    await room.getByLabel(/Pieter van der Meer/).check();
    await screen.getByRole('heading', { name: /Casus R\./ }).waitFor();
    await screen.getByText(INVESTIGATION, { exact: false }).waitFor();
    await screen.getByText('In de zaal: OM, Politie').waitFor();
  });

  it('R-ROOM: the GGZ marks itself in the room and the investigation leaves the screen; when it leaves, it returns', async () => {
    const ggz = page('ggz');
    await ggz.getByRole('button', { name: 'Ik ben in de zaal' }).click();
    await ggz.getByText('U staat als aanwezig in de zaal').waitFor();
    await screen.getByText(INVESTIGATION, { exact: false }).waitFor({ state: 'detached' });
    await screen.getByText(NUISANCE, { exact: false }).waitFor();
    await screen.getByText('In de zaal: GGZ, OM, Politie').waitFor();

    // The chair's list follows (it reads the room again by itself), and records the GGZ leaving.
    const room = page('regisseur').getByRole('region', { name: 'In de zaal' });
    await expect.poll(() => room.getByLabel(/Klaske Wijnia/).isChecked(), { timeout: 15_000 }).toBe(true);
    await room.getByLabel(/Klaske Wijnia/).uncheck();
    await screen.getByText(INVESTIGATION, { exact: false }).waitFor();
  });

  it('R-ROOM: closing the meeting ends the screen and takes everything off it', async () => {
    const chair = page('regisseur');
    await chair.getByRole('button', { name: 'Overleg sluiten' }).click();
    await screen.getByText(/niet \(meer\) geldig|Dit overleg is gesloten/).waitFor();
    expect(await screen.getByText(INVESTIGATION, { exact: false }).count()).toBe(0);
    expect(users.regisseur!.problems.concat(users.ggz!.problems)).toEqual([]);
  });
});

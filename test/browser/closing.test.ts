import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseId } from '../../shared/ids.js';
import { TestClient } from '../support/client.js';
import { createCase, discuss, endDiscussion } from '../support/meetings.js';
import type { TestServer } from '../support/server.js';
import { openAs, startBrowserEnv, type UserPage } from './support.js';

// R-RETAIN in the browser: the chair closes a case with a decision; the police officer, whose
// board is open, sees at once that it closed and keeps only its own item; the privacy officer
// finds the case in the list of purge days and moves the day later with a reason.
let srv: TestServer;
let browser: Browser;
const users: Record<string, UserPage> = {};
let caseId: CaseId;
const OWN = 'Wijkagent sprak W. op 3 december.';
const OTHERS = 'GGZ: W. is in behandeling bij het FACT-team.';

beforeAll(async () => {
  ({ srv, browser } = await startBrowserEnv());
  const chair = await TestClient.connect(srv.url, 'regisseur');
  const police = await TestClient.connect(srv.url, 'politie');
  const ggz = await TestClient.connect(srv.url, 'ggz');
  caseId = await createCase(chair, 'Casus Sluiten (1970)', [
    ['zvh', 'voorzitter', 'regisseur'],
    ['politie', 'aanmelder', 'politie'],
    ['ggz', 'deelnemer', 'ggz'],
  ]);
  const m = await discuss(chair, caseId);
  for (const [c, text] of [
    [police, OWN],
    [ggz, OTHERS],
  ] as const) {
    const r = await c.cmd('item:add', { caseId, phase: 'beeldvorming', text, visibility: { kind: 'table' } });
    if (!r.ok) throw new Error(r.error.code);
  }
  await endDiscussion(chair, caseId, m);
  for (const c of [chair, police, ggz]) c.close();
  for (const u of ['regisseur', 'politie', 'privacy']) users[u] = await openAs(browser, srv.url, u);
});
afterAll(async () => {
  for (const u of Object.values(users)) await u.ctx.close();
  await browser?.close();
  await srv?.close();
});

describe('R-RETAIN: closing a case in the browser', () => {
  it('R-RETAIN: the chair closes the case; the police see at once that it closed and keep only their own item', async () => {
    const chair = users.regisseur!.page;
    const police = users.politie!.page;
    await police.goto(`${srv.url}/#/casus/${caseId}`);
    await police.getByRole('region', { name: 'Beeldvorming' }).getByText(OWN).waitFor();
    await chair.goto(`${srv.url}/#/casus/${caseId}`);
    await chair.getByRole('button', { name: 'Casus afsluiten…' }).click();
    await chair.getByLabel('Besluit tot afsluiten').fill('Doel bereikt: W. is in zorg.');
    await chair.getByRole('button', { name: 'Casus afsluiten', exact: true }).click();
    await chair.getByRole('note').filter({ hasText: 'Deze casus is gesloten op' }).waitFor();
    const closure = chair.getByRole('region', { name: 'Afsluiting' });
    await closure.getByText('Doel bereikt: W. is in zorg.').waitFor();
    await police.getByRole('note').filter({ hasText: 'Deze casus is gesloten op' }).waitFor();
    await police.getByRole('region', { name: 'Beeldvorming' }).getByText(OWN).waitFor();
    expect(await police.getByText(OTHERS).count()).toBe(0);
    // Nothing on it can be changed any more: its own item shows no edit buttons.
    expect(await police.getByRole('button', { name: 'Bewerken' }).count()).toBe(0);
    expect(await police.getByRole('button', { name: 'Toevoegen', exact: true }).count()).toBe(0);
    expect(users.regisseur!.problems.concat(users.politie!.problems)).toEqual([]);
  });

  it('R-RETAIN: the privacy officer sees when it is purged, and moves the day later with a reason', async () => {
    const p = users.privacy!.page;
    await p.goto(`${srv.url}/#/toegangslog`);
    const list = p.getByRole('region', { name: 'Bewaartermijnen' });
    const row = list.getByRole('row').filter({ hasText: 'Casus Sluiten (1970)' });
    await row.waitFor();
    expect(await row.innerText()).toContain('nee');
    await row.getByRole('button', { name: 'Verlengen' }).click();
    await list.getByLabel('Reden').fill('Verzoek om inzage loopt.');
    await list.getByRole('form', { name: 'Bewaartermijn verlengen' }).getByRole('button', { name: 'Verlengen' }).click();
    await list.getByRole('row').filter({ hasText: 'Casus Sluiten (1970)' }).filter({ hasText: '1 keer' }).waitFor();
    expect(srv.app.cases.get(caseId)!.closure!.extensions.map((x) => x.reason)).toEqual(['Verzoek om inzage loopt.']);
    expect(users.privacy!.problems).toEqual([]);
  });
});

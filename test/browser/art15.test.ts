import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseId } from '../../shared/ids.js';
import type { CaseView } from '../../shared/protocol.js';
import { TestClient } from '../support/client.js';
import type { TestServer } from '../support/server.js';
import { openAs, startBrowserEnv, type UserPage } from './support.js';

// R-ACCESS, AVG art. 15 in the browser: the police restrict their item on the investigation
// (art. 23) from their board; the privacy officer registers Ronald R.'s request and opens the
// report, which shows what Casus R. holds on him, who brought it in and who saw it, and names the
// restriction without the content.
let srv: TestServer;
let browser: Browser;
const users: Record<string, UserPage> = {};
const INVESTIGATION = 'Lopend onderzoek naar bedreiging met een mes';
const NOISE = 'Sinds januari 14 meldingen van geluidsoverlast';

beforeAll(async () => {
  ({ srv, browser } = await startBrowserEnv());
  // The OM opens the case, so the report can say the OM was shown the police's items.
  const caseR = [...srv.app.cases.all()].find((s) => s.title.startsWith('Casus R.'))!.id as CaseId;
  const om = await TestClient.connect(srv.url, 'om');
  const r = await om.cmd('case:open', { caseId: caseR });
  if (!r.ok || !('view' in r.data)) throw new Error('open');
  expect((r.data.view as CaseView).items.some((i) => i.text.startsWith(INVESTIGATION))).toBe(true);
  om.close();
  for (const u of ['politie', 'privacy']) users[u] = await openAs(browser, srv.url, u);
});
afterAll(async () => {
  for (const u of Object.values(users)) await u.ctx.close();
  await browser?.close();
  await srv?.close();
});

describe('R-ACCESS: an art. 15 report in the browser', () => {
  it('R-ACCESS: the police restrict their item on the investigation from the board, with a ground', async () => {
    const p = users.politie!.page;
    await p.getByRole('link', { name: /Casus R\./ }).click();
    const card = p.getByRole('article', { name: /Inbreng van Politie/ }).filter({ hasText: INVESTIGATION });
    await card.getByRole('button', { name: 'Beperken bij inzage' }).click();
    await card.getByLabel('Grond voor beperking bij inzage (AVG art. 23)').fill('Lopend strafrechtelijk onderzoek.');
    await card.getByRole('button', { name: 'Beperken', exact: true }).click();
    await card.getByText('Niet in inzagerapporten (AVG art. 23)').waitFor();
    expect(users.politie!.problems).toEqual([]);
  });

  it('R-ACCESS: the privacy officer registers the request and opens a report that prints, with the restriction named and its content left out', async () => {
    const p = users.privacy!.page;
    await p.goto(`${srv.url}/#/toegangslog`);
    const register = p.getByRole('form', { name: 'Inzageverzoek registreren' });
    await register.getByLabel('Naam van de verzoeker').fill('Ronald R.');
    await register.getByLabel('Geboortedatum').fill('1991-03-14');
    await register.getByRole('button', { name: 'Registreren' }).click();
    const row = p.getByRole('row').filter({ hasText: 'Ronald R.' });
    await row.getByText('Open').waitFor();
    await row.getByRole('link', { name: 'Rapport' }).click();
    await p.getByRole('heading', { name: 'Inzage in persoonsgegevens (AVG art. 15)' }).waitFor();
    const section = p.getByRole('region', { name: 'Casus R. (1991), Leeuwarden-Oost' });
    await section.getByText(NOISE, { exact: false }).waitFor();
    const noise = section.getByRole('row').filter({ hasText: NOISE });
    expect(await noise.innerText()).toContain('Openbaar Ministerie');
    await section.getByText('Beperking toegepast (AVG art. 23)', { exact: false }).first().waitFor();
    expect(await p.getByText(INVESTIGATION, { exact: false }).count()).toBe(0);
    await p.getByRole('button', { name: 'Afdrukken' }).waitFor();
    // The page prints: as print media it keeps the report and drops the navigation.
    await p.emulateMedia({ media: 'print' });
    expect(await p.getByRole('button', { name: 'Afdrukken' }).isVisible()).toBe(false);
    expect(await section.isVisible()).toBe(true);
    await p.emulateMedia({ media: 'screen' });
    expect(users.privacy!.problems).toEqual([]);
    // The report is in the access log, for this request.
    await srv.app.access.flush();
    const looks = (await srv.app.store.searchAccess({ userId: 'usr_privacy' as never, limit: 100 })).records;
    expect(looks.some((x) => x.operation.startsWith('privacy:art15-report') && x.caseId !== null)).toBe(true);
  });
});

import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseId } from '../../shared/ids.js';
import { TestClient } from '../support/client.js';
import type { TestServer } from '../support/server.js';
import { openAs, startBrowserEnv, type UserPage } from './support.js';

// The house's privacy officer looks up who saw "Casus R." and what the OM read of it, and exports
// the selection; it sees no case on the board.
let srv: TestServer;
let browser: Browser;
let officer: UserPage;
const page = (): Page => officer.page;

beforeAll(async () => {
  ({ srv, browser } = await startBrowserEnv());
  const caseR = [...srv.app.cases.all()].find((s) => s.title.startsWith('Casus R.'))!.id as CaseId;
  const om = await TestClient.connect(srv.url, 'om');
  await om.cmd('case:open', { caseId: caseR });
  om.close();
  await srv.app.access.flush();
  officer = await openAs(browser, srv.url, 'privacy');
});
afterAll(async () => {
  await officer?.ctx.close();
  await browser?.close();
  await srv?.close();
});

describe('R-ACCESS: the privacy officer’s log search', () => {
  it('R-ACCESS: the privacy officer sees no case on the board, and finds the log from the overview', async () => {
    await page().getByRole('heading', { name: 'Privacytoezicht' }).waitFor();
    expect(
      await page()
        .getByRole('link', { name: /Casus R\./ })
        .count(),
    ).toBe(0);
    await page().getByRole('link', { name: 'Toegangslog' }).first().click();
    await page().getByRole('heading', { name: 'Toegangslog', level: 1 }).waitFor();
  });

  it('R-ACCESS: who read Casus R.: the OM’s reads, with who, organisation, role, purpose and address', async () => {
    const p = page();
    await p.getByLabel('Casus').selectOption({ label: 'Casus R. (1991), Leeuwarden-Oost' });
    await p.getByLabel('Persoon').selectOption({ label: 'Pieter van der Meer (OM)' });
    await p.getByRole('button', { name: 'Zoeken' }).click();
    const table = p.getByRole('region', { name: 'Vermeldingen in het toegangslog' });
    await table.waitFor();
    const rows = table.locator('tbody tr');
    expect(await rows.count()).toBeGreaterThan(0);
    const first = await rows.first().innerText();
    expect(first).toContain('Pieter van der Meer');
    expect(first).toContain('Openbaar Ministerie');
    expect(first).toContain('Casus R.');
    expect(first).toMatch(/bespreking in overleg mt_/);
    for (const text of await rows.allInnerTexts()) expect(text).toContain('Pieter van der Meer');
  });

  it('R-ACCESS: the selection exports as CSV, and the export is itself logged', async () => {
    const p = page();
    const download = p.waitForEvent('download');
    await p.getByRole('link', { name: 'Exporteren als CSV' }).click();
    const file = await (await download).path();
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\r\n');
    expect(lines[0]).toContain('tijdstip;handeling;bewerking');
    expect(lines.length).toBeGreaterThan(1);
    await srv.app.access.flush();
    const looks = (await srv.app.store.searchAccess({ userId: 'usr_privacy' as never, limit: 100 })).records;
    expect(looks.some((r) => r.action === 'export')).toBe(true);
    expect(officer.problems).toEqual([]);
  });

  it('R-ACCESS: per person: the officer finds Ronald R. in the house and opens the log of each case he is in', async () => {
    const p = page();
    await p.getByRole('link', { name: 'Personen zoeken' }).click();
    await p.getByLabel('Naam (of een deel ervan)').fill('ronald');
    await p.getByRole('button', { name: 'Zoeken' }).click();
    const row = p.getByRole('row').filter({ hasText: 'Ronald R.' });
    await row.getByText('Casus R. (1991), Leeuwarden-Oost').waitFor();
    await row.getByRole('link', { name: 'Toegangslog' }).click();
    const table = p.getByRole('region', { name: 'Vermeldingen in het toegangslog' });
    await table.waitFor();
    expect(await p.getByLabel('Casus').inputValue()).toBe([...srv.app.cases.all()].find((s) => s.title.startsWith('Casus R.'))!.id);
    for (const text of (await table.locator('tbody tr').allInnerTexts()).slice(0, 20)) expect(text).toContain('Casus R.');
    expect(officer.problems).toEqual([]);
  });
});

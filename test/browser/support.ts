import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ensureClientBuilt } from '../../server/buildClient.js';
import type { AppOptions } from '../../server/app.js';
import { createLogger } from '../../server/log.js';
import { DEMO_PASSWORD } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = path.resolve(import.meta.dirname, '../..');

/** A real server serving the real built client, and Debian's Chromium. */
export async function startBrowserEnv(opts: AppOptions = {}, env: Record<string, string> = {}): Promise<{ srv: TestServer; browser: Browser }> {
  await ensureClientBuilt(path.join(ROOT, 'dist/client'), createLogger('warn'));
  const srv = await startTestServer({ ...opts, env: { ...env, CLIENT_DIR: path.join(ROOT, 'dist/client') } });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return { srv, browser };
}

export interface UserPage {
  ctx: BrowserContext;
  page: Page;
  /** Console errors other than the expected 401 of the first /api/me; CSP violations land here. */
  problems: string[];
}

export async function openAs(browser: Browser, url: string, username: string | null, viewport = { width: 1280, height: 900 }): Promise<UserPage> {
  // A laptop set to a zone far from the house's: for most of the day its date differs from
  // Amsterdam's, and the meeting days must still be the house's (the server counts them so).
  const ctx = await browser.newContext({ viewport, timezoneId: 'Pacific/Kiritimati' });
  const page = await ctx.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[13]/.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(url);
  if (username) await logIn(page, username);
  return { ctx, page, problems };
}

export async function logIn(page: Page, username: string, password = DEMO_PASSWORD): Promise<void> {
  await page.getByLabel('Gebruikersnaam').fill(username);
  await page.getByLabel('Wachtwoord').fill(password);
  await page.getByRole('button', { name: 'Inloggen' }).click();
}

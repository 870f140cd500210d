import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, type CaseId } from '../../shared/ids.js';
import { RedisStore } from '../../server/store/redis.js';
import { quietLog, startRedis, type PrivateRedis } from '../support/redis.js';
import type { TestServer } from '../support/server.js';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy.js';
import { openAs, startBrowserEnv, type UserPage } from './support.js';

// P-ONCE in the browser: a change whose answer was lost is resolved by the page itself, by
// sending it again with its id, while it tells the user so; it lands once, without an error.
let redis: PrivateRedis;
let proxy: TcpProxy;
let srv: TestServer;
let browser: Browser;
let store: RedisStore;
const prefix = newId('t');
const opened: UserPage[] = [];

beforeAll(async () => {
  redis = await startRedis();
  // The server reaches Redis through the proxy only: an answer can be lost after Redis acted on it.
  proxy = await startTcpProxy(redis.port);
  ({ srv, browser } = await startBrowserEnv({}, { REDIS_URL: `redis://127.0.0.1:${proxy.port}`, REDIS_PREFIX: prefix }));
  store = await RedisStore.connect(redis.url, prefix, quietLog);
});
afterAll(async () => {
  // A test that failed while the proxy held would leave the server waiting for Redis.
  await proxy?.release();
  for (const u of opened) await u.ctx.close();
  await browser?.close();
  await srv?.close();
  await store?.close();
  await proxy?.close();
  await redis?.stop();
});

describe('P-ONCE: the page resolves a change whose outcome was unknown', () => {
  it('P-ONCE: an item whose commit went unanswered is resent by its id: the user is told, and it is there once, without an error', async () => {
    const u = await openAs(browser, srv.url, 'politie');
    opened.push(u);
    const { page, problems } = u;
    await page.getByRole('link', { name: /Casus R\./ }).click();
    const column = page.getByRole('region', { name: 'Beeldvorming' });
    await column.waitFor();
    const text = 'Wijkagent: het antwoord op deze inbreng ging verloren.';
    // The store's connection is cut as Redis answers this item's append, and stays down for now.
    const cut = proxy.cutAnswer(
      (toRedis) => toRedis.includes(text),
      (fromRedis) => fromRedis.includes('*2\r\n:1\r\n:'),
    );
    void cut.then(() => proxy.hold());
    await column.getByLabel('Nieuwe inbreng').fill(text);
    await column.getByRole('button', { name: 'Toevoegen' }).click();
    await cut;
    await page.getByRole('status').filter({ hasText: 'Nagaan of uw laatste wijziging is opgeslagen' }).waitFor();
    await proxy.release();
    await column.getByText('Inbreng toegevoegd.').waitFor();
    await page.getByRole('status').filter({ hasText: 'Nagaan of uw laatste wijziging is opgeslagen' }).waitFor({ state: 'detached' });
    const caseR = [...srv.app.cases.all()].find((c) => c.title.startsWith('Casus R.'))!.id as CaseId;
    expect((await store.readEvents(caseR)).filter((e) => (e.payload as { text?: string }).text === text)).toHaveLength(1);
    await page.getByRole('article').filter({ hasText: text }).waitFor();
    expect(await page.getByRole('article').filter({ hasText: text }).count()).toBe(1);
    expect(
      await page
        .getByRole('alert')
        .filter({ hasText: /opgeslagen|mis/ })
        .count(),
    ).toBe(0);
    expect(problems).toEqual([]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, type CaseId, type ItemId } from '../../shared/ids.js';
import { ConfigError, loadConfig } from '../../server/config.js';
import { login, TestClient } from '../support/client.js';
import { provider, synced } from '../support/collab.js';
import { startRedis, type PrivateRedis } from '../support/redis.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { poll } from '../support/wait.js';

// P-METRICS: /metrics in the Prometheus format, only where configured, never with case content.
const TOKEN = 'metrics-token-0123456789abcdef0123456789';
let srv: TestServer;
let plain: TestServer;

beforeAll(async () => {
  [srv, plain] = await Promise.all([startTestServer({ commandsPerSecond: 10_000, env: { METRICS_TOKEN: TOKEN, METRICS_PORT: '0' } }), startTestServer()]);
});
afterAll(async () => {
  await Promise.all([srv?.close(), plain?.close()]);
});

const scrapeAt = async (url: string, token: string | null = TOKEN): Promise<Response> =>
  fetch(`${url}/metrics`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });

async function scrape(s: TestServer = srv): Promise<string> {
  const res = await scrapeAt(s.url);
  expect(res.status).toBe(200);
  return res.text();
}

/** The value of one series (`name` or `name{labels}` as the text shows it), or null when absent. */
function value(text: string, series: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

describe('P-METRICS: served only where configured', () => {
  it('P-METRICS: its variables are checked at start like the others', () => {
    expect(() => loadConfig({ METRICS_TOKEN: 'kort' })).toThrow(ConfigError);
    expect(() => loadConfig({ METRICS_TOKEN: `${TOKEN} met spatie` })).toThrow(/METRICS_TOKEN/);
    expect(() => loadConfig({ METRICS_PORT: 'abc' })).toThrow(/METRICS_PORT/);
    expect(() => loadConfig({ METRICS_PORT: '3000' })).toThrow(/METRICS_PORT: must differ from PORT/);
    expect(loadConfig({ METRICS_PORT: '9464', METRICS_TOKEN: TOKEN })).toMatchObject({ METRICS_PORT: 9464, METRICS_HOST: '127.0.0.1', METRICS_TOKEN: TOKEN });
    expect(loadConfig({}).METRICS_PORT).toBeUndefined();
  });

  it('P-METRICS: without METRICS_TOKEN the main port has no /metrics (404, not the client app)', async () => {
    const res = await scrapeAt(plain.url);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect((await scrapeAt(plain.url, null)).status).toBe(404);
    expect(plain.app.metrics).toBeNull();
    expect(plain.app.metricsPort).toBeNull();
  });

  it('P-METRICS: with a token, the main port answers only a request that carries it', async () => {
    expect((await scrapeAt(srv.url, null)).status).toBe(401);
    const wrong = await scrapeAt(srv.url, `${TOKEN.slice(0, -1)}x`);
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer');
    expect((await scrapeAt(srv.url, TOKEN.slice(0, 20))).status).toBe(401);
    const right = await scrapeAt(srv.url);
    expect(right.status).toBe(200);
    expect(right.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await right.text()).toMatch(/^# HELP casusbord_board_connections /m);
  });

  it('P-METRICS: METRICS_PORT is a listener of its own, serving /metrics only, with the token when one is set', async () => {
    const own = `http://127.0.0.1:${srv.app.metricsPort}`;
    expect(srv.app.metricsPort).not.toBe(Number(new URL(srv.url).port));
    expect((await scrapeAt(own, null)).status).toBe(401);
    expect((await scrapeAt(own, 'x'.repeat(40))).status).toBe(401);
    expect((await scrapeAt(own)).status).toBe(200);
    expect((await fetch(`${own}/`)).status).toBe(404);
    expect((await fetch(`${own}/api/me`)).status).toBe(404);
  });
});

describe('P-METRICS: what the metrics show', () => {
  it('P-METRICS: connections, commands by name and outcome, commit and delivery latency, documents loaded; no case content', async () => {
    const caseId = [...srv.app.cases.all()].find((c) => c.title.startsWith('Casus R.'))!.id;
    const before = await scrape();
    const boards = value(before, 'casusbord_board_connections')!;
    const coediting = value(before, 'casusbord_coediting_connections')!;
    const added = (t: string): number => value(t, 'casusbord_commands_total{command="item:add",outcome="ok"}') ?? 0;
    const notFound = (t: string): number => value(t, 'casusbord_commands_total{command="item:edit",outcome="NOT_FOUND"}') ?? 0;
    const unknown = (t: string): number => value(t, 'casusbord_commands_total{command="unknown",outcome="UNKNOWN_COMMAND"}') ?? 0;
    const commits = (t: string): number => value(t, 'casusbord_commit_seconds_count') ?? 0;
    const deliveries = (t: string): number => value(t, 'casusbord_delivery_seconds_count{origin="local"}') ?? 0;

    const cookie = await login(srv.url, 'politie');
    const pol = await TestClient.connect(srv.url, 'politie', cookie);
    const text = `Geheime inbreng ${newId('t')}`;
    let itemId: ItemId;
    let docId: string;
    try {
      expect((await pol.cmd('case:open', { caseId })).ok).toBe(true);
      const r = await pol.cmd('item:add', { caseId, phase: 'beeldvorming', text, visibility: { kind: 'table' } });
      if (!r.ok) throw new Error(r.error.code);
      itemId = r.data.itemId;
      // Refused: an item that does not exist (NOT_FOUND); and an event that names no command.
      expect((await pol.cmd('item:edit', { caseId, itemId: newId<ItemId>('it'), text: 'x' })).ok).toBe(false);
      expect((await pol.raw('geen:commando', {})).ok).toBe(false);
      docId = srv.app.cases.get(caseId)!.items.get(r.data.itemId)!.textDocId;
      const editor = provider(srv.url, docId, cookie);
      try {
        await synced(editor);
        // The delivery of the item's commit to this board has run by the time the board has its patch.
        await pol.waitFor((m) => m.event === 'case:patch');
        const during = await scrape();
        // Nothing of the case: not its id, title or items, not who took part.
        const c = srv.app.cases.get(caseId)!;
        for (const secret of [caseId, c.title, text, itemId, docId, 'usr_politie', 'politie', 'org_politie']) expect(during).not.toContain(secret);
        expect(value(during, 'casusbord_board_connections')).toBe(boards + 1);
        expect(value(during, 'casusbord_coediting_connections')).toBe(coediting + 1);
        expect(value(during, 'casusbord_yjs_documents_loaded')).toBeGreaterThanOrEqual(1);
        expect(added(during)).toBe(added(before) + 1);
        expect(notFound(during)).toBe(notFound(before) + 1);
        expect(unknown(during)).toBe(unknown(before) + 1);
        expect(commits(during)).toBe(commits(before) + 1);
        expect(deliveries(during)).toBe(deliveries(before) + 1);
        expect(value(during, 'casusbord_access_log_backlog_records')).not.toBeNull();
        expect(value(during, 'casusbord_commit_seconds_sum')).toBeGreaterThan(0);
      } finally {
        editor.destroy();
      }
    } finally {
      pol.close();
    }
    await poll(
      'the board and co-editing connections to be counted closed',
      async () => {
        const after = await scrape();
        return value(after, 'casusbord_board_connections') === boards && value(after, 'casusbord_coediting_connections') === coediting;
      },
      { pauseMs: 20 },
    );
  });
});

describe('P-METRICS: Redis links and the access-log backlog', () => {
  let redis: PrivateRedis;
  let onRedis: TestServer;
  beforeAll(async () => {
    redis = await startRedis();
    onRedis = await startTestServer({ env: { REDIS_URL: redis.url, REDIS_PREFIX: newId('t'), METRICS_TOKEN: TOKEN } });
  });
  afterAll(async () => {
    redis?.signal('SIGCONT');
    try {
      await onRedis?.close();
    } finally {
      await redis?.stop();
    }
  });

  it('P-METRICS: the store link reads 1 while Redis answers and 0 while it hangs; records waiting on it are counted', async () => {
    const link = async (): Promise<number | null> => value(await scrape(onRedis), 'casusbord_redis_link_up{link="store"}');
    const backlog = async (): Promise<number | null> => value(await scrape(onRedis), 'casusbord_access_log_backlog_records');
    let seen = '';
    expect(await link()).toBe(1);
    expect(await backlog()).toBe(0);
    const cookie = await login(onRedis.url, 'politie');
    const pol = await TestClient.connect(onRedis.url, 'politie', cookie);
    try {
      const caseId = [...onRedis.app.cases.all()].find((c) => c.title.startsWith('Casus R.'))!.id as CaseId;
      // Redis hangs; a case opened now is a read whose record waits on it (the open is answered
      // only once its record is written: here, not before the link gives up).
      redis.signal('SIGSTOP');
      const opened = pol.cmd('case:open', { caseId });
      const written = onRedis.app.access.flush();
      const every = { pauseMs: 20 };
      await poll(
        'the read record to wait in the backlog',
        async () => (value((seen = await scrape(onRedis)), 'casusbord_access_log_backlog_records') ?? 0) > 0,
        every,
      );
      // Counted while its write hangs, not only once the write failed (after the link's bound).
      expect(value(seen, 'casusbord_redis_link_up{link="store"}')).toBe(1);
      await poll('the store link to read 0', async () => (await link()) === 0, every);
      redis.signal('SIGCONT');
      await poll('the store link to read 1 again', async () => (await link()) === 1, every);
      await poll('the backlog to be written', async () => (await backlog()) === 0, every);
      await written;
      // Not served: the write of its record failed while Redis hung.
      expect(await opened).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
    } finally {
      pol.close();
    }
  });
});

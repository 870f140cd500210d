import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { addDays, houseDay } from '../../shared/day.js';
import { newId, type CaseId, type ItemId } from '../../shared/ids.js';
import { createClient } from 'redis';
import type { CaseView, RetentionView } from '../../shared/protocol.js';
import { verifyChains } from '../../server/audit/chain.js';
import { Retention } from '../../server/retention/retention.js';
import { login, TestClient } from '../support/client.js';
import { provider, storedText, synced } from '../support/collab.js';
import { createCase, discuss, endDiscussion } from '../support/meetings.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { startRedis } from '../support/redis.js';
import { poll } from '../support/wait.js';

// R-RETAIN: the chair closes a case with a decision; from then each organisation keeps only its
// own contributions and take-home grants end. Once the retention term has passed, the case is
// purged for real: its bytes are in neither the database nor its write-ahead log, the sealed logs
// still verify, and the privacy officer sees when it went.

const KEY = randomBytes(32);
let srv: TestServer;
let day = houseDay();
const c: Record<string, TestClient> = {};
const open: { destroy(): void }[] = [];
let caseId: CaseId;
let politieItem: ItemId;
let ggzItem: ItemId;
/** Bytes that occur nowhere but in this case. */
const MARK = {
  person: `Persoon-${randomBytes(6).toString('hex')}`,
  politie: `Politie-inbreng-${randomBytes(6).toString('hex')}`,
  ggz: `GGZ-inbreng-${randomBytes(6).toString('hex')}`,
  typed: `Getypt-${randomBytes(6).toString('hex')}`,
};

const view = async (u: string): Promise<CaseView> => {
  const r = await c[u]!.cmd('case:open', { caseId });
  if (!r.ok || !('view' in r.data)) throw new Error(`${u} open`);
  return r.data.view;
};
const code = (r: { ok: boolean; error?: { code: string } }): string | null => (r.ok ? null : r.error!.code);
const ok = async (p: Promise<{ ok: boolean; error?: { code: string; message: string } }>): Promise<void> => {
  const r = await p;
  if (!r.ok) throw new Error(`${r.error!.code} ${r.error!.message}`);
};
/** The SQLite files of the store: the database and its write-ahead log. */
const files = (): Buffer[] => [srv.dbFile, `${srv.dbFile}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f));
const holds = (mark: string): boolean => files().some((b) => b.includes(Buffer.from(mark)));

beforeAll(async () => {
  srv = await startTestServer({
    today: () => day,
    env: { SEAL_KEY: KEY.toString('base64'), SEAL_INTERVAL_MS: '3600000', RETENTION_SWEEP_MS: '86400000', RETENTION_DAYS: '30' },
  });
  for (const u of ['regisseur', 'politie', 'ggz', 'privacy']) c[u] = await TestClient.connect(srv.url, u);
  caseId = await createCase(
    c.regisseur!,
    'Casus W.',
    [
      ['zvh', 'voorzitter', 'regisseur'],
      ['politie', 'aanmelder', 'politie'],
      ['ggz', 'deelnemer', 'ggz'],
    ],
    'tbl_topx',
    [{ name: MARK.person, birthDate: '1979-03-03' }],
  );
  const m = await discuss(c.regisseur!, caseId);
  const add = async (u: string, text: string): Promise<ItemId> => {
    const r = await c[u]!.cmd('item:add', { caseId, phase: 'beeldvorming', text, visibility: { kind: 'table' } });
    if (!r.ok) throw new Error(r.error.code);
    return r.data.itemId;
  };
  politieItem = await add('politie', MARK.politie);
  ggzItem = await add('ggz', MARK.ggz);
  // The GGZ may take the police's item home (R-REUSE): until the case closes.
  const asked = await c.ggz!.cmd('consent:request', { caseId, itemIds: [politieItem], purpose: 'Behandelplan.' });
  if (!asked.ok) throw new Error(asked.error.code);
  await ok(c.politie!.cmd('consent:answer', { caseId, requestId: asked.data.requestId, answers: [{ itemId: politieItem, answer: 'yes' }] }));
  // The police type into their item's text, as a co-editor does.
  const docId = (await view('politie')).items.find((i) => i.id === politieItem)!.textDocId;
  const doc = new Y.Doc();
  const p = provider(srv.url, docId, await login(srv.url, 'politie'), doc);
  await synced(p);
  doc.getText('text').insert(0, `${MARK.typed} `);
  await poll('the typed text stored', async () => (await storedText(srv.app.store, caseId, docId)).includes(MARK.typed));
  // Let go, the document is stored as a snapshot, its text as it reads.
  p.destroy();
  await poll('the snapshot written', () => holds(MARK.typed));
  // Typed on again and kept open through the purge: a document let go then must not be stored again.
  const again = new Y.Doc();
  const p2 = provider(srv.url, docId, await login(srv.url, 'politie'), again);
  open.push(p2);
  await synced(p2);
  again.getText('text').insert(0, '• ');
  await poll('the second typing stored', async () => (await storedText(srv.app.store, caseId, docId)).startsWith('• '));
  // Running: it cannot be closed yet.
  expect(code(await c.regisseur!.cmd('case:close', { caseId, decision: 'Doel bereikt.', closedOn: day }))).toBe('BAD_REQUEST');
  await endDiscussion(c.regisseur!, caseId, m);
});

afterAll(async () => {
  for (const p of open) p.destroy();
  for (const cl of Object.values(c)) cl.close();
  await srv?.close();
});

describe('R-RETAIN: closing a case', () => {
  it('R-RETAIN: only the chair closes, on a day not to come; then each keeps only its own contributions and take-home ends', async () => {
    expect((await view('ggz')).items.map((i) => i.id).sort()).toEqual([politieItem, ggzItem].sort());
    expect(code(await c.politie!.cmd('case:close', { caseId, decision: 'Doel bereikt.', closedOn: day }))).toBe('FORBIDDEN');
    expect(code(await c.regisseur!.cmd('case:close', { caseId, decision: 'Doel bereikt.', closedOn: addDays(day, 1) }))).toBe('BAD_REQUEST');
    await ok(c.regisseur!.cmd('case:close', { caseId, decision: 'Doel bereikt: de overlast is gestopt.', closedOn: day }));
    const ggz = await view('ggz');
    expect(ggz.items.map((i) => i.id)).toEqual([ggzItem]);
    expect(ggz.meta.closure).toMatchObject({ decision: 'Doel bereikt: de overlast is gestopt.', closedOn: day, retainUntil: addDays(day, 30) });
    expect((await view('politie')).items.map((i) => i.id)).toEqual([politieItem]);
    // Nothing more is changed, the texts neither.
    expect(code(await c.ggz!.cmd('item:edit', { caseId, itemId: ggzItem, text: 'later' }))).toBe('CONFLICT');
    expect(code(await c.regisseur!.cmd('case:setPhase', { caseId, phase: 'oordelen' }))).toBe('CONFLICT');
  });

  it('R-RETAIN: a purge day moves only later, with a reason, by the chair or the privacy officer', async () => {
    expect(code(await c.regisseur!.cmd('case:extendRetention', { caseId, until: addDays(day, 10), reason: 'x' }))).toBe('BAD_REQUEST');
    expect(code(await c.politie!.cmd('case:extendRetention', { caseId, until: addDays(day, 60), reason: 'Lopende procedure.' }))).toBe('FORBIDDEN');
    await ok(c.regisseur!.cmd('case:extendRetention', { caseId, until: addDays(day, 40), reason: 'Bezwaarprocedure loopt.' }));
    const byPrivacy = await c.privacy!.http('POST', `/api/privacy/cases/${caseId}/retention`, { until: addDays(day, 45), reason: 'Verzoek om inzage loopt.' });
    expect(byPrivacy.status).toBe(200);
    expect((await c.privacy!.http('POST', `/api/privacy/cases/${caseId}/retention`, { until: addDays(day, 44), reason: 'eerder' })).status).toBe(400);
    expect((await c.politie!.http('POST', `/api/privacy/cases/${caseId}/retention`, { until: addDays(day, 90), reason: 'x' })).status).toBe(403);
    const closure = (await view('regisseur')).meta.closure!;
    expect(closure.retainUntil).toBe(addDays(day, 45));
    expect(closure.extensions.map((x) => [x.reason, x.byName])).toEqual([
      ['Bezwaarprocedure loopt.', 'Marieke Hoekstra'],
      ['Verzoek om inzage loopt.', 'Sietske Hoogland'],
    ]);
    const list = await c.privacy!.http<{ closed: RetentionView[] }>('GET', '/api/privacy/retention');
    expect(list.body.closed.find((x) => x.caseId === caseId)).toMatchObject({ title: 'Casus W.', retainUntil: addDays(day, 45), extensions: 2 });
  });
});

describe('R-RETAIN: the access log’s own term', () => {
  it('R-RETAIN: access records whose term passed go up to a seal; the log still verifies from the marker, and a change after it is found', async () => {
    await srv.app.access.flush();
    const sealed = await srv.app.sealer!.seal();
    expect(sealed).not.toBeNull();
    // Read after the seal: kept, whatever the term.
    expect(
      (
        await c.politie!.cmd('case:open', {
          caseId: await createCase(c.regisseur!, 'Casus N.', [
            ['zvh', 'voorzitter', 'regisseur'],
            ['politie', 'aanmelder', 'politie'],
          ]),
        })
      ).ok,
    ).toBe(true);
    await srv.app.access.flush();
    const later = new Retention({
      cases: srv.app.cases,
      store: srv.app.store,
      dir: srv.app.dir,
      access: srv.app.access,
      cluster: { casePurged: () => undefined },
      sealer: srv.app.sealer,
      sealKey: KEY,
      log: srv.app.log,
      accessDays: 1,
      now: () => new Date(Date.now() + 2 * 86_400_000),
    });
    const oldest = (await srv.app.store.accessChain(Number.MIN_SAFE_INTEGER, 1))[0]!.pos;
    expect(await later.purgeAccessLog()).toBeGreaterThan(0);
    // Done once: nothing more is due until a later seal.
    expect(await later.purgeAccessLog()).toBe(0);
    const first = (await srv.app.store.accessChain(Number.MIN_SAFE_INTEGER, 1))[0]!.pos;
    expect(first).toBeGreaterThan(sealed!.access.pos);
    expect(first).toBeGreaterThan(oldest);
    expect((await verifyChains(srv.app.store, KEY)).ok).toBe(true);
    await srv.app.access.flush();
    await srv.app.sealer!.seal();
    expect((await verifyChains(srv.app.store, KEY)).broken).toBeNull();
    // A marker not under the key is found.
    const marker = (await srv.app.store.getMeta('access-purge'))!;
    await srv.app.store.putMeta('access-purge', marker.replace(/"upTo":\d+/, `"upTo":${first + 5}`));
    expect((await verifyChains(srv.app.store, KEY)).broken).toMatchObject({ what: 'access' });
    await srv.app.store.putMeta('access-purge', marker.replace('"reason":"', '"reason":"geen: '));
    expect((await verifyChains(srv.app.store, KEY)).broken).toMatchObject({ what: 'access', reason: expect.stringMatching(/altered/) });
    await srv.app.store.putMeta('access-purge', marker);
    expect((await verifyChains(srv.app.store, KEY)).ok).toBe(true);
  });
});

describe('R-RETAIN: purging a case whose retention passed', () => {
  it('R-RETAIN: nothing is purged before its day', async () => {
    day = addDays(day, 44);
    // (The demo's closed case, due in a few days, goes now.)
    expect(await srv.app.retention.sweep()).not.toContain(caseId);
    expect(srv.app.cases.get(caseId)).toBeDefined();
  });

  it('R-RETAIN: the case goes from the database and its write-ahead log; the logs still verify; the privacy officer sees it went', async () => {
    await srv.app.access.flush();
    for (const mark of Object.values(MARK)) expect(holds(mark), mark).toBe(true);
    const from = c.politie!.nextSeq;
    day = addDays(day, 1);
    expect(await srv.app.retention.sweep()).toEqual([caseId]);
    // Every viewer is told it is gone.
    await c.politie!.waitFor((m) => m.event === 'case:patch' && JSON.stringify(m.args[0]).includes('"revoked"'), 5000, from);
    expect(code(await c.politie!.cmd('case:open', { caseId }))).toBe('NOT_FOUND');
    expect(await srv.app.store.readEvents(caseId)).toEqual([]);
    expect(await srv.app.store.caseIds()).not.toContain(caseId);
    for (const mark of Object.values(MARK)) expect(holds(mark), mark).toBe(false);
    // Sealed before it went: the chains still verify, with the purge marker in place of the log.
    const verified = await verifyChains(srv.app.store, KEY);
    expect(verified.broken).toBeNull();
    expect(verified.ok).toBe(true);
    const list = await c.privacy!.http<{ closed: RetentionView[]; purged: RetentionView[] }>('GET', '/api/privacy/retention');
    expect(list.body.closed.map((x) => x.caseId)).not.toContain(caseId);
    expect(list.body.purged.find((x) => x.caseId === caseId)).toMatchObject({ title: null, retainUntil: addDays(day, 0), purgedAt: expect.any(String) });
    await srv.app.access.flush();
    const records = (await srv.app.store.searchAccess({ caseId, limit: 1000 })).records;
    expect(records.find((r) => r.operation === 'case:purge')).toMatchObject({ action: 'delete', purpose: 'bewaartermijn verstreken', outcome: 'ok' });
  });

  it('R-RETAIN: deleting a sealed case log without its marker is found by the verification', async () => {
    // Another case, sealed, whose log is then removed by hand: no marker, so a break.
    const other = await createCase(c.regisseur!, 'Casus V.', [
      ['zvh', 'voorzitter', 'regisseur'],
      ['politie', 'aanmelder', 'politie'],
    ]);
    await srv.app.sealer!.seal();
    await srv.app.store.purgeCase(other, srv.app.cases.get(other)!.version, [], '{"forged":true}');
    const verified = await verifyChains(srv.app.store, KEY);
    expect(verified.broken).toMatchObject({ what: 'case', caseId: other });
    expect(path.basename(srv.dbFile)).toMatch(/sqlite$/);
  });
});

describe('R-RETAIN: purging on Redis', () => {
  it('R-RETAIN: the case goes from Redis: from a dump of it and from its append-only file', async () => {
    const redis = await startRedis({ appendOnly: true, args: ['--rdbcompression', 'no'] });
    let today = houseDay();
    const s = await startTestServer({
      today: () => today,
      env: {
        REDIS_URL: redis.url,
        REDIS_PREFIX: newId('t'),
        SEAL_KEY: KEY.toString('base64'),
        SEAL_INTERVAL_MS: '3600000',
        RETENTION_SWEEP_MS: '86400000',
        RETENTION_DAYS: '1',
      },
    });
    const chair = await TestClient.connect(s.url, 'regisseur');
    const police = await TestClient.connect(s.url, 'politie');
    const mark = `Redis-inbreng-${randomBytes(6).toString('hex')}`;
    const redisFiles = (): Buffer[] => {
      const out: Buffer[] = [];
      const walk = (d: string): void => {
        for (const f of fs.readdirSync(d, { withFileTypes: true })) {
          const p = path.join(d, f.name);
          if (f.isDirectory()) walk(p);
          else out.push(fs.readFileSync(p));
        }
      };
      walk(redis.dir);
      return out;
    };
    const inRedis = async (): Promise<boolean> => {
      // A dump of what Redis holds now, and the append-only files that rebuild it.
      const c = createClient({ url: redis.url });
      await c.connect();
      await c.sendCommand(['SAVE']);
      await poll('no rewrite running', async () => (await c.sendCommand<string>(['INFO', 'persistence'])).includes('aof_rewrite_in_progress:0'));
      await c.close();
      return redisFiles().some((b) => b.includes(Buffer.from(mark)));
    };
    try {
      const id = await createCase(chair, 'Casus R2.', [
        ['zvh', 'voorzitter', 'regisseur'],
        ['politie', 'aanmelder', 'politie'],
      ]);
      const m = await discuss(chair, id);
      await ok(police.cmd('item:add', { caseId: id, phase: 'beeldvorming', text: mark, visibility: { kind: 'table' } }));
      await endDiscussion(chair, id, m);
      await ok(chair.cmd('case:close', { caseId: id, decision: 'Afgerond.', closedOn: today }));
      expect(await inRedis()).toBe(true);
      today = addDays(today, 1);
      expect(await s.app.retention.sweep()).toEqual([id]);
      expect(await inRedis()).toBe(false);
      expect((await verifyChains(s.app.store, KEY)).ok).toBe(true);
    } finally {
      chair.close();
      police.close();
      await s.close();
      await redis.stop();
    }
  });
});

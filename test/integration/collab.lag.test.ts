import * as Y from 'yjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, type CaseId, type ItemId, type OrgId } from '../../shared/ids.js';
import type { CaseService } from '../../server/cases/service.js';
import { login, TestClient } from '../support/client.js';
import { provider, rawConn, synced, textWhere } from '../support/collab.js';
import { startRedis, type PrivateRedis } from '../support/redis.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { poll, within } from '../support/wait.js';

// Review PoC: a process that lags loads a document from a snapshot another process wrote past
// the case position it holds, and hands text typed after a narrowing to a reader it excludes.
let redis: PrivateRedis;
let bus: PrivateRedis;
const prefix = newId('t');
let a: TestServer;
let b: TestServer;
let pol: TestClient;
let polCookie: string;
let caseId: CaseId;

beforeAll(async () => {
  [redis, bus] = await Promise.all([startRedis(), startRedis()]);
  const env = { REDIS_URL: redis.url, REDIS_BUS_URL: bus.url, REDIS_PREFIX: prefix };
  a = await startTestServer({ env, commandsPerSecond: 10_000 });
  b = await startTestServer({ env, commandsPerSecond: 10_000 });
  polCookie = await login(a.url, 'politie');
  pol = await TestClient.connect(a.url, 'politie', polCookie);
  caseId = [...a.app.cases.all()].find((c) => c.title.startsWith('Casus R.'))!.id;
  await pol.cmd('case:open', { caseId });
});
afterAll(async () => {
  pol?.close();
  await a?.close();
  await b?.close();
  await redis?.stop();
  await bus?.stop();
});

function ignoreNotices(cases: CaseService): () => void {
  const catchUp = cases.catchUp.bind(cases);
  cases.catchUp = (id, notified = []) => (notified.length > 0 ? Promise.resolve() : catchUp(id));
  return () => {
    cases.catchUp = catchUp;
  };
}

async function newItem(text: string): Promise<{ itemId: ItemId; docId: string }> {
  const added = await pol.cmd('item:add', { caseId, phase: 'beeldvorming', text, visibility: { kind: 'table' } });
  if (!added.ok) throw new Error(added.error.code);
  const itemId = (added.data as { itemId: ItemId }).itemId;
  await poll('b holds the item', () => b.app.cases.get(caseId)?.items.has(itemId) === true);
  return { itemId, docId: a.app.cases.get(caseId)!.items.get(itemId)!.textDocId };
}

const snapshotText = async (docId: string): Promise<string> => {
  const snap = await a.app.store.readDocSnapshot(docId);
  if (!snap) return '';
  const d = new Y.Doc();
  Y.applyUpdate(d, snap.state);
  return d.getText('text').toString();
};

describe('P-ORDER: a lagging process and a snapshot ahead of it', () => {
  it('P-ORDER: a reader excluded by a narrowing the lagging process has not applied gets no text typed after it from a snapshot', async () => {
    const { itemId, docId } = await newItem('Open.');
    const restore = ignoreNotices(b.app.cases);
    const writer = provider(a.url, docId, polCookie);
    let reader: ReturnType<typeof provider> | null = null;
    try {
      await synced(writer);
      expect((await pol.cmd('item:setVisibility', { caseId, itemId, visibility: { kind: 'orgs', orgIds: ['org_politie' as OrgId] } })).ok).toBe(true);
      writer.doc.getText('text').insert(5, ' GEHEIM');
      await textWhere(writer.doc, (t) => t.includes('GEHEIM'));
      // The writer leaves: a lets the document go and stores its snapshot, past b's position.
      writer.destroy();
      await poll('a snapshot holding the secret', async () => (await snapshotText(docId)).includes('GEHEIM'), { pauseMs: 20 });
      expect(b.app.cases.get(caseId)!.items.get(itemId)!.visibility).toEqual({ kind: 'table' });
      reader = provider(b.url, docId, await login(b.url, 'om'));
      await synced(reader);
      expect(reader.doc.getText('text').toString()).not.toContain('GEHEIM');
    } finally {
      restore();
      writer.destroy();
      reader?.destroy();
    }
  });

  it('P-CATCHUP: a document that a lagging process has not heard of yet is not refused for good (4404)', async () => {
    const restore = ignoreNotices(b.app.cases);
    try {
      const added = await pol.cmd('item:add', { caseId, phase: 'beeldvorming', text: 'Nieuw.', visibility: { kind: 'table' } });
      if (!added.ok) throw new Error(added.error.code);
      const docId = a.app.cases.get(caseId)!.items.get((added.data as { itemId: ItemId }).itemId)!.textDocId;
      // The board (on a) shows the item; the editor's upgrade lands on b, which reads the log first.
      const conn = rawConn(b.url, docId, polCookie);
      const first = await within(
        'the first message or the close',
        Promise.race([new Promise<string>((r) => conn.ws.once('message', () => r('message'))), conn.closed.then((code) => `closed ${code}`)]),
      );
      conn.ws.terminate();
      expect(first).toBe('message');
    } finally {
      restore();
    }
  });
});

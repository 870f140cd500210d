import * as Y from 'yjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, type CaseId, type ItemId, type OrgId } from '../../shared/ids.js';
import { CollabClose } from '../../shared/protocol.js';
import type { CaseService } from '../../server/cases/service.js';
import { login, TestClient } from '../support/client.js';
import { awarenessMessage, provider, rawConn, storedText, synced, textWhere, wsOpen } from '../support/collab.js';
import { startRedis, type PrivateRedis } from '../support/redis.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { poll, when, within } from '../support/wait.js';

// Two servers on one Redis, in this process, so the test can make one lag: a process that has not
// yet applied a narrowing must not hand text typed after it to a reader the narrowing excludes
// (docs/DESIGN-ordering.md: text is an entry of the case log, applied in order like the rest).
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

/** The process stops applying the notices of other processes: it learns of commits only by reading the log. */
function ignoreNotices(cases: CaseService): () => void {
  const catchUp = cases.catchUp.bind(cases);
  cases.catchUp = (id, notified = []) => (notified.length > 0 ? Promise.resolve() : catchUp(id));
  return () => {
    cases.catchUp = catchUp;
  };
}

/** A new item, once process b holds it too. */
async function newItem(text: string): Promise<{ itemId: ItemId; docId: string }> {
  const added = await pol.cmd('item:add', { caseId, phase: 'beeldvorming', text, visibility: { kind: 'table' } });
  if (!added.ok) throw new Error(added.error.code);
  const itemId = (added.data as { itemId: ItemId }).itemId;
  await new Promise<void>((resolve) => {
    if (b.app.cases.get(caseId)?.items.has(itemId)) return resolve();
    const off = b.app.cases.onCommitted((c) => {
      if (c.after.items.has(itemId)) {
        off();
        resolve();
      }
    });
  });
  return { itemId, docId: a.app.cases.get(caseId)!.items.get(itemId)!.textDocId };
}

const narrow = async (itemId: ItemId) =>
  expect((await pol.cmd('item:setVisibility', { caseId, itemId, visibility: { kind: 'orgs', orgIds: ['org_politie' as OrgId] } })).ok).toBe(true);

/** How the reader's connection ends, or the text it was handed, whichever comes first. */
function outcome(reader: ReturnType<typeof provider>): Promise<string> {
  return Promise.race([
    new Promise<string>((resolve) => reader.on('connection-close', (e: { code?: number } | null) => resolve(`closed ${e?.code ?? 0}`))),
    textWhere(reader.doc, (t) => t.includes('GEHEIM'), 20_000).then((t) => `read ${t}`),
  ]);
}

/** The lagging process reads the log: everything it missed, applied in log order. */
const catchUp = (s: TestServer): Promise<void> => s.app.cases.withCase(caseId, () => s.app.cases.catchUp(caseId));

describe('P-ORDER co-editing across processes in log order', () => {
  it('P-ORDER: text typed after a narrowing reaches no reader it excludes, on a process that applies both late', async () => {
    const { itemId, docId } = await newItem('Open.');
    const writer = provider(a.url, docId, polCookie);
    const reader = provider(b.url, docId, await login(b.url, 'om'));
    const restore = ignoreNotices(b.app.cases);
    try {
      await Promise.all([synced(writer), synced(reader)]);
      await textWhere(reader.doc, (t) => t === 'Open.');
      const ended = outcome(reader);
      await narrow(itemId);
      writer.doc.getText('text').insert(5, ' GEHEIM');
      await textWhere(writer.doc, (t) => t.includes('GEHEIM'));
      // b has heard of neither: its copy of the document is where its case is, before the narrowing.
      expect(b.app.cases.get(caseId)!.items.get(itemId)!.visibility).toEqual({ kind: 'table' });
      restore();
      await catchUp(b);
      expect(await ended).toBe(`closed ${CollabClose.REVOKED}`);
      expect(reader.doc.getText('text').toString()).not.toContain('GEHEIM');
    } finally {
      restore();
      writer.destroy();
      reader.destroy();
    }
  });

  it('P-ORDER: a process that lags loads a document only as far as the case it holds', async () => {
    const { itemId, docId } = await newItem('Open.');
    const writer = provider(a.url, docId, polCookie);
    const restore = ignoreNotices(b.app.cases);
    let reader: ReturnType<typeof provider> | null = null;
    try {
      await synced(writer);
      await narrow(itemId);
      writer.doc.getText('text').insert(5, ' GEHEIM');
      await textWhere(writer.doc, (t) => t.includes('GEHEIM'));
      // b still holds the case from before the narrowing; the log has the text typed after it.
      expect(b.app.cases.get(caseId)!.items.get(itemId)!.visibility).toEqual({ kind: 'table' });
      reader = provider(b.url, docId, await login(b.url, 'om'));
      await synced(reader);
      expect(reader.doc.getText('text').toString()).toBe('Open.');
      const ended = outcome(reader);
      restore();
      await catchUp(b);
      expect(await ended).toBe(`closed ${CollabClose.REVOKED}`);
      expect(reader.doc.getText('text').toString()).not.toContain('GEHEIM');
    } finally {
      restore();
      writer.destroy();
      reader?.destroy();
    }
  });

  it('P-ORDER: a board edit on a process that lags is judged again after the entries it missed, readers included', async () => {
    const { itemId, docId } = await newItem('Open.');
    const polB = await TestClient.connect(b.url, 'politie', polCookie);
    const writerOnB = provider(b.url, docId, polCookie);
    const readerOnA = provider(a.url, docId, await login(a.url, 'om'));
    const restore = ignoreNotices(a.app.cases);
    try {
      await polB.cmd('case:open', { caseId });
      await Promise.all([synced(writerOnB), synced(readerOnA)]);
      await textWhere(readerOnA.doc, (t) => t === 'Open.');
      // On b: narrowed to the police, then text typed after it; a hears nothing of either.
      expect((await polB.cmd('item:setVisibility', { caseId, itemId, visibility: { kind: 'orgs', orgIds: ['org_politie' as OrgId] } })).ok).toBe(true);
      writerOnB.doc.getText('text').insert(0, 'GEHEIM ');
      await textWhere(writerOnB.doc, (t) => t.startsWith('GEHEIM'));
      const ended = outcome(readerOnA);
      // a's edit loses the race for its position, reads what it missed, and is judged again after it.
      expect((await pol.cmd('item:edit', { caseId, itemId, text: 'GEHEIM Open. Nieuw.' })).ok).toBe(true);
      expect(await ended).toBe(`closed ${CollabClose.REVOKED}`);
      expect(readerOnA.doc.getText('text').toString()).not.toContain('GEHEIM');
      await textWhere(writerOnB.doc, (t) => t === 'GEHEIM Open. Nieuw.');
    } finally {
      restore();
      writerOnB.destroy();
      readerOnA.destroy();
      polB.close();
    }
  });

  it('P-ORDER: two board edits of one text, committed on two processes at once, leave one text in every copy', async () => {
    const { itemId, docId } = await newItem('Oud.');
    const polB = await TestClient.connect(b.url, 'politie', polCookie);
    const onA = provider(a.url, docId, polCookie);
    const onB = provider(b.url, docId, polCookie);
    try {
      await polB.cmd('case:open', { caseId });
      await Promise.all([synced(onA), synced(onB)]);
      const [one, two] = await Promise.all([
        pol.cmd('item:edit', { caseId, itemId, text: 'Eerste versie.' }),
        polB.cmd('item:edit', { caseId, itemId, text: 'Tweede versie.' }),
      ]);
      expect(one.ok && two.ok).toBe(true);
      await catchUp(a);
      await catchUp(b);
      // The later of the two in the log is the text: on the board of both, in both copies and in the store.
      const board = a.app.cases.get(caseId)!.items.get(itemId)!.text;
      expect(['Eerste versie.', 'Tweede versie.']).toContain(board);
      expect(b.app.cases.get(caseId)!.items.get(itemId)!.text).toBe(board);
      await textWhere(onA.doc, (t) => t === board);
      await textWhere(onB.doc, (t) => t === board);
      expect(await storedText(a.app.store, caseId, docId)).toBe(board);
    } finally {
      onA.destroy();
      onB.destroy();
      polB.close();
    }
  });
});

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

describe('P-PEER cursors across processes', () => {
  it('P-PEER: a cursor id owned by a user on one process cannot be taken over from another', async () => {
    const { docId } = await newItem('Cursors over processen.');
    const observer = provider(a.url, docId, await login(a.url, 'regisseur'));
    await synced(observer);
    const ID = 5151;
    const peer = await wsOpen(a.url, docId, polCookie);
    peer.ws.send(awarenessMessage(ID, 1, { cursor: { anchor: 1, head: 1 } }));
    const stateOf = () => observer.awareness.getStates().get(ID) as { user?: { id?: string }; cursor?: { anchor: number } } | undefined;
    const until = (what: string, pred: () => boolean): Promise<boolean> =>
      when(what, pred, (fn) => {
        observer.awareness.on('change', fn);
        return () => observer.awareness.off('change', fn);
      });
    await until("the peer's cursor at 1 on a", () => stateOf()?.cursor?.anchor === 1);
    // The document is loaded on b only now, after the peer's cursor went by: b has never heard of the id.
    const thief = await wsOpen(b.url, docId, await login(b.url, 'om'));
    thief.ws.send(awarenessMessage(ID, 1_000, { cursor: { anchor: 0, head: 0 } }));
    // Its own cursor after the claim: once a has that, it has had the claim (one channel, in order).
    thief.ws.send(awarenessMessage(6262, 1, { cursor: { anchor: 2, head: 2 } }));
    await until("the thief's own cursor on a", () => observer.awareness.getStates().has(6262));
    peer.ws.send(awarenessMessage(ID, 2, { cursor: { anchor: 9, head: 9 } }));
    await until("the peer's cursor at 9 on a", () => stateOf()?.cursor?.anchor === 9);
    expect(stateOf()?.user?.id).toBe('usr_politie');
    for (const c of [peer, thief]) c.ws.terminate();
    observer.destroy();
  });
});

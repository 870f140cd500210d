import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Y from 'yjs';
import { newId, type CaseId, type ItemId, type OrgId } from '../../shared/ids.js';
import { CollabClose } from '../../shared/protocol.js';
import type { CaseService } from '../../server/cases/service.js';
import type { Cluster } from '../../server/cluster/cluster.js';
import type { Store } from '../../server/store/types.js';
import { login, TestClient } from '../support/client.js';
import { awarenessMessage, provider, synced, textWhere, wsOpen } from '../support/collab.js';
import { startRedis, type PrivateRedis } from '../support/redis.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { when } from '../support/wait.js';

// Two servers on one Redis, in this process, so the test can make one lag: a process that has not
// yet applied a narrowing must not hand text typed after it to a reader the narrowing excludes.
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

describe('R-NEED co-editing across processes in log order', () => {
  it('R-NEED: text typed after a narrowing is not relayed, by a process that lags, to a reader it excludes', async () => {
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
      // b hears of the narrowing only through the relay's case version, and must read the log first.
      expect(await ended).toBe(`closed ${CollabClose.REVOKED}`);
      expect(reader.doc.getText('text').toString()).not.toContain('GEHEIM');
    } finally {
      restore();
      writer.destroy();
      reader.destroy();
    }
  });

  it('R-NEED: text typed after a narrowing is not loaded, by a process that lags, for a reader it excludes', async () => {
    const { itemId, docId } = await newItem('Open.');
    const writer = provider(a.url, docId, polCookie);
    const restore = ignoreNotices(b.app.cases);
    try {
      await synced(writer);
      await narrow(itemId);
      const stored = new Promise<void>((resolve) => {
        const on = (id: string): void => {
          if (id !== docId) return;
          a.app.collab.events.off('unloaded', on);
          resolve();
        };
        a.app.collab.events.on('unloaded', on);
      });
      writer.doc.getText('text').insert(5, ' GEHEIM');
      await textWhere(writer.doc, (t) => t.includes('GEHEIM'));
      // Let go on a only once every update is stored: the store holds the text now.
      writer.destroy();
      await stored;
      // b still holds the case from before the narrowing; the store has the text typed after it.
      expect(b.app.cases.get(caseId)!.items.get(itemId)!.visibility).toEqual({ kind: 'table' });
      const reader = provider(b.url, docId, await login(b.url, 'om'));
      try {
        expect(await outcome(reader)).toBe(`closed ${CollabClose.FORBIDDEN}`);
        expect(reader.doc.getText('text').toString()).not.toContain('GEHEIM');
      } finally {
        reader.destroy();
      }
    } finally {
      restore();
      writer.destroy();
    }
  });
});

interface CollabInternals {
  onRelay: (...args: unknown[]) => void;
  d: { cluster: Cluster; store: Store };
  docs: Map<string, Promise<{ appending: Promise<void>; ydoc: Y.Doc }>>;
}
const internals = (s: TestServer): CollabInternals => s.app.collab as unknown as CollabInternals;

/** The process hears no relay from the others until `release` (which replays them) or `restore` (which drops them). */
function holdRelays(s: TestServer): { release(): void; restore(): void } {
  const c = internals(s);
  const onRelay = c.onRelay;
  const held: unknown[][] = [];
  c.onRelay = (...args) => void held.push(args);
  return {
    release() {
      c.onRelay = onRelay;
      for (const args of held.splice(0)) onRelay.apply(c, args);
    },
    restore() {
      c.onRelay = onRelay;
    },
  };
}

/** Calls of `target[method]` for the document wait until `open()`; `reached` resolves once one waits. */
function gate<K extends string, T extends Record<K, (id: string) => Promise<unknown>>>(target: T, method: K, docId: string): { reached: Promise<void>; open(): void; restore(): void } {
  const original = target[method];
  let reach!: () => void;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  target[method] = (async (id: string) => {
    if (id === docId) {
      reach();
      await opened;
    }
    return original.call(target, id);
  }) as T[K];
  return {
    reached,
    open,
    restore() {
      open();
      target[method] = original;
    },
  };
}

describe('R-OWN board edits of one text on two processes', () => {
  it('R-OWN: two board edits of one text, committed on two processes at once, leave the later text alone in the document', async () => {
    const { itemId, docId } = await newItem('Oud.');
    const polB = await TestClient.connect(b.url, 'politie', polCookie);
    const onA = provider(a.url, docId, polCookie);
    const onB = provider(b.url, docId, polCookie);
    // b hears nothing of a's copy for now: as if a's relay were still on its way.
    const relays = holdRelays(b);
    try {
      await polB.cmd('case:open', { caseId });
      await Promise.all([synced(onA), synced(onB)]);
      await Promise.all([textWhere(onA.doc, (t) => t === 'Oud.'), textWhere(onB.doc, (t) => t === 'Oud.')]);
      expect((await pol.cmd('item:edit', { caseId, itemId, text: 'Eerste versie.' })).ok).toBe(true);
      await textWhere(onA.doc, (t) => t === 'Eerste versie.');
      expect((await polB.cmd('item:edit', { caseId, itemId, text: 'Tweede versie.' })).ok).toBe(true);
      // b writes its edit into what a stored, not beside it in its own older copy.
      await textWhere(onB.doc, (t) => t.includes('Tweede'));
      expect(onB.doc.getText('text').toString()).toBe('Tweede versie.');
      relays.release();
      await textWhere(onA.doc, (t) => t.includes('Tweede'));
      expect(onA.doc.getText('text').toString()).toBe('Tweede versie.');
      expect(onB.doc.getText('text').toString()).toBe('Tweede versie.');
    } finally {
      relays.restore();
      onA.destroy();
      onB.destroy();
      polB.close();
    }
  });

  it('R-OWN: a board edit that waits for the document while another process writes a later one is not written over it', async () => {
    const { itemId, docId } = await newItem('Oud.');
    const polB = await TestClient.connect(b.url, 'politie', polCookie);
    const onA = provider(a.url, docId, polCookie);
    const onB = provider(b.url, docId, polCookie);
    const cluster = internals(a).d.cluster;
    const restore = ignoreNotices(a.app.cases);
    let relays: ReturnType<typeof holdRelays> | null = null;
    let lock: ReturnType<typeof gate> | null = null;
    try {
      await polB.cmd('case:open', { caseId });
      await Promise.all([synced(onA), synced(onB)]);
      await Promise.all([textWhere(onA.doc, (t) => t === 'Oud.'), textWhere(onB.doc, (t) => t === 'Oud.')]);
      // a learns of b's commit and text only by reading the log and the store, and its board edit
      // waits for the document until b has written its own.
      relays = holdRelays(a);
      lock = gate(cluster, 'lockDoc', docId);
      expect((await pol.cmd('item:edit', { caseId, itemId, text: 'Eerste versie.' })).ok).toBe(true);
      await lock.reached;
      expect((await polB.cmd('item:edit', { caseId, itemId, text: 'Tweede versie.' })).ok).toBe(true);
      await textWhere(onB.doc, (t) => t === 'Tweede versie.');
      expect(a.app.cases.get(caseId)!.items.get(itemId)!.text).toBe('Eerste versie.');
      // a now gets the document, reads the log, finds its edit overtaken and writes nothing.
      const caughtUp = new Promise<void>((resolve) => {
        const off = a.app.cases.onCommitted((c) => {
          if (c.after.items.get(itemId)?.text === 'Tweede versie.') {
            off();
            resolve();
          }
        });
      });
      lock.restore();
      await caughtUp;
      await (await cluster.lockDoc(docId))();
      relays.release();
      await textWhere(onA.doc, (t) => t.includes('Tweede'));
      expect(onA.doc.getText('text').toString()).toBe('Tweede versie.');
      expect(onB.doc.getText('text').toString()).toBe('Tweede versie.');
    } finally {
      lock?.restore();
      relays?.restore();
      restore();
      onA.destroy();
      onB.destroy();
      polB.close();
    }
  });

  it('R-NEED: a board edit that reads text typed after a narrowing elsewhere judges its readers on the narrowed case', async () => {
    const { itemId, docId } = await newItem('Open.');
    const polB = await TestClient.connect(b.url, 'politie', polCookie);
    const writerOnB = provider(b.url, docId, polCookie);
    const readerOnA = provider(a.url, docId, await login(a.url, 'om'));
    const restore = ignoreNotices(a.app.cases);
    let relays: ReturnType<typeof holdRelays> | null = null;
    let read: ReturnType<typeof gate> | null = null;
    try {
      await polB.cmd('case:open', { caseId });
      await Promise.all([synced(writerOnB), synced(readerOnA)]);
      await textWhere(readerOnA.doc, (t) => t === 'Open.');
      // From here a hears nothing from b but what it reads from the log and the store.
      relays = holdRelays(a);
      read = gate(internals(a).d.store, 'readDocUpdates', docId);
      expect((await pol.cmd('item:edit', { caseId, itemId, text: 'Open. Nieuw.' })).ok).toBe(true);
      await read.reached;
      // Meanwhile on b: the item narrowed to the police, and text typed after it, stored.
      expect((await polB.cmd('item:setVisibility', { caseId, itemId, visibility: { kind: 'orgs', orgIds: ['org_politie' as OrgId] } })).ok).toBe(true);
      writerOnB.doc.getText('text').insert(0, 'GEHEIM ');
      // b's own copy has it, and has stored it.
      const onB = await internals(b).docs.get(docId)!;
      await textWhere(onB.ydoc, (t) => t.startsWith('GEHEIM'));
      await onB.appending;
      const ended = outcome(readerOnA);
      read.open();
      expect(await ended).toBe(`closed ${CollabClose.REVOKED}`);
      expect(readerOnA.doc.getText('text').toString()).not.toContain('GEHEIM');
    } finally {
      read?.restore();
      relays?.restore();
      restore();
      writerOnB.destroy();
      readerOnA.destroy();
      polB.close();
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
    await until('the peer\'s cursor at 1 on a', () => stateOf()?.cursor?.anchor === 1);
    // The document is loaded on b only now, after the peer's cursor went by: b has never heard of the id.
    const thief = await wsOpen(b.url, docId, await login(b.url, 'om'));
    thief.ws.send(awarenessMessage(ID, 1_000, { cursor: { anchor: 0, head: 0 } }));
    // Its own cursor after the claim: once a has that, it has had the claim (one channel, in order).
    thief.ws.send(awarenessMessage(6262, 1, { cursor: { anchor: 2, head: 2 } }));
    await until('the thief\'s own cursor on a', () => observer.awareness.getStates().has(6262));
    peer.ws.send(awarenessMessage(ID, 2, { cursor: { anchor: 9, head: 9 } }));
    await until('the peer\'s cursor at 9 on a', () => stateOf()?.cursor?.anchor === 9);
    expect(stateOf()?.user?.id).toBe('usr_politie');
    for (const c of [peer, thief]) c.ws.terminate();
    observer.destroy();
  });
});

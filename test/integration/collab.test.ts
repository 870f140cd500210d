import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as Y from 'yjs';
import type { CaseId, ItemId, OrgId } from '../../shared/ids.js';
import { CollabClose, type CaseView } from '../../shared/protocol.js';
import { MAX_DOC_UPDATE_BYTES } from '../../shared/limits.js';
import { login, TestClient } from '../support/client.js';
import { provider, rawConn, recorder, synced, textWhere } from '../support/collab.js';
import type { WebsocketProvider } from 'y-websocket';
import { startTestServer, type TestServer } from '../support/server.js';
import { when, within } from '../support/wait.js';
import { runningIn } from '../support/meetings.js';

// Co-editing over the y-websocket protocol, authorised per document like the item it belongs to.
let srv: TestServer;
const cookie: Record<string, string> = {};
let pol: TestClient;
let caseId: CaseId;
let view: CaseView;
const cleanup: (() => void)[] = [];

beforeAll(async () => {
  srv = await startTestServer({ commandsPerSecond: 10_000, burstMs: 100 });
  for (const u of ['politie', 'politie2', 'om', 'ggz', 'veiligthuis', 'regisseur']) cookie[u] = await login(srv.url, u);
  pol = await TestClient.connect(srv.url, 'politie', cookie.politie);
  caseId = [...srv.app.cases.all()].find((c) => c.title.startsWith('Casus R.'))!.id;
  const r = await pol.cmd('case:open', { caseId });
  view = (r as { data: { view: CaseView } }).data.view;
});
afterAll(async () => {
  for (const f of cleanup) f();
  pol?.close();
  await srv?.close();
});

function open(user: string, docId: string, doc = new Y.Doc()) {
  const p = provider(srv.url, docId, cookie[user]!, doc);
  cleanup.push(() => p.destroy());
  return p;
}

async function newItem(text: string, only?: OrgId[]): Promise<{ itemId: ItemId; docId: string }> {
  const r = await pol.cmd('item:add', { caseId, phase: 'beeldvorming', text, visibility: only ? { kind: 'orgs', orgIds: only } : { kind: 'table' } });
  if (!r.ok) throw new Error(r.error.code);
  const docId = srv.app.cases.get(caseId)!.items.get(r.data.itemId)!.textDocId;
  return { itemId: r.data.itemId, docId };
}

describe('R-NEED R-OWN co-editing of item texts', () => {
  it('R-OWN: a stock WebsocketProvider syncs the item text with the server', async () => {
    const item = view.items.find((i) => i.mine)!;
    const p = open('politie', item.textDocId);
    await synced(p);
    expect(p.doc.getText('text').toString()).toBe(item.text);
  });

  it('R-NEED: without a session, or without the right, the connection is refused and nothing is learnt', async () => {
    const restricted = view.items.find((i) => i.visibility.kind === 'orgs' && i.mine)!;
    const anon = rawConn(srv.url, restricted.textDocId);
    expect(await anon.status).toBe(401);
    // Hidden, unknown or outside the case: all closed at once the same way, before any byte.
    const refused = [
      rawConn(srv.url, restricted.textDocId, cookie.ggz),
      rawConn(srv.url, 'doc_doesnotexist', cookie.ggz),
      rawConn(srv.url, view.meta.minutesDocId!, cookie.veiligthuis),
    ];
    for (const c of refused) expect(await c.closed).toBe(CollabClose.FORBIDDEN);
    for (const c of [anon, ...refused]) expect(c.received).toEqual([]);
  });

  it('R-OWN: two writers of the contributing organisation and one reader converge; the reader’s updates are refused', async () => {
    const { docId } = await newItem('Begin.');
    const a = open('politie', docId);
    const b = open('politie2', docId);
    const reader = open('om', docId);
    await Promise.all([synced(a), synced(b), synced(reader)]);
    a.doc.getText('text').insert(6, ' Van A.');
    b.doc.getText('text').insert(0, 'B zegt: ');
    const both = (t: string) => t.includes('Van A.') && t.includes('B zegt:');
    await Promise.all([textWhere(a.doc, both), textWhere(b.doc, both), textWhere(reader.doc, both)]);
    // The reader writes locally; the server refuses it, so the writers never see it.
    reader.doc.getText('text').insert(0, 'OM-WIJZIGING ');
    a.doc.getText('text').insert(0, '!');
    await textWhere(b.doc, (t) => t.startsWith('!'));
    await textWhere(reader.doc, (t) => t.includes('!'));
    expect(a.doc.getText('text').toString()).not.toContain('OM-WIJZIGING');
    expect(b.doc.getText('text').toString()).not.toContain('OM-WIJZIGING');
    expect(a.doc.getText('text').toString()).toBe(b.doc.getText('text').toString());
  });

  it('R-NEED: revocation race: narrowing visibility while the contributor types cuts the reader off at once', async () => {
    const { itemId, docId } = await newItem('Race:');
    const writer = open('politie', docId);
    await synced(writer);
    const om = rawConn(srv.url, docId, cookie.om);
    expect(await om.status).toBe(101);
    let n = 0;
    let typing = true;
    let ackedAt = Infinity;
    // Typing stops when the test says so, or by a deadline should the test fail on its way there.
    const stopBy = performance.now() + 30_000;
    const typer = (async () => {
      while (typing && performance.now() < stopBy) {
        writer.doc.getText('text').insert(writer.doc.getText('text').length, ` M${++n}X`);
        await new Promise((r) => setImmediate(r));
      }
    })();
    await textWhere(writer.doc, (t) => t.includes('M20X'));
    const r = await pol.cmd('item:setVisibility', { caseId, itemId, visibility: { kind: 'orgs', orgIds: ['org_ggz' as OrgId] } });
    expect(r.ok).toBe(true);
    ackedAt = n;
    expect(await om.closed).toBe(CollabClose.REVOKED);
    await textWhere(writer.doc, (t) => t.includes(`M${ackedAt + 30}X`));
    typing = false;
    await typer;
    const got = Buffer.concat(om.received).toString('latin1');
    const seen = [...got.matchAll(/M(\d+)X/g)].map((m) => Number(m[1]));
    expect(seen.length).toBeGreaterThan(0);
    expect(Math.max(...seen)).toBeLessThanOrEqual(ackedAt);
    // And it cannot come back.
    const again = rawConn(srv.url, docId, cookie.om);
    expect(await again.closed).toBe(CollabClose.FORBIDDEN);
    expect(again.received).toEqual([]);
  });

  it('R-NEED: deleted text never reaches a new joiner', async () => {
    const { docId } = await newItem('Zichtbaar.');
    const w = open('politie', docId);
    await synced(w);
    const t = w.doc.getText('text');
    t.insert(t.length, ' KANARIE-8f3e2a ');
    const watcher = open('politie2', docId);
    await textWhere(watcher.doc, (x) => x.includes('KANARIE'));
    t.delete(t.toString().indexOf(' KANARIE'), ' KANARIE-8f3e2a '.length);
    await textWhere(watcher.doc, (x) => !x.includes('KANARIE'));
    const joiner = rawConn(srv.url, docId, cookie.ggz);
    expect(await joiner.status).toBe(101);
    const reader = open('ggz', docId);
    await synced(reader);
    expect(reader.doc.getText('text').toString()).toBe('Zichtbaar.');
    joiner.ws.close();
    expect(Buffer.concat(joiner.received).toString('latin1')).not.toContain('KANARIE');
  });

  it('R-OWN: two writers edit while offline and converge after reconnecting', async () => {
    const { docId } = await newItem('Basis.');
    const a = open('politie', docId);
    const b = open('politie2', docId);
    await Promise.all([synced(a), synced(b)]);
    a.disconnect();
    b.disconnect();
    a.doc.getText('text').insert(0, 'Offline A. ');
    b.doc.getText('text').insert(a.doc.getText('text').length - 11, ' Offline B.');
    a.connect();
    b.connect();
    const both = (t: string) => t.includes('Offline A.') && t.includes('Offline B.');
    await Promise.all([textWhere(a.doc, both), textWhere(b.doc, both)]);
    expect(a.doc.getText('text').toString()).toBe(b.doc.getText('text').toString());
  });

  it('R-FILE: an editing burst becomes one change of the item on the board and in the access log', async () => {
    const { itemId, docId } = await newItem('Voor.');
    const from = pol.nextSeq;
    const w = open('politie', docId);
    await synced(w);
    w.doc.getText('text').insert(5, ' Na.');
    await pol.waitFor((r) => r.event === 'case:patch' && JSON.stringify(r.args[0]).includes('Voor. Na.'), 10_000, from);
    await srv.app.access.flush();
    const log = await srv.app.store.readAccess({ caseId });
    expect(log.filter((x) => x.itemId === itemId && x.operation === 'item:edit' && x.action === 'update').length).toBe(1);
  });

  it('R-FILE: a burst in which two people typed is logged for each of them, with what each changed', async () => {
    const { itemId, docId } = await newItem('Samen.');
    // Both writers' records, as they are handed to the access log.
    const access = srv.app.access;
    const record = access.record.bind(access);
    const seen = new Set<string>();
    const both = new Promise<void>((resolve) => {
      access.record = (r) => {
        record(r);
        for (const x of [r].flat()) if (x.itemId === itemId && x.operation.startsWith('item:text')) seen.add(x.userId!);
        if (seen.size === 2) resolve();
      };
    });
    try {
      const a = open('politie', docId);
      const b = open('politie2', docId);
      await Promise.all([synced(a), synced(b)]);
      a.doc.getText('text').insert(6, ' Van A.');
      await textWhere(b.doc, (t) => t.includes('Van A.'));
      b.doc.getText('text').delete(0, 6);
      b.doc.getText('text').insert(0, 'B:');
      await within("access records of both writers' texts", both);
    } finally {
      access.record = record;
    }
    await access.flush();
    const ops = (await srv.app.store.readAccess({ caseId })).filter((x) => x.itemId === itemId && x.operation.startsWith('item:text'));
    expect(ops.map((x) => [x.userId, x.operation]).sort()).toEqual([
      ['usr_politie', 'item:text +7 -0'],
      ['usr_politie2', 'item:text +2 -6'],
    ]);
  });

  it('R-OWN: awareness is bound to the authenticated user and cannot be spoofed', async () => {
    const { docId } = await newItem('Cursors.');
    const a = open('politie', docId);
    const b = open('om', docId);
    await Promise.all([synced(a), synced(b)]);
    a.awareness.setLocalState({ user: { name: 'Iemand Anders', orgId: 'org_om' }, cursor: { anchor: 1, head: 1 } });
    const seen = await when(
      "a's cursor in b's awareness",
      () => {
        const s = b.awareness.getStates().get(a.doc.clientID);
        return s?.cursor ? s : undefined;
      },
      (fn) => {
        b.awareness.on('change', fn);
        return () => b.awareness.off('change', fn);
      },
    );
    expect(seen.user).toEqual({ id: 'usr_politie', name: 'Jan Dijkstra', orgId: 'org_politie', colour: '#1d4ed8' });
    expect(seen.cursor).toEqual({ anchor: 1, head: 1 });
    expect(awarenessProtocol).toBeDefined();
  });
});

describe('document limits and lifecycle', () => {
  it('refuses an update over the size limit; the document and other readers are unchanged', async () => {
    const { docId } = await newItem('Klein.');
    const w = open('politie', docId);
    const other = open('politie2', docId);
    await Promise.all([synced(w), synced(other)]);
    w.doc.getText('text').insert(0, 'x'.repeat(MAX_DOC_UPDATE_BYTES + 10));
    w.doc.getText('text').delete(0, MAX_DOC_UPDATE_BYTES + 10);
    other.doc.getText('text').insert(0, 'Daarna. ');
    await textWhere(other.doc, (t) => t === 'Daarna. Klein.');
    const check = open('ggz', docId);
    await synced(check);
    expect(check.doc.getText('text').toString()).not.toContain('xxxx');
  });

  it('a document that failed to load is not kept: the next open loads it', async () => {
    const { docId } = await newItem('Herstel.');
    const store = srv.app.store;
    const read = store.readDocSnapshot.bind(store);
    let failures = 1;
    store.readDocSnapshot = async (id: string) => {
      if (id === docId && failures > 0) {
        failures--;
        throw new Error('de opslag is even weg');
      }
      return read(id);
    };
    try {
      // The first connection is closed (1011), the provider connects again, and that one loads it.
      const p = open('politie', docId);
      await synced(p);
      expect(failures).toBe(0);
      expect(p.doc.getText('text').toString()).toBe('Herstel.');
    } finally {
      store.readDocSnapshot = read;
    }
  });

  it('unloads a document from memory when nobody has it open', async () => {
    const { docId } = await newItem('Tijdelijk.');
    const before = srv.app.collab.loaded;
    const p = provider(srv.url, docId, cookie.politie!);
    await synced(p);
    expect(srv.app.collab.loaded).toBe(before + 1);
    const unloaded = new Promise<string>((resolve) => srv.app.collab.events.once('unloaded', resolve));
    p.destroy();
    expect(await unloaded).toBe(docId);
    expect(srv.app.collab.loaded).toBe(before);
    const again = open('politie', docId);
    await synced(again);
    expect(again.doc.getText('text').toString()).toBe('Tijdelijk.');
  });
});

/** Resolves when this document leaves memory; fails after ten seconds. */
function unloadedOnce(docId: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      srv.app.collab.events.off('unloaded', on);
      reject(new Error(`${docId} was not let go`));
    }, 10_000);
    const on = (id: string): void => {
      if (id !== docId) return;
      clearTimeout(timer);
      srv.app.collab.events.off('unloaded', on);
      resolve();
    };
    srv.app.collab.events.on('unloaded', on);
  });
}

describe('R-OWN the board and the document of an item', () => {
  it('R-OWN: a text changed on the board reaches its document, open or not', async () => {
    const { itemId, docId } = await newItem('Eerst.');
    const w = open('politie', docId);
    await synced(w);
    w.doc.getText('text').insert(6, ' Getypt.');
    await pol.waitFor((r) => r.event === 'case:patch' && JSON.stringify(r.args[0]).includes('Eerst. Getypt.'), 10_000);
    // Open: the one writer sees the board's text replace its own.
    expect((await pol.cmd('item:edit', { caseId, itemId, text: 'Van het bord.' })).ok).toBe(true);
    await textWhere(w.doc, (t) => t === 'Van het bord.');
    const unloaded = unloadedOnce(docId);
    w.destroy();
    await unloaded;
    // Open nowhere: the edit is an entry of the case log all the same, and whoever opens it next reads it.
    expect((await pol.cmd('item:edit', { caseId, itemId, text: 'Later, van het bord.' })).ok).toBe(true);
    const again = open('politie', docId);
    await synced(again);
    expect(again.doc.getText('text').toString()).toBe('Later, van het bord.');
  });
});

describe('R-OWN an editing burst and the typing after it', () => {
  // Its own server, whose bursts never end by themselves: the test plays the moment one ends.
  let own: TestServer;
  let owner: TestClient;
  let ownCookie: string;
  beforeAll(async () => {
    own = await startTestServer({ commandsPerSecond: 10_000, burstMs: 3_600_000 });
    ownCookie = await login(own.url, 'politie');
    owner = await TestClient.connect(own.url, 'politie', ownCookie);
  });
  afterAll(async () => {
    owner?.close();
    await own?.close();
  });

  /** A new item on Casus R. with two connections of its contributor to its text, both synced. */
  async function twoWriters(text: string): Promise<{ caseR: CaseId; itemId: ItemId; docId: string; w: WebsocketProvider; r: WebsocketProvider }> {
    const caseR = [...own.app.cases.all()].find((c) => c.title.startsWith('Casus R.'))!.id;
    await owner.cmd('case:open', { caseId: caseR });
    const added = await owner.cmd('item:add', { caseId: caseR, phase: 'beeldvorming', text, visibility: { kind: 'table' } });
    if (!added.ok) throw new Error(added.error.code);
    const itemId = (added.data as { itemId: ItemId }).itemId;
    const docId = own.app.cases.get(caseR)!.items.get(itemId)!.textDocId;
    const w = provider(own.url, docId, ownCookie);
    const r = provider(own.url, docId, ownCookie);
    cleanup.push(
      () => w.destroy(),
      () => r.destroy(),
    );
    await Promise.all([synced(w), synced(r)]);
    return { caseR, itemId, docId, w, r };
  }

  it("P-DURABLE: a burst's board copy holds the typing committed before its turn in the case's queue", async () => {
    const cases = own.app.cases;
    const { caseR, itemId, w: one, r: two } = await twoWriters('Start.');
    one.doc.getText('text').insert(6, ' Een.');
    await textWhere(two.doc, (t) => t === 'Start. Een.');
    /** Resolves once the next piece of work is queued for the case. */
    const nextQueued = (): Promise<void> =>
      new Promise((resolve) => {
        const withCase = cases.withCase.bind(cases);
        cases.withCase = (id, work) => {
          cases.withCase = withCase;
          resolve();
          return withCase(id, work);
        };
      });
    // The case's queue is busy (a slow store, say): the second writer's typing waits its turn.
    let open!: () => void;
    void cases.withCase(caseR, () => new Promise<void>((r) => (open = r)));
    const typed = nextQueued();
    two.doc.getText('text').insert(11, ' Twee.');
    await typed;
    // The first writer leaves: its burst ends, and its board copy waits behind that typing.
    const copied = nextQueued();
    one.destroy();
    await copied;
    const from = owner.nextSeq;
    open();
    await owner.waitFor((m) => m.event === 'case:patch' && JSON.stringify(m.args[0]).includes('Twee'), 10_000, from);
    expect(cases.get(caseR)!.items.get(itemId)!.text).toBe('Start. Een. Twee.');
  });

  it('R-OWN: a board edit made while a burst is open keeps what was typed elsewhere in the text', async () => {
    const { caseR, itemId, w, r } = await twoWriters('Begin. Einde.');
    w.doc.getText('text').insert(6, ' Midden.');
    await textWhere(r.doc, (t) => t === 'Begin. Midden. Einde.');
    // The burst never ends on this server: the board still says "Begin. Einde." when it is edited.
    expect(own.app.cases.get(caseR)!.items.get(itemId)!.text).toBe('Begin. Einde.');
    expect((await owner.cmd('item:edit', { caseId: caseR, itemId, text: 'Begin. Slot.' })).ok).toBe(true);
    expect(await textWhere(r.doc, (t) => t.includes('Slot'))).toBe('Begin. Midden. Slot.');
    expect(w.doc.getText('text').toString()).toBe('Begin. Midden. Slot.');
  });

  it('R-OWN: the record of a burst does not undo what was typed after the burst ended', async () => {
    const { caseR, itemId, docId, w, r } = await twoWriters('Begin.');
    w.doc.getText('text').insert(6, ' Midden. Later.');
    await textWhere(r.doc, (t) => t === 'Begin. Midden. Later.');
    // The burst ended at "Begin. Midden." and is recorded now; " Later." was typed meanwhile.
    const user = own.app.dir.userByUsername('politie')!;
    const viewer = { userId: user.id, orgId: user.orgId, roles: user.roles };
    const from = owner.nextSeq;
    expect((await own.app.cases.run('item:edit', { caseId: caseR, itemId, text: 'Begin. Midden.' }, { viewer, address: '127.0.0.1' }, docId)).ok).toBe(true);
    await owner.waitFor((m) => m.event === 'case:patch' && JSON.stringify(m.args[0]).includes('Begin. Midden.'), 10_000, from);
    // Anything the server wrote into the document on that commit reached it before this.
    w.doc.getText('text').insert(w.doc.getText('text').length, '!');
    expect(await textWhere(r.doc, (t) => t.endsWith('!'))).toBe('Begin. Midden. Later.!');
  });
});

describe('R-TAKEHOME the minutes', () => {
  it('R-TAKEHOME: participants write the minutes while the case is discussed; then they belong to the house’s file, read by its chair only', async () => {
    const minutes = view.meta.minutesDocId!;
    const chair = await TestClient.connect(srv.url, 'regisseur', cookie.regisseur);
    const a = open('regisseur', minutes);
    const b = open('om', minutes);
    await Promise.all([synced(a), synced(b)]);
    a.doc.getText('text').insert(0, 'Verslag: ');
    b.doc.getText('text').insert(0, 'OM aanwezig. ');
    const both = (t: string) => t.includes('Verslag:') && t.includes('OM aanwezig.');
    await Promise.all([textWhere(a.doc, both), textWhere(b.doc, both)]);
    const om = recorder(srv.url, minutes, cookie.om!);
    cleanup.push(() => om.ws.terminate());
    await om.handed('the minutes so far', (ts) => ts.some((t) => t.includes('OM aanwezig.')));
    const meetingId = runningIn(view.meta);
    expect((await chair.cmd('agenda:end', { caseId, meetingId })).ok).toBe(true);
    // The partners' connections end; a partner cannot open them again, the house's chair can.
    expect(await om.closed).toBe(CollabClose.REVOKED);
    const refused = rawConn(srv.url, minutes, cookie.ggz!);
    expect(await refused.closed).toBe(CollabClose.FORBIDDEN);
    expect(refused.received).toEqual([]);
    const stored = a.doc.getText('text').toString();
    a.doc.getText('text').insert(0, 'OOK DE VOORZITTER NIET ');
    const later = open('regisseur', minutes, new Y.Doc());
    await synced(later);
    expect(later.doc.getText('text').toString()).toBe(stored);
    expect((await chair.cmd('agenda:begin', { caseId, meetingId })).ok).toBe(true);
    chair.close();
  });
});

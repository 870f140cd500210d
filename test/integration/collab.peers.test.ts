import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import type { CaseId } from '../../shared/ids.js';
import {
  COLLAB_KEEPALIVE_MS,
  COLLAB_UPDATES_PER_S,
  MAX_CURSOR_IDS_PER_CONNECTION,
  MAX_DOC_UPDATE_BYTES,
  MAX_ITEM_TEXT_CHARS,
  MAX_MINUTES_CHARS,
} from '../../shared/limits.js';
import { COLLAB_MESSAGE_REFUSED, COLLAB_PATH, CollabClose, CollabRefusal, type CaseView } from '../../shared/protocol.js';
import { login, TestClient } from '../support/client.js';
import { awarenessMessage, provider, synced, textWhere, updateMessage, wsOpen, type WsConn } from '../support/collab.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { rawWs } from '../support/wsframes.js';
import { when, within } from '../support/wait.js';
import { discuss } from '../support/meetings.js';

// P-PEER: who speaks for a cursor, and how far one writer can fill a shared text.
// P-ALIVE: a lone co-editor stays connected.
let srv: TestServer;
const cookie: Record<string, string> = {};
let chair: TestClient;
let caseId: CaseId;
let view: CaseView;
const cleanup: (() => void)[] = [];
const KEEPALIVE_MS = 100;

beforeAll(async () => {
  srv = await startTestServer({ commandsPerSecond: 10_000, collabKeepaliveMs: KEEPALIVE_MS });
  for (const u of ['politie', 'politie2', 'om', 'ggz', 'regisseur']) cookie[u] = await login(srv.url, u);
  chair = await TestClient.connect(srv.url, 'regisseur', cookie.regisseur);
  caseId = [...srv.app.cases.all()].find((c) => c.title.startsWith('Casus R.'))!.id;
  const r = await chair.cmd('case:open', { caseId });
  view = (r as { data: { view: CaseView } }).data.view;
  if (!view.meta.meetingOpen) await discuss(chair, caseId);
});
afterAll(async () => {
  for (const f of cleanup) f();
  chair?.close();
  await srv?.close();
});

function open(user: string, docId: string) {
  const p = provider(srv.url, docId, cookie[user]!);
  cleanup.push(() => p.destroy());
  return p;
}

/** A `ws` client on a document, closed after the test. */
async function wsConn(user: string, docId: string): Promise<WsConn> {
  const c = await wsOpen(srv.url, docId, cookie[user]!);
  cleanup.push(() => c.ws.terminate());
  return c;
}

async function newItem(text: string): Promise<string> {
  const pol = await TestClient.connect(srv.url, 'politie', cookie.politie);
  try {
    await pol.cmd('case:open', { caseId });
    const r = await pol.cmd('item:add', { caseId, phase: 'beeldvorming', text, visibility: { kind: 'table' } });
    if (!r.ok) throw new Error(r.error.code);
    return srv.app.cases.get(caseId)!.items.get(r.data.itemId)!.textDocId;
  } finally {
    pol.close();
  }
}

describe('P-PEER: co-editing identity and fairness', () => {
  it('P-PEER: a reader cannot take over the cursor id of a peer that reconnects', async () => {
    const docId = await newItem('Cursors van anderen.');
    const observer = open('regisseur', docId);
    await synced(observer);
    const ID = 4242;
    const peer = await wsConn('politie', docId);
    peer.ws.send(awarenessMessage(ID, 1, { cursor: { anchor: 1, head: 1 } }));
    const stateOf = () => observer.awareness.getStates().get(ID) as { user?: { id?: string }; cursor?: { anchor: number } } | undefined;
    const onChange = (fn: () => void) => {
      observer.awareness.on('change', fn);
      return () => observer.awareness.off('change', fn);
    };
    expect((await when("the peer's cursor", () => (stateOf()?.cursor ? stateOf() : undefined), onChange)).user?.id).toBe('usr_politie');
    // The peer drops; while it reconnects, another user speaks for its id with a higher clock.
    peer.ws.close();
    await peer.closed;
    await when("the dropped peer's state to go", () => stateOf() === undefined, onChange);
    const thief = await wsConn('om', docId);
    thief.ws.send(awarenessMessage(ID, 50, { cursor: { anchor: 0, head: 0 } }));
    // The peer is back and moves its cursor: it is its own, shown at its new place.
    const back = await wsConn('politie', docId);
    back.ws.send(awarenessMessage(ID, 2, { cursor: { anchor: 7, head: 7 } }));
    const seen = await when("the returned peer's cursor at 7", () => (stateOf()?.cursor?.anchor === 7 ? stateOf() : undefined), onChange);
    expect(seen!.user?.id).toBe('usr_politie');
    // The thief's claim never reached anyone.
    expect(stateOf()?.user?.id).toBe('usr_politie');
  });

  it('P-PEER: a full text refuses more growth with a message to the writer; others still delete and rewrite', async () => {
    const minutes = view.meta.minutesDocId!;
    const filler = open('politie', minutes);
    const other = open('ggz', minutes);
    await Promise.all([synced(filler), synced(other)]);
    const refusals: number[] = [];
    let told = (): void => undefined;
    const refused = new Promise<void>((resolve) => (told = resolve));
    filler.messageHandlers[COLLAB_MESSAGE_REFUSED] = (_enc, dec) => {
      refusals.push(dec.arr[dec.pos]!);
      told();
    };
    const text = filler.doc.getText('text');
    // Filled to the cap in pieces that fit in one update each.
    const chunk = Math.floor(MAX_DOC_UPDATE_BYTES * 0.9);
    while (text.length < MAX_MINUTES_CHARS) text.insert(text.length, 'x'.repeat(Math.min(chunk, MAX_MINUTES_CHARS - text.length)));
    await textWhere(other.doc, (t) => t.length === MAX_MINUTES_CHARS, 30_000);
    // One character more is refused, and the writer is told why.
    text.insert(0, 'TE VEEL');
    await within('the writer to be told its text is full', refused);
    expect(refusals).toEqual([CollabRefusal.TOO_LONG]);
    // Another participant deletes a stretch and writes in its place, within the cap.
    other.doc.getText('text').delete(0, 100);
    other.doc.getText('text').insert(0, 'Besluit: ');
    const check = open('regisseur', minutes);
    await synced(check);
    const stored = await textWhere(check.doc, (t) => t.startsWith('Besluit: x'));
    expect(stored).not.toContain('TE VEEL');
    expect(stored.length).toBe(MAX_MINUTES_CHARS - 100 + 'Besluit: '.length);
  });

  it('P-PEER: an item text refuses growth past its cap instead of cutting off the end others wrote', async () => {
    const docId = await newItem('Einde van de ander.');
    const a = open('politie', docId);
    const b = open('politie2', docId);
    await Promise.all([synced(a), synced(b)]);
    const refusals: number[] = [];
    b.messageHandlers[COLLAB_MESSAGE_REFUSED] = (_enc, dec) => refusals.push(dec.arr[dec.pos]!);
    b.doc.getText('text').insert(0, 'y'.repeat(MAX_ITEM_TEXT_CHARS + 10 - b.doc.getText('text').length));
    a.doc.getText('text').insert(0, 'A: ');
    const check = open('regisseur', docId);
    await synced(check);
    await textWhere(check.doc, (t) => t.startsWith('A: '));
    expect(check.doc.getText('text').toString()).toBe('A: Einde van de ander.');
    expect(refusals).toEqual([CollabRefusal.TOO_LONG]);
  });
});

describe('P-PEER: a writer that floods the log is slowed down, and loses nothing', () => {
  it('P-PEER: a flood of updates past its budget is merged into fewer entries; all the text arrives', async () => {
    const docId = await newItem('Begin.');
    const w = open('politie', docId);
    const r = open('ggz', docId);
    await Promise.all([synced(w), synced(r)]);
    const entriesBefore = (await srv.app.store.readEvents(caseId)).length;
    // A thousand updates at once, each one character: four times the burst a connection may write.
    const t = w.doc.getText('text');
    for (let i = 0; i < 4 * 4 * COLLAB_UPDATES_PER_S; i++) t.insert(t.length, String(i % 10));
    const all = t.toString();
    expect(await textWhere(r.doc, (x) => x === all, 30_000)).toBe(all);
    // Far fewer entries than updates sent: past the budget's burst they were merged as they waited.
    const added = (await srv.app.store.readEvents(caseId)).length - entriesBefore;
    expect(added).toBeLessThan(2 * 4 * COLLAB_UPDATES_PER_S);
  });
});

describe('P-PEER: only plain text that applies at once is taken from a writer', () => {
  /** A writer's connection sends `update`: how does the server answer, and what do readers get? */
  async function send(update: Uint8Array): Promise<{ closed: number; text: string }> {
    const docId = await newItem('Schoon.');
    const w = await wsConn('politie', docId);
    w.ws.send(updateMessage(update));
    const closed = await w.closed;
    const check = open('regisseur', docId);
    await synced(check);
    return { closed, text: check.doc.getText('text').toString() };
  }

  it('P-PEER: an update that skips ahead of what the server holds is refused, not parked for later', async () => {
    const scratch = new Y.Doc();
    scratch.getText('text').insert(0, 'Eerst. ');
    const first = Y.encodeStateAsUpdate(scratch);
    scratch.getText('text').insert(7, 'x'.repeat(MAX_ITEM_TEXT_CHARS));
    // Only the second half: it builds on content the server never got.
    const gap = Y.diffUpdate(Y.encodeStateAsUpdate(scratch), Y.encodeStateVectorFromUpdate(first));
    expect(await send(gap)).toEqual({ closed: CollabClose.BAD_MESSAGE, text: 'Schoon.' });
  });

  it('P-PEER: content outside the document text is refused', async () => {
    const scratch = new Y.Doc();
    scratch.getMap('ballast').set('k', 'y'.repeat(30_000));
    expect(await send(Y.encodeStateAsUpdate(scratch))).toEqual({ closed: CollabClose.BAD_MESSAGE, text: 'Schoon.' });
  });

  it('P-PEER: a connection speaks for a few cursor ids at most', async () => {
    const docId = await newItem('Veel cursors.');
    const w = await wsConn('om', docId);
    for (let id = 1; id <= MAX_CURSOR_IDS_PER_CONNECTION + 1; id++) w.ws.send(awarenessMessage(900 + id, 1, { cursor: null }));
    expect(await w.closed).toBe(CollabClose.BAD_MESSAGE);
  });
});

describe('P-ALIVE: a lone co-editor stays connected', () => {
  it('P-ALIVE: the server pings every connection and sends it a message it counts as heard', async () => {
    const docId = await newItem('Alleen aan het typen.');
    const lone = await wsConn('politie', docId);
    const pings: number[] = [];
    lone.ws.on('ping', () => pings.push(Date.now()));
    const keepalives = (): number => lone.received.filter((m) => m.equals(Buffer.from([1, 1, 0]))).length;
    await when(
      'three pings and three keepalive messages',
      () => pings.length >= 3 && keepalives() >= 3,
      (fn) => {
        lone.ws.on('ping', fn);
        lone.ws.on('message', fn);
        return () => {
          lone.ws.off('ping', fn);
          lone.ws.off('message', fn);
        };
      },
    );
    expect(lone.ws.readyState).toBe(WebSocket.OPEN);
    // Well inside y-websocket's 30 s without a message.
    expect(COLLAB_KEEPALIVE_MS * 2).toBeLessThan(30_000);
  });

  it('P-ALIVE: a peer that stops answering pings is cut off', async () => {
    const docId = await newItem('Verbinding weg.');
    const port = Number(new URL(srv.url).port);
    // Raw TCP: it never answers a ping.
    const silent = await rawWs(port, `${COLLAB_PATH}/${docId}`, { cookie: cookie.politie! });
    expect(silent.status).toMatch(/^HTTP\/1\.1 101/);
    await silent.ended;
  });
});

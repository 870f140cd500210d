import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import * as syncProtocol from 'y-protocols/sync';
import type { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { newId, type CaseId, type ItemId } from '../../shared/ids.js';
import { CollabClose, type CaseSummary, type CaseView, type OpenResult, type PatchOp } from '../../shared/protocol.js';
import type { Store } from '../../server/store/types.js';
import { login, TestClient } from '../support/client.js';
import { provider, storedText, synced, textWhere } from '../support/collab.js';
import { spawnServer, type ServerProcess } from '../support/process.js';
import { startRedis } from '../support/redis.js';
import { startTestServer, tempDir } from '../support/server.js';
import { when, within } from '../support/wait.js';

// P-DURABLE: nothing typed is lost. "Acknowledged" here is concrete: a character another
// reader's connection has received from the server, which sends text only once it is committed.
// What cannot be stored is refused to its writer (UNAVAILABLE, 1013), whose stock y-websocket
// client keeps it, connects again and resends it in the sync exchange.
const isRoot = process.getuid?.() === 0;
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const START = 'Tekst.';

interface Editing {
  pol: TestClient;
  caseId: CaseId;
  itemId: ItemId;
  docId: string;
  writer: WebsocketProvider;
  reader: WebsocketProvider;
}

/** An item of Casus R. written by politie and read by the regisseur, both with its text open. */
async function editing(url: string): Promise<Editing> {
  const cookie = await login(url, 'politie');
  const pol = await TestClient.connect(url, 'politie', cookie);
  cleanup.push(() => pol.close());
  const list = (await pol.waitFor((r) => r.event === 'cases:snapshot')).args[0] as CaseSummary[];
  const caseId = list.find((s) => s.title.startsWith('Casus R.'))!.id;
  const added = await pol.cmd('item:add', { caseId, phase: 'beeldvorming', text: START, visibility: { kind: 'table' } });
  if (!added.ok) throw new Error(added.error.code);
  const docId = (await openView(pol, caseId)).items.find((i) => i.id === added.data.itemId)!.textDocId;
  const writer = provider(url, docId, cookie);
  const reader = provider(url, docId, await login(url, 'regisseur'));
  cleanup.push(
    () => writer.destroy(),
    () => reader.destroy(),
  );
  await Promise.all([synced(writer), synced(reader)]);
  return { pol, caseId, itemId: added.data.itemId, docId, writer, reader };
}

async function openView(c: TestClient, caseId: CaseId): Promise<CaseView> {
  const r = await c.cmd('case:open', { caseId });
  if (!r.ok) throw new Error(r.error.code);
  return (r.data as Extract<OpenResult, { view: unknown }>).view;
}

/** The close codes the server has sent this provider's connections, as they come; `on` is told of each. */
function closeCodes(p: WebsocketProvider): { codes: number[]; on(l: () => void): () => void } {
  const codes: number[] = [];
  const listeners = new Set<() => void>();
  p.on('connection-close', (event) => {
    if (event) codes.push(event.code);
    for (const l of listeners) l();
  });
  return {
    codes,
    on(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
}

/**
 * A sync step 1 on the provider's open connection, answered by the server's step 2 from its
 * document: once that is in (and applied by the provider, whose handler runs first), the reader
 * holds everything the server sent before it and everything its document holds.
 */
async function roundTrip(p: WebsocketProvider): Promise<void> {
  const ws = p.ws;
  if (!ws || !p.wsconnected) throw new Error('the reader is not connected');
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, 0);
  syncProtocol.writeSyncStep1(enc, p.doc);
  const answered = new Promise<void>((resolve) => {
    const on = (event: MessageEvent): void => {
      const d = decoding.createDecoder(new Uint8Array(event.data as ArrayBuffer));
      if (decoding.readVarUint(d) !== 0 || decoding.readVarUint(d) !== syncProtocol.messageYjsSyncStep2) return;
      ws.removeEventListener('message', on);
      resolve();
    };
    ws.addEventListener('message', on);
  });
  ws.send(encoding.toUint8Array(enc));
  await within('the server to answer a sync step 1', answered);
}

/**
 * How often each character the writer typed is stored in the case log's entries of the document:
 * the highest count over its characters (1: each stored once, whatever was resent), and how many.
 */
async function storedCounts(store: Store, caseId: CaseId, docId: string, client: number): Promise<{ most: number; chars: number }> {
  const times = new Map<number, number>();
  for (const row of await store.readEvents(caseId)) {
    const p = row.payload as { docId?: string; update?: string };
    if (row.type !== 'doc.update' || p.docId !== docId || !p.update) continue;
    for (const s of Y.decodeUpdate(Buffer.from(p.update, 'base64')).structs) {
      if (!(s instanceof Y.Item) || s.id.client !== client) continue;
      for (let k = s.id.clock; k < s.id.clock + s.length; k++) times.set(k, (times.get(k) ?? 0) + 1);
    }
  }
  return { most: Math.max(0, ...times.values()), chars: times.size };
}

/** The board's copy of the item, once a patch shows it as `text` (an ordinary item:edit). */
function onBoard(e: Editing, text: string, from = 0): Promise<unknown> {
  return e.pol.waitFor(
    (r) => r.event === 'case:patch' && (r.args[0] as { ops: PatchOp[] }).ops.some((o) => o.op === 'item' && o.item.id === e.itemId && o.item.text === text),
    30_000,
    from,
  );
}

interface Outage {
  begin(): Promise<void>;
  end(): Promise<void>;
  /** Whether the store can be read during the outage (a full disk: yes; Redis stopped: no). */
  readable: boolean;
}

/** A room's worth of small updates: more than a full disk's slack in the write-ahead log. */
const MAX_UPDATES_TAKEN = 500;

/**
 * The shared shape of an outage: the writer types on, one piece at a time, until the store
 * refuses a piece (on a full disk SQLite may still write into its log's free pages for a while;
 * those pieces are stored, and shown). What is refused reaches nobody, its writer is closed with
 * 1013 and keeps it; once the store is back it arrives, is stored once and reaches the board at
 * the end of the burst.
 */
async function typeThroughOutage(e: Editing, store: Store, outage: Outage): Promise<void> {
  const closes = closeCodes(e.writer);
  const writerText = e.writer.doc.getText('text');
  const readerText = e.reader.doc.getText('text');
  await outage.begin();
  let typed = '';
  for (let i = 0; ; i++) {
    if (i >= MAX_UPDATES_TAKEN) throw new Error(`the store took ${i} updates during the outage`);
    const piece = ` Stuk ${i}.`;
    const refusedBefore = closes.codes.length;
    writerText.insert(writerText.length, piece);
    typed += piece;
    const outcome = await when(
      `piece ${i} to reach the reader or be refused`,
      () => (closes.codes.length > refusedBefore ? 'refused' : readerText.toString().endsWith(piece) ? 'shown' : undefined),
      (l) => {
        readerText.observe(l);
        const off = closes.on(l);
        return () => {
          readerText.unobserve(l);
          off();
        };
      },
    );
    // Shown: so it was stored first. Where the store cannot be read (Redis stopped), it cannot be
    // written either: then nothing may be shown.
    if (outcome === 'shown') {
      const stored = outage.readable ? await storedText(store, e.caseId, e.docId) : 'nothing, with the store away';
      expect(stored, `stored when piece ${i} was shown`).toBe(START + typed);
      continue;
    }
    expect(closes.codes.slice(refusedBefore)).toEqual([CollabClose.UNAVAILABLE]);
    // Refused: on no connection and not in the server's document; the client still has it.
    await roundTrip(e.reader);
    const before = START + typed.slice(0, -piece.length);
    expect(readerText.toString()).toBe(before);
    if (outage.readable) expect(await storedText(store, e.caseId, e.docId)).toBe(before);
    expect(writerText.toString()).toBe(START + typed);
    break;
  }
  // It comes back, and is told "try again later" again while the outage lasts, never a final 44xx.
  await when('the writer to be refused again', () => closes.codes.length >= 2, closes.on);
  expect(closes.codes.filter((c) => c !== CollabClose.UNAVAILABLE)).toEqual([]);
  expect(writerText.toString()).toBe(START + typed);

  const boardFrom = e.pol.nextSeq;
  await outage.end();
  await textWhere(e.reader.doc, (t) => t === START + typed, 30_000);
  expect(await storedText(store, e.caseId, e.docId)).toBe(START + typed);
  // Stored once: no character of the writer is in two entries (resent, or kept from the refusal).
  expect(await storedCounts(store, e.caseId, e.docId, e.writer.doc.clientID)).toEqual({ most: 1, chars: typed.length });
  // The burst of the resent text ends in an item:edit: the board has it.
  await onBoard(e, START + typed, boardFrom);
  expect(closes.codes.filter((c) => c !== CollabClose.UNAVAILABLE)).toEqual([]);
}

describe('P-DURABLE: nothing typed is lost', () => {
  it.skipIf(!isRoot)(
    'P-DURABLE: typing on a full disk reaches nobody and is refused (1013); the client keeps it, and with room again it is stored once and reaches the board',
    async () => {
      const dir = tempDir();
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', dir]);
      cleanup.push(() => void execFileSync('umount', ['-l', dir]));
      const srv = await startTestServer({ dataDir: dir, burstMs: 200 });
      cleanup.push(() => srv.close());
      const e = await editing(srv.url);
      const filler = path.join(dir, 'vol');
      await typeThroughOutage(e, srv.app.store, {
        async begin() {
          const fd = fs.openSync(filler, 'w');
          try {
            for (;;) fs.writeSync(fd, Buffer.alloc(256 * 1024, 1));
          } catch (err) {
            expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
          } finally {
            fs.closeSync(fd);
          }
        },
        async end() {
          fs.rmSync(filler);
        },
        readable: true,
      });
    },
  );

  it('P-DURABLE: typing while Redis is stopped reaches nobody and is refused (1013); the client keeps it, and with Redis back it is stored once and reaches the board', async () => {
    const redis = await startRedis({ appendOnly: true });
    cleanup.push(() => redis.stop());
    const srv = await startTestServer({ env: { REDIS_URL: redis.url, REDIS_PREFIX: newId('t') }, burstMs: 200 });
    cleanup.push(() => srv.close());
    const e = await editing(srv.url);
    await typeThroughOutage(e, srv.app.store, {
      begin: () => redis.stop(),
      end: () => redis.restart(),
      readable: false,
    });
  });

  it('P-DURABLE: a burst whose board copy meets Redis stopped reaches the board once Redis is back, and a board edit made on that board keeps it', async () => {
    const redis = await startRedis({ appendOnly: true });
    cleanup.push(() => redis.stop());
    const lines: string[] = [];
    const logged = new Set<() => void>();
    const logger = pino(
      { level: 'info' },
      {
        write: (l: string) => {
          lines.push(l);
          for (const f of logged) f();
        },
      },
    );
    // Bursts end only when their writer leaves: the test picks the moment.
    const srv = await startTestServer({ env: { REDIS_URL: redis.url, REDIS_PREFIX: newId('t') }, burstMs: 3_600_000, logger });
    cleanup.push(() => srv.close());
    const e = await editing(srv.url);
    const typed = ' Getypt voor de storing.';
    e.writer.doc.getText('text').insert(START.length, typed);
    await textWhere(e.reader.doc, (t) => t === START + typed);

    await redis.stop();
    const boardFrom = e.pol.nextSeq;
    // The writer leaves: its burst ends now, and its board copy cannot be stored.
    e.writer.destroy();
    await when(
      'the board copy to fail',
      () => lines.some((l) => /recording an editing burst failed|editing burst not recorded/.test(l)),
      (l) => {
        logged.add(l);
        return () => logged.delete(l);
      },
    );
    await redis.restart();
    await onBoard(e, START + typed, boardFrom);
    const item = (await openView(e.pol, e.caseId)).items.find((i) => i.id === e.itemId)!;
    expect(item.text).toBe(START + typed);
    const r = await e.pol.cmd('item:edit', { caseId: e.caseId, itemId: e.itemId, text: `Tekst!${item.text.slice(START.length)}` });
    expect(r.ok).toBe(true);
    expect(await textWhere(e.reader.doc, (t) => t.startsWith('Tekst!'))).toBe(`Tekst!${typed}`);
  });

  it('P-DURABLE: after a SIGKILL mid-typing every character a reader received is in the document and on the board, a board edit keeps it, and the writer resends the rest', async () => {
    const dataDir = tempDir();
    const started: ServerProcess[] = [];
    cleanup.push(async () => {
      for (const p of started) await p.kill('SIGKILL');
    });
    const first = await spawnServer({ DATA_DIR: dataDir });
    started.push(first);
    const e = await editing(first.url);
    const text = (p: WebsocketProvider): string => p.doc.getText('text').toString();

    // One character at a time at the end, letters only (a board text is trimmed), until killed.
    let n = 0;
    const typing = setInterval(() => {
      const t = e.writer.doc.getText('text');
      t.insert(t.length, String.fromCharCode(97 + (n++ % 26)));
    }, 1);
    cleanup.push(() => clearInterval(typing));
    const readerGone = new Promise<void>((resolve) => e.reader.on('connection-close', () => resolve()));
    await textWhere(e.reader.doc, (t) => t.length >= START.length + 300, 30_000);
    await first.kill('SIGKILL');
    clearInterval(typing);
    // All it received, including what was still on its way when the server died.
    await within('the reader to see its connection end', readerGone);
    const acknowledged = text(e.reader);
    e.reader.destroy();
    e.writer.destroy();
    e.pol.close();
    // Typed on while the server is down, beside whatever it was sent and never stored.
    e.writer.doc.getText('text').insert(text(e.writer).length, 'offline');
    const typed = text(e.writer);
    expect(typed.startsWith(acknowledged)).toBe(true);

    const second = await spawnServer({ DATA_DIR: dataDir });
    started.push(second);
    const cookie = await login(second.url, 'politie');
    const pol = await TestClient.connect(second.url, 'politie', cookie);
    cleanup.push(() => pol.close());
    // In the document: whoever opens it now reads at least what the reader had.
    const again = provider(second.url, e.docId, await login(second.url, 'regisseur'));
    cleanup.push(() => again.destroy());
    await synced(again);
    const stored = text(again);
    expect(stored.startsWith(acknowledged)).toBe(true);
    expect(typed.startsWith(stored)).toBe(true);
    // On the board: the burst the kill cut off was brought up to its document before serving.
    const item = (await openView(pol, e.caseId)).items.find((i) => i.id === e.itemId)!;
    expect(item.text).toBe(stored);

    // A board edit of another part of the text, made on that board text, keeps every character.
    const EDITED = 'Tekst bijgewerkt.';
    const edited = `${EDITED}${item.text.slice(START.length)}`;
    const r = await pol.cmd('item:edit', { caseId: e.caseId, itemId: e.itemId, text: edited });
    expect(r.ok).toBe(true);
    expect(await textWhere(again.doc, (t) => t.startsWith(EDITED))).toBe(edited);
    expect(edited.slice(EDITED.length).startsWith(acknowledged.slice(START.length))).toBe(true);

    // The writer's client comes back with what the server never stored: nothing it typed is lost.
    const back = provider(second.url, e.docId, cookie, e.writer.doc);
    cleanup.push(() => back.destroy());
    const all = `${EDITED}${typed.slice(START.length)}`;
    expect(await textWhere(again.doc, (t) => t === all)).toBe(all);
    expect(text(back)).toBe(all);
  });
});

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createClient } from 'redis';
import { afterEach, describe, expect, it } from 'vitest';
import { newId, type CaseId, type ItemId } from '../../shared/ids.js';
import type { CaseSummary, CaseView, PatchOp } from '../../shared/protocol.js';
import { login, TestClient } from '../support/client.js';
import { provider, synced, textWhere } from '../support/collab.js';
import { startServerProcess, type StartingProcess } from '../support/process.js';
import { startRedis, type PrivateRedis } from '../support/redis.js';
import { tempDir } from '../support/server.js';

// P-STORE: a store that fails under a co-editing burst (a full disk, Redis loading after a
// restart) is logged and survived: the process, and everyone on it, stays.
const isRoot = process.getuid?.() === 0;
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const BURST_FAILED = /recording an editing burst failed|editing burst not recorded/;

interface Board {
  srv: StartingProcess;
  url: string;
  pol: TestClient;
  caseId: CaseId;
  itemId: ItemId;
  writer: ReturnType<typeof provider>;
  reader: ReturnType<typeof provider>;
}

async function board(env: Record<string, string>): Promise<Board> {
  const srv = startServerProcess(env);
  cleanup.push(async () => void (await srv.kill('SIGKILL')));
  const url = `http://127.0.0.1:${(await srv.waitFor(/"port":(\d+)/))[1]}`;
  const cookie = await login(url, 'politie');
  const pol = await TestClient.connect(url, 'politie', cookie);
  cleanup.push(() => pol.close());
  const snap = await pol.waitFor((r) => r.event === 'cases:snapshot');
  const caseId = (snap.args[0] as CaseSummary[]).find((s) => s.title.startsWith('Casus R.'))!.id;
  const added = await pol.cmd('item:add', { caseId, phase: 'beeldvorming', text: 'Tekst.', visibility: { kind: 'table' } });
  if (!added.ok) throw new Error(added.error.code);
  const view = ((await pol.cmd('case:open', { caseId })) as { data: { view: CaseView } }).data.view;
  const docId = view.items.find((i) => i.id === added.data.itemId)!.textDocId;
  const writer = provider(url, docId, cookie);
  const reader = provider(url, docId, await login(url, 'regisseur'));
  cleanup.push(
    () => writer.destroy(),
    () => reader.destroy(),
  );
  await Promise.all([synced(writer), synced(reader)]);
  return { srv, url, pol, caseId, itemId: added.data.itemId, writer, reader };
}

/** The board's copy of the item, once a patch shows it satisfying `pred`. */
function boardText(b: Board, pred: (t: string) => boolean): Promise<unknown> {
  return b.pol.waitFor(
    (r) => r.event === 'case:patch' && (r.args[0] as { ops: PatchOp[] }).ops.some((o) => o.op === 'item' && o.item.id === b.itemId && pred(o.item.text)),
    30_000,
  );
}

/** After the failure: still running, still serving the same connections. */
function stillUp(b: Board): void {
  expect(b.srv.proc.exitCode).toBeNull();
  expect(b.pol.socket.connected).toBe(true);
  expect(b.writer.wsconnected && b.reader.wsconnected).toBe(true);
}

describe('P-STORE: no failure of the store stops the process', () => {
  it.skipIf(!isRoot)('P-STORE: an editing burst whose commit meets a full disk is logged; the process and its connections stay', async () => {
    const dir = tempDir();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', dir]);
    cleanup.push(() => void execFileSync('umount', ['-l', dir]));
    const b = await board({ DATA_DIR: dir });
    // Typed while there is room: stored, and shown (text typed on a full disk is refused: P-DURABLE).
    b.writer.doc.getText('text').insert(0, 'Schijf vol. ');
    await textWhere(b.reader.doc, (t) => t.startsWith('Schijf vol. '));
    // Fill what is left of the disk, then the write-ahead log's free pages, before the burst ends.
    const filler = path.join(dir, 'vol');
    const fd = fs.openSync(filler, 'w');
    try {
      for (;;) fs.writeSync(fd, Buffer.alloc(256 * 1024, 1));
    } catch (e) {
      expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
    } finally {
      fs.closeSync(fd);
    }
    let answer = 'ok';
    for (let i = 0; i < 5_000 && answer === 'ok'; i++) {
      const r = await b.pol.cmd('item:add', { caseId: b.caseId, phase: 'beeldvorming', text: `Vulling ${i}.`, visibility: { kind: 'table' } });
      answer = r.ok ? 'ok' : r.error.code;
    }
    expect(answer).toBe('UNAVAILABLE');
    await b.srv.waitFor(BURST_FAILED);
    stillUp(b);
    // Room again: the burst's board copy is tried again and lands; the next burst reaches the board too.
    fs.rmSync(filler);
    await boardText(b, (t) => t.startsWith('Schijf vol. '));
    b.writer.doc.getText('text').insert(0, 'Weer ruimte. ');
    await boardText(b, (t) => t.startsWith('Weer ruimte. Schijf vol. '));
    stillUp(b);
  });

  it('P-STORE: an editing burst that ends while Redis loads its data after a restart is logged; the process and its connections stay', async () => {
    const redis: PrivateRedis = await startRedis({ args: ['--enable-debug-command', 'local'] });
    cleanup.push(() => redis.stop());
    const b = await board({ REDIS_URL: redis.url, REDIS_PREFIX: newId('t') });
    // Enough data that loading it, slowed per key, outlasts the pause that ends a burst.
    const admin = createClient({ url: redis.url });
    // Expected while the test stops or kills Redis; unheard, an 'error' would end the run.
    admin.on('error', () => undefined);
    await admin.connect();
    await admin.sendCommand(['DEBUG', 'POPULATE', '60000', 'ballast', '16']);
    b.writer.doc.getText('text').insert(0, 'Redis laadt. ');
    await textWhere(b.reader.doc, (t) => t.startsWith('Redis laadt. '));
    await admin.sendCommand(['SAVE']);
    await admin.quit();
    await redis.restart({ args: ['--enable-debug-command', 'local', '--key-load-delay', '100'], until: 'Loading RDB' });
    await redis.logged('Ready to accept connections');
    // The burst ended while Redis loaded: its commit failed fast (P-REDIS) and was logged.
    expect(b.srv.output()).toMatch(BURST_FAILED);
    expect(b.srv.proc.exitCode).toBeNull();
    b.writer.doc.getText('text').insert(0, 'Geladen. ');
    await boardText(b, (t) => t.startsWith('Geladen. '));
    stillUp(b);
  });
});

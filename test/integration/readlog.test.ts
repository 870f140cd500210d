import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { UserId } from '../../shared/ids.js';
import { CollabClose, type CaseSummary, type OpenResult } from '../../shared/protocol.js';
import { login, TestClient } from '../support/client.js';
import { rawConn } from '../support/collab.js';
import { startTestServer, tempDir, type TestServer } from '../support/server.js';

// The SQLite file on a small tmpfs of its own, filled up by another file: a real full disk.
let srv: TestServer | undefined;
const clients: TestClient[] = [];
let mounted: string | null = null;

afterAll(async () => {
  for (const c of clients) c.close();
  try {
    await srv?.close();
  } finally {
    if (mounted) spawnSync('umount', ['--lazy', mounted]);
  }
});

/** Writes a file until the disk is full. */
function fill(file: string): void {
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOSPC') throw e;
  } finally {
    fs.closeSync(fd);
  }
}

describe('P-READLOG: no read without its record', () => {
  it('on a full disk case:open is refused UNAVAILABLE, and every read served has its record once there is room', async (ctx) => {
    if (process.getuid?.() !== 0) return ctx.skip('mounting a tmpfs needs root');
    const dir = tempDir();
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { encoding: 'utf8' });
    expect(m.status, m.stderr).toBe(0);
    mounted = dir;
    srv = await startTestServer({ dataDir: dir, commandsPerSecond: 100_000 });
    const url = srv.url;
    const cookie = await login(url, 'politie');
    const board = await TestClient.connect(url, 'politie', cookie);
    clients.push(board);
    const list = (await board.waitFor((r) => r.event === 'cases:snapshot')).args[0] as CaseSummary[];
    const caseId = list.find((c) => c.title.startsWith('Casus R.'))!.id;
    let served = 0;
    const open = async (): Promise<string> => {
      const r = await board.cmd('case:open', { caseId });
      if (!r.ok) return r.error.code;
      served++;
      return 'ok';
    };
    expect(await open()).toBe('ok');
    const minutesDocId = ((await board.cmd('case:open', { caseId })) as { ok: true; data: Extract<OpenResult, { view: unknown }> }).data.view.meta
      .minutesDocId!;
    served++;

    const filler = path.join(dir, 'filler');
    fill(filler);
    // Reads are served until a write of their records fails; from then on none is.
    let answer = 'ok';
    for (let i = 0; i < 5_000 && answer === 'ok'; i++) answer = await open();
    expect(answer).toBe('UNAVAILABLE');
    expect(await open()).toBe('UNAVAILABLE');
    expect((await fetch(`${url}/healthz/ready`)).status).toBe(503);
    expect((await fetch(`${url}/healthz/live`)).status).toBe(200);
    // Nothing can be written: a command is not applied, and says so as "later", not as a fault.
    const add = await board.cmd('item:add', { caseId, phase: 'beeldvorming', text: 'Op een volle schijf.', visibility: { kind: 'table' } });
    expect(add.ok ? 'ok' : add.error.code).toBe('UNAVAILABLE');
    // A new connection would start with a read (its case list), and so would opening a document.
    await expect(TestClient.connect(url, 'politie', cookie)).rejects.toThrow('UNAVAILABLE');
    expect(await rawConn(url, minutesDocId, cookie).closed).toBe(CollabClose.UNAVAILABLE);

    fs.rmSync(filler);
    await srv.app.readiness.whenReady();
    expect(await open()).toBe('ok');
    const again = await TestClient.connect(url, 'politie', cookie);
    clients.push(again);

    await srv.app.access.flush();
    const records = await srv.app.store.readAccess({ caseId });
    const opens = records.filter((r) => r.operation === 'case:open' && r.userId === ('usr_politie' as UserId) && r.itemId === null && r.outcome === 'ok');
    expect(opens).toHaveLength(served);
    expect(served).toBeGreaterThanOrEqual(3);
    // A refused open is in the log as refused (the read did not happen).
    expect(records.some((r) => r.operation === 'case:open' && r.userId === ('usr_politie' as UserId) && r.outcome === 'error')).toBe(true);
  });
});

describe('R-FILE: a case view only after its read record is committed', () => {
  it('R-FILE: the record of an open is in the store when its answer arrives, without waiting for the gathered reads', async () => {
    const s = await startTestServer({ commandsPerSecond: 100_000 });
    const board = await TestClient.connect(s.url, 'om');
    try {
      const list = (await board.waitFor((r) => r.event === 'cases:snapshot')).args[0] as CaseSummary[];
      const caseId = list.find((c) => c.title.startsWith('Casus R.'))!.id;
      for (let i = 0; i < 3; i++) {
        const r = await board.cmd('case:open', { caseId });
        expect(r.ok).toBe(true);
        // No flush: what the store holds now.
        const stored = await s.app.store.searchAccess({ caseId, userId: 'usr_om' as UserId, limit: 100 });
        const opens = stored.records.filter((x) => x.operation === 'case:open' && x.itemId === null && x.outcome === 'ok');
        expect(opens).toHaveLength(i + 1);
        // Each item shown is in it as well.
        const view = (r as { ok: true; data: Extract<OpenResult, { view: unknown }> }).data.view;
        for (const item of view.items) expect(stored.records.some((x) => x.operation === 'case:open' && x.itemId === item.id)).toBe(true);
      }
    } finally {
      board.close();
      await s.close();
    }
  });
});

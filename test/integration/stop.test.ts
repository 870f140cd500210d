import { afterAll, describe, expect, it } from 'vitest';
import { newCommandId, newId, type CaseId } from '../../shared/ids.js';
import type { Ack, CaseSummary, CaseView } from '../../shared/protocol.js';
import { login, TestClient } from '../support/client.js';
import { provider, synced, textWhere } from '../support/collab.js';
import { spawnServer, type ServerProcess } from '../support/process.js';
import { startRedis } from '../support/redis.js';
import { tempDir } from '../support/server.js';

// P-STOP: on SIGTERM the server finishes what it received before it closes anything.
let server: ServerProcess | undefined;
afterAll(async () => {
  await server?.kill('SIGKILL');
});

async function caseOf(c: TestClient, title: string): Promise<CaseId> {
  const snap = await c.waitFor((r) => r.event === 'cases:snapshot');
  return (snap.args[0] as CaseSummary[]).find((s) => s.title.startsWith(title))!.id;
}

describe('P-STOP: stopping finishes what it started', () => {
  it('P-STOP: every command received before SIGTERM is committed and answered; later ones are refused UNAVAILABLE, not lost', async () => {
    const dataDir = tempDir();
    server = await spawnServer({ DATA_DIR: dataDir, COMMANDS_PER_SECOND: '100000' });
    const pol = await TestClient.connect(server.url, 'politie');
    const caseId = await caseOf(pol, 'Casus R.');
    expect((await pol.cmd('case:open', { caseId })).ok).toBe(true);
    const N = 300;
    const answers = new Map<number, Ack<unknown>>();
    const disconnected = new Promise<void>((resolve) => pol.socket.once('disconnect', () => resolve()));
    let stopped = false;
    for (let i = 0; i < N; i++) {
      const input = { caseId, phase: 'beeldvorming' as const, text: `Stopbericht ${i}.`, visibility: { kind: 'table' as const } };
      pol.socket.emit('item:add', { commandId: newCommandId(), input }, (ack: Ack<unknown>) => {
        answers.set(i, ack);
        // The first answer: most of the others are still queued behind it.
        if (!stopped) {
          stopped = true;
          void server!.kill('SIGTERM');
        }
      });
    }
    const exit = await server.exited;
    await disconnected;
    expect(exit.code).toBe(0);
    // Every command has its answer: none was cut off by the closing socket.
    expect(answers.size).toBe(N);
    const ok = [...answers].filter(([, a]) => a.ok).map(([i]) => i);
    const refused = [...answers].filter(([, a]) => !a.ok);
    expect(ok.length).toBeGreaterThan(0);
    for (const [, a] of refused) expect(a.ok ? '' : a.error.code).toBe('UNAVAILABLE');
    pol.close();

    // After a restart the log holds exactly the commands answered ok.
    server = await spawnServer({ DATA_DIR: dataDir });
    const again = await TestClient.connect(server.url, 'politie');
    const r = await again.cmd('case:open', { caseId });
    const texts = (r as { data: { view: CaseView } }).data.view.items.map((i) => i.text).filter((t) => t.startsWith('Stopbericht'));
    expect(texts.sort()).toEqual(ok.map((i) => `Stopbericht ${i}.`).sort());
    again.close();
    await server.kill('SIGTERM');
  });

  it('P-STOP: text typed just before SIGTERM reaches the board: the open editing burst is committed', async () => {
    const dataDir = tempDir();
    server = await spawnServer({ DATA_DIR: dataDir });
    const cookie = await login(server.url, 'politie');
    const pol = await TestClient.connect(server.url, 'politie', cookie);
    const caseId = await caseOf(pol, 'Casus R.');
    const added = await pol.cmd('item:add', { caseId, phase: 'beeldvorming', text: 'Voor het stoppen.', visibility: { kind: 'table' } });
    if (!added.ok) throw new Error(added.error.code);
    const r = await pol.cmd('case:open', { caseId });
    const item = (r as { data: { view: CaseView } }).data.view.items.find((i) => i.id === added.data.itemId)!;
    const writer = provider(server.url, item.textDocId, cookie);
    const reader = provider(server.url, item.textDocId, await login(server.url, 'regisseur'));
    await Promise.all([synced(writer), synced(reader)]);
    writer.doc.getText('text').insert(0, 'Net getypt. ');
    // On the server (the reader has it) and well inside the pause that ends a burst.
    await textWhere(reader.doc, (t) => t.startsWith('Net getypt. '));
    const exit = await server.kill('SIGTERM');
    expect(exit.code).toBe(0);
    writer.destroy();
    reader.destroy();
    pol.close();

    server = await spawnServer({ DATA_DIR: dataDir });
    const again = await TestClient.connect(server.url, 'politie');
    const view = ((await again.cmd('case:open', { caseId })) as { data: { view: CaseView } }).data.view;
    expect(view.items.find((i) => i.id === added.data.itemId)!.text).toBe('Net getypt. Voor het stoppen.');
    again.close();
    await server.kill('SIGTERM');
  });

  it('P-STOP: SIGTERM while Redis hangs still stops cleanly', async () => {
    const redis = await startRedis();
    try {
      server = await spawnServer({ REDIS_URL: redis.url, REDIS_PREFIX: newId('t') });
      const pol = await TestClient.connect(server.url, 'politie');
      await caseOf(pol, 'Casus R.');
      redis.signal('SIGSTOP');
      const exit = await server.kill('SIGTERM');
      // 0: everything closed; the forced exit after a hang would be 1.
      expect(exit.code).toBe(0);
      pol.close();
    } finally {
      redis.signal('SIGCONT');
      await redis.stop();
    }
  });
});

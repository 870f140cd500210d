import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { CaseId, ItemId } from '../../shared/ids.js';
import type { CaseSummary, CaseView } from '../../shared/protocol.js';
import { login, TestClient } from '../support/client.js';
import { spawnServer, type ServerProcess } from '../support/process.js';
import { tempDir } from '../support/server.js';

// R-FILE: the file is the system of record. What was acknowledged survives a SIGKILL; what was not
// acknowledged may be absent, but nothing is half-written.
// Every server a test starts is stopped at the end, also the ones a later test replaced.
const started: ServerProcess[] = [];
let server: ServerProcess | undefined;
const start = async (env: Record<string, string>): Promise<ServerProcess> => {
  const p = await spawnServer(env);
  started.push(p);
  return p;
};
afterAll(async () => {
  for (const p of started) await p.kill('SIGKILL');
});

describe('R-FILE durability', () => {
  it('R-FILE: every acknowledged command survives SIGKILL mid-burst, exactly once, nothing half-written', async () => {
    const dataDir = tempDir();
    server = await start({ DATA_DIR: dataDir });
    const cookies = { politie: await login(server.url, 'politie'), ggz: await login(server.url, 'ggz') };
    const pol = await TestClient.connect(server.url, 'politie', cookies.politie);
    const ggz = await TestClient.connect(server.url, 'ggz', cookies.ggz);
    const snap = await pol.waitFor((r) => r.event === 'cases:snapshot');
    const caseId = (snap.args[0] as CaseSummary[]).find((c) => c.title.startsWith('Casus R.'))!.id as CaseId;
    await pol.cmd('case:open', { caseId });

    const acked = new Map<string, ItemId>();
    let sent = 0;
    let killed = false;
    const fire = (c: TestClient, n: number): Promise<void> => {
      const text = `${c.username} inbreng ${n}`;
      sent++;
      return c.cmd('item:add', { caseId, phase: 'beeldvorming', text, visibility: { kind: 'table' } }).then(
        (r) => {
          if (r.ok) acked.set(text, r.data.itemId);
          // Kill while the rest of the burst is still in flight.
          if (acked.size === 60 && !killed) {
            killed = true;
            void server!.kill('SIGKILL');
          }
        },
        () => undefined,
      );
    };
    const burst: Promise<void>[] = [];
    for (let n = 0; n < 150; n++) burst.push(fire(pol, n), fire(ggz, n));
    await Promise.all(burst);
    const exit = await server.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(acked.size).toBeGreaterThanOrEqual(60);
    expect(acked.size).toBeLessThan(sent);
    pol.close();
    ggz.close();

    // Nothing half-written: the file is consistent and every case log is gap-free.
    const db = new Database(path.join(dataDir, 'casusbord.sqlite'), { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const gaps = db.prepare('SELECT case_id, COUNT(*) AS n, MAX(version) AS v FROM events GROUP BY case_id').all() as {
      case_id: string;
      n: number;
      v: number;
    }[];
    for (const g of gaps) expect(g.n).toBe(g.v);
    db.close();

    server = await start({ DATA_DIR: dataDir });
    // The session survived too: the same cookie still works.
    const again = await TestClient.connect(server.url, 'politie', cookies.politie);
    const r = await again.cmd('case:open', { caseId });
    if (!r.ok) throw new Error(r.error.code);
    const view = (r.data as { view: CaseView }).view;
    const texts = view.items.map((i) => i.text);
    for (const [text, id] of acked) {
      expect(texts.filter((t) => t === text)).toEqual([text]);
      expect(view.items.find((i) => i.text === text)!.id).toBe(id);
    }
    again.close();
  });
});

describe('R-FILE durability of co-edited text', () => {
  it('R-FILE: text typed before a SIGKILL, and synced to another client, is there after a restart', async () => {
    const { provider, synced, textWhere } = await import('../support/collab.js');
    const dataDir = tempDir();
    server = await start({ DATA_DIR: dataDir });
    const cookie = await login(server.url, 'politie');
    const pol = await TestClient.connect(server.url, 'politie', cookie);
    const snap = await pol.waitFor((r) => r.event === 'cases:snapshot');
    const caseId = (snap.args[0] as CaseSummary[]).find((c) => c.title.startsWith('Casus R.'))!.id as CaseId;
    const r = await pol.cmd('case:open', { caseId });
    const minutes = (r as { data: { view: CaseView } }).data.view.meta.minutesDocId!;
    const a = provider(server.url, minutes, cookie);
    await synced(a);
    a.doc.getText('text').insert(0, 'Afspraak: huisbezoek dinsdag.');
    // Acknowledged by a sync: another client has received it from the server.
    const b = provider(server.url, minutes, await login(server.url, 'ggz'));
    await textWhere(b.doc, (t) => t.includes('huisbezoek dinsdag'));
    await server.kill('SIGKILL');
    a.destroy();
    b.destroy();
    pol.close();

    server = await start({ DATA_DIR: dataDir });
    const c = provider(server.url, minutes, await login(server.url, 'om'));
    await synced(c);
    expect(c.doc.getText('text').toString()).toBe('Afspraak: huisbezoek dinsdag.');
    c.destroy();
  });
});

import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { CaseId, ItemId } from '../../shared/ids.js';
import type { CasePatch, CaseSummary } from '../../shared/protocol.js';
import { login, TestClient } from '../support/client.js';
import { spawnServer, type ServerProcess } from '../support/process.js';
import { tempDir } from '../support/server.js';

// P-READLOG under a crash: reads delivered in patches are gathered for at most 50 ms and then
// written (audit/accessLog.ts), so a SIGKILL loses at most the reads of those last 50 ms and of
// the write under way. Measured: every patch a reader received is looked up in the log the dead
// process left; the ones missing must all have been received just before the kill.

/** The stated bound (50 ms of gathering, one write), with room for a write on a loaded machine. */
const BOUND_MS = 1_000;

let server: ServerProcess | undefined;
afterAll(async () => {
  await server?.kill('SIGKILL');
});

describe('P-READLOG: a crash loses only the reads of its last moment', () => {
  it('P-READLOG: after SIGKILL mid-delivery, every patch read received before the last moment has its record', async () => {
    const dataDir = tempDir();
    server = await spawnServer({ DATA_DIR: dataDir, COMMANDS_PER_SECOND: '100000' });
    const pol = await TestClient.connect(server.url, 'politie', await login(server.url, 'politie'));
    const ggz = await TestClient.connect(server.url, 'ggz', await login(server.url, 'ggz'));
    const list = (await pol.waitFor((r) => r.event === 'cases:snapshot')).args[0] as CaseSummary[];
    const caseId = list.find((c) => c.title.startsWith('Casus R.'))!.id as CaseId;
    expect((await ggz.cmd('case:open', { caseId })).ok).toBe(true);

    // Each item the police add reaches the GGZ's open board as a patch: a read of that item.
    const received = new Map<ItemId, number>();
    const from = ggz.nextSeq;
    let killedAt = 0;
    const readsBefore = (at: number): number => [...received.values()].filter((t) => t <= at).length;
    for (let n = 0; killedAt === 0; n++) {
      const r = await pol.cmd('item:add', { caseId, phase: 'beeldvorming', text: `Melding ${n}`, visibility: { kind: 'table' } }).catch(() => null);
      for (const m of ggz.received.slice(from)) {
        if (m.event !== 'case:patch') continue;
        for (const o of (m.args[0] as CasePatch).ops) if (o.op === 'item' && !received.has(o.item.id)) received.set(o.item.id, m.at);
      }
      // Killed while patches keep being delivered: after two seconds of them.
      if (r?.ok && readsBefore(performance.now() - 2_000) > 0 && received.size > 100) {
        killedAt = performance.now();
        await server.kill('SIGKILL');
      }
    }
    pol.close();
    ggz.close();

    const db = new Database(path.join(dataDir, 'casusbord.sqlite'), { readonly: true });
    const logged = new Set(
      (
        db.prepare("SELECT item_id FROM access_log WHERE user_id = 'usr_ggz' AND operation = 'case:patch' AND item_id IS NOT NULL").all() as {
          item_id: string;
        }[]
      ).map((r) => r.item_id),
    );
    db.close();
    const missing = [...received].filter(([id]) => !logged.has(id)).map(([, at]) => killedAt - at);
    // Everything received before the bound is in the log; what is missing was read in the last moment.
    expect(readsBefore(killedAt - BOUND_MS)).toBeGreaterThan(50);
    for (const [id, at] of received) if (at < killedAt - BOUND_MS) expect(logged.has(id), `read ${Math.round(killedAt - at)} ms before the kill`).toBe(true);
    expect(Math.max(0, ...missing)).toBeLessThan(BOUND_MS);
  });
});

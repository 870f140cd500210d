import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { CaseId, OrgId, UserId } from '../../shared/ids.js';
import { SqliteStore, type Checkpoint } from '../../server/store/sqlite.js';
import type { AccessRecord } from '../../server/store/types.js';
import { runStoreContract } from '../support/store.contract.js';
import { tempDir } from '../support/server.js';

runStoreContract('SQLite file', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'store.sqlite');
  return {
    store: new SqliteStore(file),
    reopen: async () => new SqliteStore(file),
    cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
});

describe('SQLite write-ahead log', () => {
  /** The next checkpoint report that satisfies `pred`. */
  const next = (store: SqliteStore, pred: (c: Checkpoint) => boolean): Promise<Checkpoint> =>
    new Promise((resolve) => {
      const off = store.onCheckpoint((c) => {
        if (!pred(c)) return;
        off();
        resolve(c);
      });
    });

  it('R-FILE: a thread beside the writer copies the log into the file, and the log then starts over', async () => {
    const dir = tempDir();
    const store = new SqliteStore(path.join(dir, 'store.sqlite'));
    try {
      const caseId = 'cs_wal' as CaseId;
      const ev = (n: number) => ({ type: 'test.event', payload: { n, text: 'x'.repeat(500) }, at: new Date().toISOString(), actorUserId: 'usr_a' as UserId, actorOrgId: 'org_a' as OrgId });
      const allCopied = next(store, (c) => c.log > 0 && c.copied === c.log);
      let version = 0;
      for (let n = 1; n <= 200; n += 10) version = await store.appendEvents(caseId, version, Array.from({ length: 10 }, (_, i) => ev(n + i)));
      const full = await allCopied;
      expect(full.log).toBeGreaterThan(10);

      // The next commit writes from the start of the log again: a short log, not one that only grows.
      const restarted = next(store, (c) => c.log > 0 && c.log < full.log);
      version = await store.appendEvents(caseId, version, [ev(201)]);
      expect((await restarted).log).toBeLessThan(full.log);
      expect((await store.readEvents(caseId)).map((e) => (e.payload as { n: number }).n)).toEqual(Array.from({ length: 201 }, (_, i) => i + 1));
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SQLite access log written before the block indexes', () => {
  it('R-FILE: a file with an index entry per record is read alike after opening, and the old indexes are gone', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'store.sqlite');
    // The layout up to this change: the log with an index on case and one on person.
    const old = new Database(file);
    old.exec(`CREATE TABLE access_log (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, action TEXT NOT NULL, operation TEXT NOT NULL,
      case_id TEXT, item_id TEXT, user_id TEXT, org_id TEXT, role TEXT NOT NULL, purpose TEXT NOT NULL,
      address TEXT NOT NULL, outcome TEXT NOT NULL);
      CREATE INDEX access_case ON access_log (case_id, seq);
      CREATE INDEX access_user ON access_log (user_id, seq);`);
    const records: AccessRecord[] = Array.from({ length: 6_000 }, (_, i) => ({
      at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
      action: 'read',
      operation: 'case:patch',
      caseId: i % 5 === 4 ? null : (`cs_${i % 3}` as CaseId),
      itemId: null,
      userId: i % 11 === 0 ? null : (`usr_${i % 4}` as UserId),
      orgId: 'org_a' as OrgId,
      role: 'deelnemer',
      purpose: 'casusoverleg',
      address: '10.0.0.1',
      outcome: 'ok',
    }));
    const insert = old.prepare(
      'INSERT INTO access_log (at, action, operation, case_id, item_id, user_id, org_id, role, purpose, address, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    old.transaction(() => {
      for (const r of records) insert.run(r.at, r.action, r.operation, r.caseId, r.itemId, r.userId, r.orgId, r.role, r.purpose, r.address, r.outcome);
    })();
    old.close();

    const store = new SqliteStore(file);
    try {
      expect(await store.readAccess({ caseId: 'cs_1' as CaseId, limit: 100_000 })).toEqual(records.filter((r) => r.caseId === 'cs_1'));
      expect(await store.readAccess({ userId: 'usr_2' as UserId, limit: 100_000 })).toEqual(records.filter((r) => r.userId === 'usr_2'));
      // New records land in the blocks behind the old ones.
      const more = { ...records[1]!, at: '2026-11-29T00:00:00.000Z' };
      await store.appendAccess([more]);
      expect((await store.readAccess({ caseId: 'cs_1' as CaseId, limit: 100_000 })).at(-1)).toEqual(more);
    } finally {
      await store.close();
    }
    const after = new Database(file, { readonly: true });
    expect(after.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ('access_case', 'access_user')").all()).toEqual([]);
    after.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

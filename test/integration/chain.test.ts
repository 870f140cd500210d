import { spawnSync } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, type CaseId, type OrgId, type UserId } from '../../shared/ids.js';
import { Sealer, verifyChains, type Verification } from '../../server/audit/chain.js';
import { RedisStore } from '../../server/store/redis.js';
import { SqliteStore } from '../../server/store/sqlite.js';
import type { AccessRecord, NewEvent, Store } from '../../server/store/types.js';
import { quietLog, startRedis, type PrivateRedis } from '../support/redis.js';
import { startTestServer, tempDir } from '../support/server.js';
import { TestClient } from '../support/client.js';
import type { ChainStatusView } from '../../shared/protocol.js';

// R-ACCESS: the access log and the case logs are hash chains, sealed under a key the store does
// not hold. On SQLite and on Redis, a record changed, deleted, inserted or moved before the last
// seal is found, at the seal after it; so is a seal changed or taken away.
const KEY = Buffer.alloc(32, 7);
const CASES = ['cs_chain_a', 'cs_chain_b'] as CaseId[];

/** Ways to damage a store behind its back, as someone with access to its files or its Redis would. */
interface Tamper {
  alterAccess(pos: number): Promise<void>;
  deleteAccess(pos: number): Promise<void>;
  /** A record put in front of all others. */
  insertAccess(): Promise<void>;
  swapAccess(a: number, b: number): Promise<void>;
  alterEvent(caseId: CaseId, version: number): Promise<void>;
  deleteEvent(caseId: CaseId, version: number): Promise<void>;
  swapEvents(caseId: CaseId, a: number, b: number): Promise<void>;
  alterSeal(n: number): Promise<void>;
  deleteSeal(n: number): Promise<void>;
  /** A whole case log, backdated, that was never sealed. */
  insertCase(caseId: CaseId): Promise<void>;
}

interface Backend {
  name: string;
  open(): Promise<{ store: Store; tamper: Tamper }>;
}

let redis: PrivateRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
const opened: Store[] = [];
afterAll(async () => {
  for (const s of opened) await s.close().catch(() => undefined);
});

const sqlite: Backend = {
  name: 'SQLite',
  async open() {
    const file = path.join(tempDir(), 'store.sqlite');
    const store = new SqliteStore(file);
    opened.push(store);
    const run = (sql: string, ...args: unknown[]): void => {
      const db = new Database(file);
      try {
        db.prepare(sql).run(...args);
      } finally {
        db.close();
      }
    };
    return {
      store,
      tamper: {
        alterAccess: async (pos) => run("UPDATE access_log SET operation = 'verzonnen' WHERE seq = ?", pos),
        deleteAccess: async (pos) => run('DELETE FROM access_log WHERE seq = ?', pos),
        insertAccess: async () =>
          run(
            "INSERT INTO access_log (seq, at, action, operation, case_id, item_id, user_id, org_id, role, purpose, address, outcome) VALUES (0, '2026-01-01T00:00:00.000Z', 'read', 'case:open', NULL, NULL, 'usr_x', 'org_x', 'none', 'x', '10.0.0.9', 'ok')",
          ),
        swapAccess: async (a, b) => {
          run('UPDATE access_log SET seq = -1 WHERE seq = ?', a);
          run('UPDATE access_log SET seq = ? WHERE seq = ?', a, b);
          run('UPDATE access_log SET seq = ? WHERE seq = -1', b);
        },
        alterEvent: async (caseId, v) => run(`UPDATE events SET payload = '{"n":999}' WHERE case_id = ? AND version = ?`, caseId, v),
        deleteEvent: async (caseId, v) => run('DELETE FROM events WHERE case_id = ? AND version = ?', caseId, v),
        swapEvents: async (caseId, a, b) => {
          run('UPDATE events SET version = -1 WHERE case_id = ? AND version = ?', caseId, a);
          run('UPDATE events SET version = ? WHERE case_id = ? AND version = ?', a, caseId, b);
          run('UPDATE events SET version = ? WHERE case_id = ? AND version = -1', b, caseId);
        },
        alterSeal: async (n) => run(`UPDATE seals SET json = json_set(json, '$.access.hash', 'ff') WHERE n = ?`, n),
        deleteSeal: async (n) => run('DELETE FROM seals WHERE n = ?', n),
        insertCase: async (caseId) =>
          run(
            `INSERT INTO events (case_id, version, type, payload, at, actor_user, actor_org) VALUES (?, 1, 'test.event', '{"n":1}', '2026-01-01T00:00:00.000Z', 'usr_a', 'org_a')`,
            caseId,
          ),
      },
    };
  },
};

const onRedis: Backend = {
  name: 'Redis',
  async open() {
    const store = await RedisStore.connect(redis.url, newId('t'), quietLog);
    opened.push(store);
    const r = store.redis;
    const k = store.keyNames;
    return {
      store,
      tamper: {
        alterAccess: async (pos) => {
          const v = (await r.hGet(k.accessRecords, `g${pos}`))!;
          await r.hSet(k.accessRecords, `g${pos}`, v.replace('op ', 'verzonnen '));
        },
        deleteAccess: async (pos) => void (await r.hDel(k.accessRecords, `g${pos}`)),
        insertAccess: async () => {
          // A group slipped in: numbered as the next, and the others moved up one.
          const last = Number(await r.get(k.accessSeq));
          for (let g = last; g >= 1; g--) await r.hSet(k.accessRecords, `g${g + 1}`, (await r.hGet(k.accessRecords, `g${g}`))!);
          await r.hSet(k.accessRecords, 'g1', (await r.hGet(k.accessRecords, 'g2'))!.replace('op ', 'ingevoegd '));
          await r.set(k.accessSeq, String(last + 1));
        },
        swapAccess: async (a, b) => {
          const [va, vb] = (await r.hmGet(k.accessRecords, [`g${a}`, `g${b}`])) as [string, string];
          await r.hSet(k.accessRecords, { [`g${a}`]: vb, [`g${b}`]: va });
        },
        alterEvent: async (caseId, v) => {
          const e = JSON.parse((await r.lIndex(k.caseEvents(caseId), v - 1))!) as { payload: unknown };
          await r.lSet(k.caseEvents(caseId), v - 1, JSON.stringify({ ...e, payload: { n: 999 } }));
        },
        deleteEvent: async (caseId, v) => {
          await r.lSet(k.caseEvents(caseId), v - 1, '__weg__');
          await r.lRem(k.caseEvents(caseId), 1, '__weg__');
        },
        swapEvents: async (caseId, a, b) => {
          const va = (await r.lIndex(k.caseEvents(caseId), a - 1))!;
          const vb = (await r.lIndex(k.caseEvents(caseId), b - 1))!;
          await r.lSet(k.caseEvents(caseId), a - 1, vb);
          await r.lSet(k.caseEvents(caseId), b - 1, va);
        },
        alterSeal: async (n) => {
          const s = JSON.parse((await r.hGet(k.seals, String(n)))!) as { access: { hash: string } };
          await r.hSet(k.seals, String(n), JSON.stringify({ ...s, access: { ...s.access, hash: 'ff' } }));
        },
        deleteSeal: async (n) => void (await r.hDel(k.seals, String(n))),
        insertCase: async (caseId) => {
          await r.rPush(
            k.caseEvents(caseId),
            JSON.stringify({ type: 'test.event', payload: { n: 1 }, at: '2026-01-01T00:00:00.000Z', actorUserId: 'usr_a', actorOrgId: 'org_a' }),
          );
          await r.sAdd(k.cases, caseId);
        },
      },
    };
  },
};

const ev = (n: number): NewEvent => ({
  type: 'test.event',
  payload: { n },
  at: '2026-12-07T10:00:00.000Z',
  actorUserId: 'usr_a' as UserId,
  actorOrgId: 'org_a' as OrgId,
});
/** Records each of its own moment and action, so Redis keeps each as a group of its own. */
const records = (from: number, n: number): AccessRecord[] =>
  Array.from({ length: n }, (_, i) => ({
    at: new Date(Date.UTC(2026, 11, 7, 10, 0, from + i)).toISOString(),
    action: 'read',
    operation: `op ${from + i}`,
    caseId: CASES[i % 2]!,
    itemId: null,
    userId: 'usr_a' as UserId,
    orgId: 'org_a' as OrgId,
    role: 'deelnemer',
    purpose: 'casusoverleg',
    address: '10.0.0.1',
    outcome: 'ok',
  }));

/** A store with two sealed rounds of writing: 20 access entries and 6 events per case, sealed after each half. */
async function sealedStore(b: Backend): Promise<{ store: Store; tamper: Tamper; sealer: Sealer }> {
  const { store, tamper } = await b.open();
  const versions = new Map<CaseId, number>();
  const sealer = new Sealer(store, KEY, () => versions.entries(), quietLog);
  for (const half of [0, 1]) {
    await store.appendAccess(records(half * 10, 10));
    for (const c of CASES) {
      const at = versions.get(c) ?? 0;
      await store.appendEvents(c, at, [ev(at + 1), ev(at + 2), ev(at + 3)]);
      versions.set(c, at + 3);
    }
    expect(await sealer.seal()).not.toBeNull();
  }
  // Nothing new: no seal.
  expect(await sealer.seal()).toBeNull();
  return { store, tamper, sealer };
}

const broken = (v: Verification) => v.broken && { what: v.broken.what, seal: v.broken.seal, ...(v.broken.caseId ? { caseId: v.broken.caseId } : {}) };

for (const b of [sqlite, onRedis]) {
  describe(`R-ACCESS: tamper evidence on ${b.name}`, () => {
    it('R-ACCESS: an untouched store verifies, with every seal, entry and event counted', async () => {
      const { store } = await sealedStore(b);
      const v = await verifyChains(store, KEY);
      expect(v).toMatchObject({ ok: true, seals: 2, accessEntries: 20, events: 12, broken: null });
      // Another key does not verify it.
      expect((await verifyChains(store, Buffer.alloc(32, 8))).broken).toMatchObject({ what: 'seal', seal: 1 });
    });

    const cases: [string, (t: Tamper) => Promise<void>, ReturnType<typeof broken>][] = [
      ['a changed access record', (t) => t.alterAccess(3), { what: 'access', seal: 1 }],
      ['a deleted access record', (t) => t.deleteAccess(14), { what: 'access', seal: 2 }],
      ['an inserted access record', (t) => t.insertAccess(), { what: 'access', seal: 1 }],
      ['two access records swapped', (t) => t.swapAccess(12, 13), { what: 'access', seal: 2 }],
      ['a changed event', (t) => t.alterEvent(CASES[0]!, 2), { what: 'case', seal: 1, caseId: CASES[0]! }],
      ['a deleted event', (t) => t.deleteEvent(CASES[1]!, 5), { what: 'case', seal: 2, caseId: CASES[1]! }],
      ['two events swapped', (t) => t.swapEvents(CASES[1]!, 1, 2), { what: 'case', seal: 1, caseId: CASES[1]! }],
      ['a changed seal', (t) => t.alterSeal(2), { what: 'seal', seal: 2 }],
      ['a seal taken away', (t) => t.deleteSeal(1), { what: 'seal', seal: 1 }],
      ['a whole case log slipped in', (t) => t.insertCase('cs_ingevoegd' as CaseId), { what: 'case', seal: 2, caseId: 'cs_ingevoegd' as CaseId }],
    ];
    for (const [name, damage, want] of cases) {
      it(`R-ACCESS: ${name} is found, at the first seal after it`, async () => {
        const { store, tamper } = await sealedStore(b);
        await damage(tamper);
        expect(broken(await verifyChains(store, KEY))).toEqual(want);
      });
    }
  });
}

describe('R-ACCESS: sealing a running server and verifying it from the command line', () => {
  it('R-ACCESS: the server seals its logs; `npm run admin -- verify` finds them whole, then finds a change; the privacy officer sees the result', async () => {
    const key = KEY.toString('base64');
    // Sealing by hand below: the interval is the longest there is.
    const srv = await startTestServer({ env: { SEAL_KEY: key, SEAL_INTERVAL_MS: '3600000' } });
    const privacy = await TestClient.connect(srv.url, 'privacy');
    try {
      const before = (await privacy.http<ChainStatusView>('GET', '/api/privacy/verification')).body;
      expect(before).toMatchObject({ sealing: true, lastSeal: null, verification: null });
      // A few looks at the log, each an entry of it.
      for (let i = 0; i < 3; i++) expect((await privacy.http('GET', '/api/privacy/cases')).status).toBe(200);
      await srv.app.access.flush();
      const seal = await srv.app.sealer!.seal();
      expect(seal).toMatchObject({ n: 1 });
      // The seeded cases' logs are sealed up to their versions.
      expect(seal!.cases.length).toBe([...srv.app.cases.all()].length);
      const cli = (env: Record<string, string>) =>
        spawnSync(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'verify'], {
          env: { ...process.env, DATA_DIR: srv.dataDir, LOG_LEVEL: 'silent', ...env },
          encoding: 'utf8',
        });
      const ok = cli({ SEAL_KEY: key });
      expect({ status: ok.status, out: ok.stdout }).toMatchObject({ status: 0, out: expect.stringMatching(/^OK: 1 seals/) });
      const shown = (await privacy.http<ChainStatusView>('GET', '/api/privacy/verification')).body;
      expect(shown).toMatchObject({ sealing: true, lastSeal: { n: 1 }, verification: { ok: true, seals: 1 } });

      const db = new Database(srv.dbFile);
      db.prepare("UPDATE access_log SET address = '10.9.9.9' WHERE seq = 2").run();
      db.close();
      const bad = cli({ SEAL_KEY: key });
      expect({ status: bad.status, out: bad.stdout }).toMatchObject({
        status: 1,
        out: expect.stringMatching(/^BROKEN at seal 1: access log between positions 1 and \d+/),
      });
      expect((await privacy.http<ChainStatusView>('GET', '/api/privacy/verification')).body.verification).toMatchObject({
        ok: false,
        broken: { what: 'access', seal: 1 },
      });
      // A kept result written over without the key is shown as a break of its own, not as "in orde".
      const meta = new Database(srv.dbFile);
      meta
        .prepare("UPDATE meta SET value = json_set(value, '$.result.ok', json('true'), '$.result.broken', json('null')) WHERE key = 'chain-verification'")
        .run();
      meta.close();
      expect((await privacy.http<ChainStatusView>('GET', '/api/privacy/verification')).body.verification).toMatchObject({ ok: false, broken: { seal: 0 } });
      expect(cli({}).status).not.toBe(0);
    } finally {
      privacy.close();
      await srv.close();
    }
  });
});

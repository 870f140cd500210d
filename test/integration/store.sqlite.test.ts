import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { CaseId, CommandId, OrgId, UserId } from '../../shared/ids.js';
import { COMMAND_ANSWER_KEEP_MS } from '../../shared/limits.js';
import { SqliteStore, type Checkpoint } from '../../server/store/sqlite.js';
import { SqliteWriter } from '../../server/store/sqliteWriter.js';
import { failure, mayHaveCommitted, toError } from '../../server/store/sqliteWrites.js';
import { OutcomeUnknownError, type CommandRecord } from '../../server/store/types.js';
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
  it('R-FILE: a thread beside the writer copies the log into the file, and the log then starts over', async () => {
    const dir = tempDir();
    const store = new SqliteStore(path.join(dir, 'store.sqlite'));
    const seen: Checkpoint[] = [];
    let heard: (() => void) | null = null;
    store.onCheckpoint((c) => {
      seen.push(c);
      heard?.();
    });
    /** The next report, or a failure after 5 s (the thread reports within a second of a change). */
    const nextReport = (): Promise<void> =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no checkpoint report within 5 s (seen ${JSON.stringify(seen)})`)), 5_000);
        heard = () => {
          clearTimeout(t);
          heard = null;
          resolve();
        };
      });
    /** A report with fewer frames than the one before: the log started over. */
    const restarted = (): boolean => seen.some((c, i) => i > 0 && c.log >= 0 && c.log < seen[i - 1]!.log);
    try {
      const caseId = 'cs_wal' as CaseId;
      const ev = (n: number) => ({
        type: 'test.event',
        payload: { n, text: 'x'.repeat(500) },
        at: new Date().toISOString(),
        actorUserId: 'usr_a' as UserId,
        actorOrgId: 'org_a' as OrgId,
      });
      let version = 0;
      for (let n = 1; n <= 200; n += 10)
        version = await store.appendEvents(
          caseId,
          version,
          Array.from({ length: 10 }, (_, i) => ev(n + i)),
        );
      // One commit a tick: between ticks the thread has copied everything, so a commit starts the log over.
      for (let tick = 0; tick < 8 && !restarted(); tick++) {
        const report = nextReport();
        version = await store.appendEvents(caseId, version, [ev(version + 1)]);
        await report;
      }
      expect(seen.some((c) => c.log > 0 && c.copied === c.log)).toBe(true);
      expect(restarted()).toBe(true);
      expect((await store.readEvents(caseId)).map((e) => (e.payload as { n: number }).n)).toEqual(Array.from({ length: version }, (_, i) => i + 1));
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('P-THROTTLE: SQLite login buckets and known devices', () => {
  it('P-THROTTLE: rows whose window or trust is over are deleted, a few by each later write, so guesses from many addresses do not pile up', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'store.sqlite');
    const store = new SqliteStore(file);
    const rows = (table: string): number => {
      const db = new Database(file, { readonly: true });
      try {
        return db.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).get()!.n;
      } finally {
        db.close();
      }
    };
    try {
      const t = Date.UTC(2026, 10, 29, 10);
      const policy = { freeFailures: 5, firstDelayMs: 1_000, maxDelayMs: 1_000, windowMs: 60_000 };
      for (let i = 0; i < 20; i++) {
        expect(await store.takeLoginAttempt([{ key: `old${i}`, policy }], t)).toBe(0);
        await store.rememberLoginDevice(`dev${i}`, 'usr_a' as UserId, t, 60_000);
      }
      expect([rows('login_throttle'), rows('login_devices')]).toEqual([20, 20]);
      // Still within their time: nothing goes.
      expect(await store.takeLoginAttempt([{ key: 'new0', policy }], t + 59_999)).toBe(0);
      await store.rememberLoginDevice('devnew0', 'usr_a' as UserId, t + 59_999, 60_000);
      expect([rows('login_throttle'), rows('login_devices')]).toEqual([21, 21]);
      for (let i = 1; i <= 3; i++) {
        expect(await store.takeLoginAttempt([{ key: `new${i}`, policy }], t + 60_000)).toBe(0);
        await store.rememberLoginDevice(`devnew${i}`, 'usr_a' as UserId, t + 60_000, 60_000);
      }
      expect([rows('login_throttle'), rows('login_devices')]).toEqual([4, 4]);
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('P-ONCE: SQLite command records', () => {
  it('P-ONCE: records kept past COMMAND_ANSWER_KEEP_MS are deleted, a few by each later command', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'store.sqlite');
    const store = new SqliteStore(file);
    const rows = (): number => {
      const db = new Database(file, { readonly: true });
      try {
        return db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM command_answers').get()!.n;
      } finally {
        db.close();
      }
    };
    const ev = { type: 'test.event', payload: {}, at: '2026-11-29T10:00:00.000Z', actorUserId: 'usr_a' as UserId, actorOrgId: 'org_a' as OrgId };
    const cmd = (n: number, at: number): CommandRecord => ({
      userId: 'usr_a' as UserId,
      commandId: `command-${String(n).padStart(10, '0')}` as CommandId,
      answer: 'null',
      at,
    });
    try {
      const t = Date.UTC(2026, 10, 29, 10);
      let v = 0;
      for (let i = 0; i < 20; i++) v = await store.appendEvents('cs_a' as CaseId, v, [ev], [], cmd(i, t));
      expect(rows()).toBe(20);
      v = await store.appendEvents('cs_a' as CaseId, v, [ev], [], cmd(100, t + COMMAND_ANSWER_KEEP_MS - 1));
      expect(rows()).toBe(21);
      for (let i = 1; i <= 3; i++) v = await store.appendEvents('cs_a' as CaseId, v, [ev], [], cmd(100 + i, t + COMMAND_ANSWER_KEEP_MS));
      // Three commands, up to eight deleted by each: the twenty old ones are gone.
      expect(rows()).toBe(4);
    } finally {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('P-ONCE: a batch that failed is known not committed, unless an I/O error struck its commit', () => {
    const err = (code: string) => Object.assign(new Error(code), { code });
    // Rolled back (disk full), or any failure before the commit: a plain error, nothing written.
    expect(toError(failure(err('SQLITE_FULL'), false))).not.toBeInstanceOf(OutcomeUnknownError);
    expect(mayHaveCommitted(err('SQLITE_FULL'))).toBe(false);
    expect(mayHaveCommitted(err('SQLITE_BUSY'))).toBe(false);
    // A failed fsync of the commit: its frames may be in the log, and the next open would find them.
    expect(mayHaveCommitted(err('SQLITE_IOERR_FSYNC'))).toBe(true);
    expect(toError(failure(err('SQLITE_IOERR_FSYNC'), true))).toBeInstanceOf(OutcomeUnknownError);
  });
});

describe('P-ONCE: the SQLite writer thread gone', () => {
  it('P-ONCE: a batch the thread had is an unknown outcome; the store is told, and later writes fail plainly', async () => {
    const dir = tempDir();
    const broken: Error[] = [];
    // The thread cannot open this file: it dies while the first batch waits for it.
    const writer = new SqliteWriter(path.join(dir, 'missing', 'store.sqlite'), (e) => broken.push(e));
    try {
      const first = await writer.write({ op: 'initMeta', key: 'k', value: 'v' }).catch((e: unknown) => e);
      expect(first).toBeInstanceOf(OutcomeUnknownError);
      const later = await writer.write({ op: 'initMeta', key: 'k', value: 'v' }).catch((e: unknown) => e);
      expect(later).toBeInstanceOf(Error);
      expect(later).not.toBeInstanceOf(OutcomeUnknownError);
      expect(broken).toHaveLength(1);
      expect(later).toBe(broken[0]);
    } finally {
      await writer.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

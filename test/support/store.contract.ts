import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Meeting } from '../../shared/domain.js';
import { meeting } from './fixtures.js';
import type { CaseId, CommandId, ItemId, MeetingId, OrgId, TableId, UserId } from '../../shared/ids.js';
import { COMMAND_ANSWER_KEEP_MS, type LoginThrottlePolicy } from '../../shared/limits.js';
import {
  CommandDoneError,
  VersionConflictError,
  type AccessRecord,
  type AccessSearch,
  type CommandRecord,
  type LoginBucket,
  type NewEvent,
  type Store,
} from '../../server/store/types.js';

/**
 * The one contract every store runs (SQLite, Redis), grouped by the part of the Store each promise
 * belongs to. A new store is done when this suite passes against it unchanged.
 */
export function runStoreContract(name: string, make: () => Promise<{ store: Store; reopen?: () => Promise<Store>; cleanup?: () => Promise<void> }>): void {
  describe(`store contract: ${name}`, () => {
    let store: Store;
    let reopen: (() => Promise<Store>) | undefined;
    let cleanup: (() => Promise<void>) | undefined;
    beforeEach(async () => {
      ({ store, reopen, cleanup } = await make());
    });
    afterEach(async () => {
      await store.close();
      await cleanup?.();
    });

    const ev = (n: number): NewEvent => ({
      type: 'test.event',
      payload: { n },
      at: new Date().toISOString(),
      actorUserId: 'usr_a' as UserId,
      actorOrgId: 'org_a' as OrgId,
    });
    const rec = (op: string, caseId: CaseId | null = null): AccessRecord => ({
      at: new Date().toISOString(),
      action: 'read',
      operation: op,
      caseId,
      itemId: null,
      userId: 'usr_a' as UserId,
      orgId: 'org_a' as OrgId,
      role: 'none',
      purpose: 'casusoverleg',
      address: '127.0.0.1',
      outcome: 'ok',
    });
    const A = 'cs_a' as CaseId;
    const B = 'cs_b' as CaseId;
    // Small numbers so each rule shows in a few attempts; the stores take the policy as given.
    const policy: LoginThrottlePolicy = { freeFailures: 2, firstDelayMs: 100, maxDelayMs: 400, maxFailures: 6, windowMs: 10_000 };
    const bucket = (key: string, p: LoginThrottlePolicy = policy): LoginBucket => ({ key, policy: p });
    // Moments of today's size: 13 digits, as Date.now() gives them.
    const T = Date.UTC(2026, 10, 29, 10);
    const CMD = 'c0ffee00c0ffee00c0ffee00c0ffee00' as CommandId;
    const cmd = (userId: string, answer: string, at = T, commandId = CMD): CommandRecord => ({ userId: userId as UserId, commandId, answer, at });
    const doneWith = async (p: Promise<unknown>): Promise<string> => {
      const e = await p.then(
        () => null,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(CommandDoneError);
      return (e as CommandDoneError).answer;
    };

    describe('EventLog', () => {
      it('appends with an expected version and reads back in order', async () => {
        expect(await store.appendEvents(A, 0, [ev(1), ev(2)])).toBe(2);
        expect(await store.appendEvents(A, 2, [ev(3)])).toBe(3);
        const all = await store.readEvents(A);
        expect(all.map((e) => [e.version, (e.payload as { n: number }).n])).toEqual([
          [1, 1],
          [2, 2],
          [3, 3],
        ]);
        expect((await store.readEvents(A, 1, 2)).map((e) => e.version)).toEqual([2]);
        expect(await store.readEvents(B)).toEqual([]);
      });

      it('refuses an append at a stale version and writes nothing of it', async () => {
        await store.appendEvents(A, 0, [ev(1)]);
        await expect(store.appendEvents(A, 0, [ev(9), ev(10)], [rec('x', A)])).rejects.toBeInstanceOf(VersionConflictError);
        expect((await store.readEvents(A)).length).toBe(1);
        expect(await store.readAccess({ caseId: A })).toEqual([]);
      });

      it('two writers at the same version: exactly one wins', async () => {
        const results = await Promise.allSettled([store.appendEvents(A, 0, [ev(1)]), store.appendEvents(A, 0, [ev(2)])]);
        expect(results.filter((r) => r.status === 'fulfilled').length).toBe(1);
        expect((await store.readEvents(A)).length).toBe(1);
      });

      it('keeps case logs apart and lists them', async () => {
        await store.appendEvents(A, 0, [ev(1)]);
        await store.appendEvents(B, 0, [ev(2)]);
        expect((await store.caseIds()).sort()).toEqual([A, B]);
      });

      it('R-RETAIN: purges a case log and its documents in one step, keeping the first marker; other cases stay', async () => {
        await store.appendEvents(A, 0, [ev(1), ev(2)], [rec('item:add', A)]);
        await store.appendEvents(B, 0, [ev(3)]);
        await store.putDocSnapshot('doc_a', { version: 2, state: new Uint8Array([1, 2, 3]) });
        await store.putDocSnapshot('doc_b', { version: 1, state: new Uint8Array([4]) });
        // Only the log as it was sealed: one that moved on since is left whole.
        await expect(store.purgeCase(A, 1, ['doc_a'], '{"early":true}')).rejects.toBeInstanceOf(VersionConflictError);
        expect((await store.readEvents(A)).length).toBe(2);
        expect(await store.readDocSnapshot('doc_a')).toBeDefined();
        expect(await store.listPurges()).toEqual([]);
        expect(await store.purgeCase(A, 2, ['doc_a'], '{"first":true}')).toBe(2);
        expect(await store.readEvents(A)).toEqual([]);
        expect(await store.caseIds()).toEqual([B]);
        expect(await store.readDocSnapshot('doc_a')).toBeUndefined();
        expect(await store.readDocSnapshot('doc_b')).toBeDefined();
        expect((await store.readEvents(B)).length).toBe(1);
        // The access records stay: they hold no content, and have their own term.
        expect((await store.readAccess({ caseId: A })).map((r) => r.operation)).toEqual(['item:add']);
        // Run again (a process that purged it too): nothing more goes, the first marker stays.
        expect(await store.purgeCase(A, 0, ['doc_a'], '{"second":true}')).toBe(0);
        expect(await store.listPurges()).toEqual([{ caseId: A, marker: '{"first":true}' }]);
      });

      it('R-RETAIN: purges the oldest access records up to a position, keeping its marker and the later records', async () => {
        await store.appendAccess([rec('a', A), rec('b', A), rec('c', B)]);
        const chain = await store.accessChain(Number.MIN_SAFE_INTEGER, 100);
        const upTo = chain[0]!.pos;
        await store.purgeAccess(upTo, '{"upTo":' + String(upTo) + '}');
        expect(await store.getMeta('access-purge')).toBe('{"upTo":' + String(upTo) + '}');
        const left = await store.accessChain(Number.MIN_SAFE_INTEGER, 100);
        expect(left.filter((e) => e.data !== '').every((e) => e.pos > upTo)).toBe(true);
        const page = await store.searchAccess({ limit: 100 });
        expect(page.records.length).toBeGreaterThan(0);
        expect(page.records.length).toBeLessThan(3);
      });

      it('writes change records in the same commit as the events', async () => {
        await store.appendEvents(A, 0, [ev(1)], [rec('item:add', A)]);
        expect((await store.readAccess({ caseId: A })).map((r) => r.operation)).toEqual(['item:add']);
      });

      it('P-ONCE: records a command with its events, per user; the same command is never appended again', async () => {
        expect(await store.appendEvents(A, 0, [ev(1)], [rec('item:add', A)], cmd('usr_a', '{"eerste":1}'))).toBe(1);
        expect(await store.commandAnswer('usr_a' as UserId, CMD, T)).toBe('{"eerste":1}');
        // Another user's command of the same id is another command.
        expect(await store.commandAnswer('usr_b' as UserId, CMD, T)).toBeUndefined();
        expect(await store.commandAnswer('usr_a' as UserId, 'ffffffffffffffffffffffffffffffff' as CommandId, T)).toBeUndefined();
        // Again, at the version it now needs and at a stale one: refused with its answer, nothing written.
        expect(await doneWith(store.appendEvents(A, 1, [ev(2)], [rec('item:add', A)], cmd('usr_a', '{"tweede":2}', T + 1)))).toBe('{"eerste":1}');
        expect(await doneWith(store.appendEvents(A, 0, [ev(3)], [], cmd('usr_a', '{"derde":3}', T + 2)))).toBe('{"eerste":1}');
        expect(await doneWith(store.appendEvents(B, 0, [ev(4)], [rec('item:add', B)], cmd('usr_a', '{"vierde":4}', T + 3)))).toBe('{"eerste":1}');
        expect((await store.readEvents(A)).map((e) => (e.payload as { n: number }).n)).toEqual([1]);
        expect(await store.readEvents(B)).toEqual([]);
        expect((await store.readAccess({ caseId: A })).length).toBe(1);
        expect(await store.readAccess({ caseId: B })).toEqual([]);
        expect(await store.commandAnswer('usr_a' as UserId, CMD, T + 3)).toBe('{"eerste":1}');
        expect(await store.appendEvents(B, 0, [ev(5)], [], cmd('usr_b', '{"van b":5}'))).toBe(1);
        expect(await store.commandAnswer('usr_b' as UserId, CMD, T)).toBe('{"van b":5}');
        // A stale version without a record is a conflict as ever, and records nothing.
        const other = 'abababababababababababababababab' as CommandId;
        await expect(store.appendEvents(A, 0, [ev(6)], [], cmd('usr_a', '{}', T, other))).rejects.toBeInstanceOf(VersionConflictError);
        expect(await store.commandAnswer('usr_a' as UserId, other, T)).toBeUndefined();
      });

      it('P-ONCE: of two appends of one command at the same moment, on two cases, exactly one is made', async () => {
        const results = await Promise.allSettled([
          store.appendEvents(A, 0, [ev(1)], [], cmd('usr_a', '"a"')),
          store.appendEvents(B, 0, [ev(2)], [], cmd('usr_a', '"b"')),
        ]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const lost = results.find((r) => r.status === 'rejected')!.reason as unknown;
        expect(lost).toBeInstanceOf(CommandDoneError);
        const kept = await store.commandAnswer('usr_a' as UserId, CMD, T);
        expect([(lost as CommandDoneError).answer, kept]).toEqual([kept, (await store.readEvents(A)).length === 1 ? '"a"' : '"b"']);
        expect((await store.readEvents(A)).length + (await store.readEvents(B)).length).toBe(1);
      });

      it('P-ONCE: keeps a command for COMMAND_ANSWER_KEEP_MS from its commit, then forgets it', async () => {
        await store.appendEvents(A, 0, [ev(1)], [], cmd('usr_a', '"eerst"'));
        expect(await store.commandAnswer('usr_a' as UserId, CMD, T + COMMAND_ANSWER_KEEP_MS - 1)).toBe('"eerst"');
        expect(await store.commandAnswer('usr_a' as UserId, CMD, T + COMMAND_ANSWER_KEEP_MS)).toBeUndefined();
        // Past its time the id is free: a command sent with it then is a new one.
        const later = T + COMMAND_ANSWER_KEEP_MS;
        expect(await store.appendEvents(A, 1, [ev(2)], [], cmd('usr_a', '"later"', later))).toBe(2);
        expect(await store.commandAnswer('usr_a' as UserId, CMD, later)).toBe('"later"');
      });
    });

    describe('AccessLogStore', () => {
      it('keeps the access log in order and filters it per case and per user', async () => {
        await store.appendAccess([rec('a', A), rec('b', B), rec('c', A)]);
        expect((await store.readAccess({ caseId: A })).map((r) => r.operation)).toEqual(['a', 'c']);
        expect((await store.readAccess({ userId: 'usr_a' as UserId })).length).toBe(3);
      });

      it('R-FILE: keeps every field of every record, in order, read per case, per person and in all', async () => {
        const at = '2026-11-29T10:00:00.000Z';
        const base = { at, action: 'read', purpose: 'casusoverleg', outcome: 'ok' } as const;
        const r = (over: Partial<AccessRecord>): AccessRecord => ({
          ...base,
          operation: 'case:patch',
          caseId: A,
          itemId: 'it_1' as ItemId,
          userId: 'usr_a' as UserId,
          orgId: 'org_a' as OrgId,
          role: 'deelnemer',
          address: '10.0.0.1',
          ...over,
        });
        // A delivery (one case and item, several viewers), a case list (one viewer, several cases),
        // a login outside any case, and records that share nothing.
        const delivery = [
          r({}),
          r({ userId: 'usr_b' as UserId, orgId: 'org_b' as OrgId, role: 'voorzitter', address: '10.0.0.2' }),
          r({ userId: 'usr_c' as UserId, itemId: null }),
        ];
        const list = [r({ operation: 'cases:list', itemId: null, caseId: B }), r({ operation: 'cases:list', itemId: null, role: 'voorzitter' })];
        const login = r({ action: 'login', operation: 'login', caseId: null, itemId: null });
        const denied = r({ action: 'update', operation: 'item:edit', outcome: 'denied', at: '2026-11-29T10:00:01.000Z' });
        await store.appendAccess([...delivery, ...list]);
        await store.appendEvents(A, 0, [ev(1)], [denied]);
        await store.appendAccess([login]);
        const all = [...delivery, ...list, denied, login];
        expect(await store.readAccess({})).toEqual(all);
        expect(await store.readAccess({ caseId: A })).toEqual(all.filter((x) => x.caseId === A));
        expect(await store.readAccess({ caseId: B })).toEqual([list[0]]);
        expect(await store.readAccess({ userId: 'usr_a' as UserId })).toEqual(all.filter((x) => x.userId === 'usr_a'));
        expect(await store.readAccess({ userId: 'usr_b' as UserId })).toEqual([delivery[1]]);
        expect(await store.readAccess({ caseId: A, limit: 2 })).toEqual(all.filter((x) => x.caseId === A).slice(0, 2));
        expect(await store.readAccess({ limit: 4 })).toEqual(all.slice(0, 4));
      });

      it('R-ACCESS: searches by case, person, organisation and period, newest first, page by page, each record once', async () => {
        const cases = [A, B, 'cs_c' as CaseId, null];
        const users = ['usr_a', 'usr_b', 'usr_c', 'usr_d'] as UserId[];
        const orgs = ['org_a', 'org_b', 'org_c'] as OrgId[];
        const t0 = Date.parse('2026-11-01T08:00:00.000Z');
        // 9,000 records over three batches: past two SQLite index blocks; one moment and action each, so many Redis groups.
        const all: AccessRecord[] = Array.from({ length: 9000 }, (_, i) => ({
          at: new Date(t0 + Math.floor(i / 3) * 1000).toISOString(),
          action: i % 7 === 0 ? 'update' : 'read',
          operation: `op ${i}`,
          caseId: cases[i % 4]!,
          itemId: null,
          userId: users[i % 4]!,
          orgId: orgs[i % 3]!,
          role: 'deelnemer',
          purpose: 'casusoverleg',
          address: '10.0.0.1',
          outcome: 'ok',
        }));
        for (let i = 0; i < all.length; i += 3000) await store.appendAccess(all.slice(i, i + 3000));
        const from = new Date(t0 + 500_000).toISOString();
        const to = new Date(t0 + 2_000_000).toISOString();
        const questions: [string, Omit<AccessSearch, 'limit'>, (r: AccessRecord) => boolean][] = [
          ['everything', {}, () => true],
          ['case A', { caseId: A }, (r) => r.caseId === A],
          ['person b', { userId: users[1] }, (r) => r.userId === users[1]],
          ['organisation c', { orgId: orgs[2] }, (r) => r.orgId === orgs[2]],
          ['a period', { from, to }, (r) => r.at >= from && r.at < to],
          [
            'case B, organisation a, a period',
            { caseId: B, orgId: orgs[0], from, to },
            (r) => r.caseId === B && r.orgId === orgs[0] && r.at >= from && r.at < to,
          ],
        ];
        for (const [name, q, match] of questions) {
          const got: AccessRecord[] = [];
          let after: string | undefined;
          let pages = 0;
          do {
            const page = await store.searchAccess({ ...q, limit: 700, ...(after ? { after } : {}) });
            got.push(...page.records);
            after = page.next ?? undefined;
            expect(++pages, name).toBeLessThan(100);
          } while (after);
          const want = all.filter(match);
          expect(got.length, name).toBe(want.length);
          expect(new Set(got.map((r) => r.operation)), name).toEqual(new Set(want.map((r) => r.operation)));
          // Newest first.
          expect(
            got.every((r, i) => i === 0 || got[i - 1]!.at >= r.at),
            name,
          ).toBe(true);
        }
        const first = await store.searchAccess({ caseId: A, limit: 5 });
        expect(first.records.length).toBeGreaterThanOrEqual(5);
        expect(first.records[0]!.operation).toBe(all.filter((r) => r.caseId === A).at(-1)!.operation);
        expect(await store.searchAccess({ caseId: 'cs_nooit' as CaseId, limit: 10 })).toEqual({ records: [], next: null });
        // A cursor that is no cursor starts from the newest.
        expect((await store.searchAccess({ caseId: A, limit: 1, after: 'x' })).records[0]).toEqual(first.records[0]);
      });

      it('R-FILE: reads a log of thousands of records per case and per person in order, also past a limit', async () => {
        const cases = [A, B, 'cs_c' as CaseId, null];
        const users = ['usr_a', 'usr_b', 'usr_c', 'usr_d', 'usr_e', null] as (UserId | null)[];
        // Interleaved as deliveries are: runs of one case, each run to several people. More records
        // than one block of the SQLite file holds, and than one page of the Redis reads.
        const all: AccessRecord[] = [];
        for (let i = 0; all.length < 9_500; i++) {
          const caseId = cases[i % cases.length]!;
          for (let k = 0; k < 1 + (i % 7); k++) all.push({ ...rec(`op${i}`, caseId), userId: users[(i + k) % users.length]! });
        }
        // A case and a person found only at a few places: the last record of the SQLite file's first
        // block of 4,096 and the first of the next (seq 4,095 and 4,096: its first record has seq 1),
        // each alone in its block, and one in the third; another found only at the third's start.
        const sparse = [4_094, 4_095, 9_400];
        const lone = 8_191;
        for (const i of sparse) all[i] = { ...all[i]!, caseId: 'cs_sparse' as CaseId, userId: 'usr_sparse' as UserId };
        all[lone] = { ...all[lone]!, caseId: 'cs_lone' as CaseId, userId: 'usr_lone' as UserId };
        for (let at = 0; at < all.length; at += 2_000) await store.appendAccess(all.slice(at, at + 2_000));
        expect(await store.readAccess({ caseId: 'cs_sparse' as CaseId })).toEqual(sparse.map((i) => all[i]));
        expect(await store.readAccess({ userId: 'usr_sparse' as UserId })).toEqual(sparse.map((i) => all[i]));
        expect(await store.readAccess({ caseId: 'cs_sparse' as CaseId, limit: 2 })).toEqual(sparse.slice(0, 2).map((i) => all[i]));
        expect(await store.readAccess({ caseId: 'cs_lone' as CaseId })).toEqual([all[lone]]);
        expect(await store.readAccess({ userId: 'usr_lone' as UserId })).toEqual([all[lone]]);
        for (const caseId of [A, 'cs_c' as CaseId]) {
          const want = all.filter((r) => r.caseId === caseId);
          expect(await store.readAccess({ caseId, limit: 100_000 })).toEqual(want);
          expect(await store.readAccess({ caseId, limit: 4_321 })).toEqual(want.slice(0, 4_321));
        }
        const want = all.filter((r) => r.userId === 'usr_d');
        expect(await store.readAccess({ userId: 'usr_d' as UserId, limit: 100_000 })).toEqual(want);
        expect(await store.readAccess({ userId: 'usr_d' as UserId, limit: 1_500 })).toEqual(want.slice(0, 1_500));
        expect(await store.readAccess({ caseId: 'cs_none' as CaseId })).toEqual([]);
      });
    });

    describe('DirectoryStore', () => {
      it('stores organisations, people and tables, each by its id', async () => {
        await store.putOrg({
          id: 'org_x' as OrgId,
          name: 'X',
          shortName: 'X',
          colour: '#000000',
          kind: 'partner',
          protocolSignedAt: null,
          protocolSignedBy: null,
        });
        await store.putOrg({
          id: 'org_x' as OrgId,
          name: 'X2',
          shortName: 'X',
          colour: '#000000',
          kind: 'partner',
          protocolSignedAt: null,
          protocolSignedBy: null,
        });
        expect((await store.listOrgs()).map((o) => o.name)).toEqual(['X2']);
        await store.putUser({ id: 'usr_x' as UserId, username: 'x', displayName: 'X', orgId: 'org_x' as OrgId, roles: [], active: true, passwordHash: 'h' });
        expect((await store.listUsers()).length).toBe(1);
        await store.putTable({ id: 'tbl_x' as TableId, name: 'X', description: 'x' });
        await store.putTable({ id: 'tbl_x' as TableId, name: 'X2', description: 'x' });
        expect((await store.listTables()).map((t) => t.name)).toEqual(['X2']);
      });

      it('stores meetings, a second put replacing the first', async () => {
        const m: Meeting = {
          id: 'mt_x' as MeetingId,
          tableId: 'tbl_x' as TableId,
          date: '2026-12-08',
          startTime: '13:00',
          endTime: '16:00',
          place: 'Zaal 1',
          onlineUrl: null,
          chairUserId: 'usr_x' as UserId,
          closedAt: null,
          createdAt: '2026-12-07T10:00:00.000Z',
        };
        expect(await store.putMeeting(m)).toBe(true);
        expect(await store.putMeeting({ ...m, place: '', onlineUrl: 'https://overleg.example.nl/x' })).toBe(true);
        const closed = { ...m, place: '', onlineUrl: 'https://overleg.example.nl/x', closedAt: '2026-12-08T16:00:00.000Z' };
        expect(await store.putMeeting(closed)).toBe(true);
        expect(await store.putMeeting({ ...m, id: 'mt_y' as MeetingId })).toBe(true);
        // Closing is for good: a write from a process that had not heard of it is refused.
        expect(await store.putMeeting({ ...m, place: 'Elders' })).toBe(false);
        const byId = new Map((await store.listMeetings()).map((x) => [x.id, x]));
        expect(byId.size).toBe(2);
        expect(byId.get(m.id)).toEqual(closed);
      });

      it("R-ROOM: records who enters and leaves a meeting's room, never for an unknown or closed meeting", async () => {
        const m = meeting('mt_r');
        const [a, b, c] = ['usr_a', 'usr_b', 'usr_c'] as UserId[];
        const sorted = (ids: UserId[] | null | undefined) => ids && [...ids].sort();
        expect(await store.listMeetingRooms()).toEqual([]);
        expect(await store.changeMeetingRoom(m.id, { enter: [a!], leave: [] })).toBeNull();
        await store.putMeeting(m);
        expect(await store.changeMeetingRoom(m.id, { enter: [a!], leave: [] })).toEqual({ meetingId: m.id, userIds: [a], version: 1 });
        // Changes made at once both count: neither is written over.
        const both = await Promise.all([store.changeMeetingRoom(m.id, { enter: [b!], leave: [] }), store.changeMeetingRoom(m.id, { enter: [c!], leave: [] })]);
        expect(both.map((x) => x?.version).sort()).toEqual([2, 3]);
        const left = await store.changeMeetingRoom(m.id, { enter: [], leave: [a!, 'usr_nooit' as UserId] });
        expect({ ...left, userIds: sorted(left?.userIds) }).toEqual({ meetingId: m.id, userIds: [b, c], version: 4 });
        // Rewriting the meeting leaves its room alone.
        await store.putMeeting({ ...m, place: 'Zaal 2' });
        const listed = await store.listMeetingRooms();
        expect(listed.map((r) => ({ ...r, userIds: sorted(r.userIds) }))).toEqual([{ meetingId: m.id, userIds: [b, c], version: 4 }]);
        await store.putMeeting({ ...m, closedAt: '2026-12-08T16:00:00.000Z' });
        expect(await store.changeMeetingRoom(m.id, { enter: [a!], leave: [b!] })).toBeNull();
        expect(sorted((await store.listMeetingRooms())[0]?.userIds)).toEqual([b, c]);
      });
    });

    describe('SessionStore', () => {
      it('stores sessions', async () => {
        await store.putSession({ idHash: 's1', userId: 'usr_x' as UserId, createdAt: 1, lastSeenAt: 1 });
        await store.putSession({ idHash: 's2', userId: 'usr_x' as UserId, createdAt: 1, lastSeenAt: 1 });
        expect((await store.getSession('s1'))?.userId).toBe('usr_x');
        await store.deleteSession('s1');
        expect(await store.getSession('s1')).toBeUndefined();
        await store.touchSession('s2', 5);
        expect((await store.getSession('s2'))?.lastSeenAt).toBe(5);
        // A touch after a logout does not bring the session back.
        await store.touchSession('s1', 6);
        expect(await store.getSession('s1')).toBeUndefined();
        expect(await store.deleteSessionsOf('usr_x' as UserId)).toEqual(['s2']);
        expect(await store.getSession('s2')).toBeUndefined();
      });

      it('P-THROTTLE: login failures cost nothing up to the free ones, then wait a delay that doubles up to its maximum', async () => {
        const t = T + 1_000_000;
        expect(await store.takeLoginAttempt([bucket('k')], t)).toBe(0);
        expect(await store.takeLoginAttempt([bucket('k')], t)).toBe(0);
        expect(await store.takeLoginAttempt([bucket('k')], t)).toBe(t + 100);
        // A refused attempt counts nothing: the wait stays where it was.
        expect(await store.takeLoginAttempt([bucket('k')], t + 99)).toBe(t + 100);
        expect(await store.takeLoginAttempt([bucket('k')], t + 100)).toBe(0);
        expect(await store.takeLoginAttempt([bucket('k')], t + 100)).toBe(t + 300);
        expect(await store.takeLoginAttempt([bucket('k')], t + 300)).toBe(0);
        expect(await store.takeLoginAttempt([bucket('k')], t + 300)).toBe(t + 700);
        expect(await store.takeLoginAttempt([bucket('k')], t + 700)).toBe(0);
        // 800 would be next; the maximum is 400.
        expect(await store.takeLoginAttempt([bucket('k')], t + 700)).toBe(t + 1_100);
        // Other keys are apart.
        expect(await store.takeLoginAttempt([bucket('other')], t + 700)).toBe(0);
      });

      it('P-THROTTLE: at the maximum of failures nothing passes until the window from the first one ends, then it starts over', async () => {
        const t = T + 2_000_000;
        for (const at of [t, t, t + 100, t + 300, t + 700, t + 1_100]) expect(await store.takeLoginAttempt([bucket('k')], at)).toBe(0);
        // Six failures: closed until the window from the first ends, however long the delay would be.
        expect(await store.takeLoginAttempt([bucket('k')], t + 1_100)).toBe(t + 10_000);
        expect(await store.takeLoginAttempt([bucket('k')], t + 9_999)).toBe(t + 10_000);
        expect(await store.takeLoginAttempt([bucket('k')], t + 10_000)).toBe(0);
        expect(await store.takeLoginAttempt([bucket('k')], t + 10_000)).toBe(0);
        expect(await store.takeLoginAttempt([bucket('k')], t + 10_000)).toBe(t + 10_100);
        // Without a maximum a bucket only slows down.
        const uncapped: LoginThrottlePolicy = { ...policy, maxFailures: undefined };
        let at = t;
        for (let failures = 0; failures < 12; failures++) {
          const retryAt = await store.takeLoginAttempt([bucket('slow', uncapped)], at);
          if (retryAt === 0) continue;
          expect(retryAt - at).toBeLessThanOrEqual(400);
          at = retryAt;
          expect(await store.takeLoginAttempt([bucket('slow', uncapped)], at)).toBe(0);
        }
      });

      it('P-THROTTLE: an attempt counts in all its buckets or, when one holds it back, in none', async () => {
        const t = T + 3_000_000;
        const loose: LoginThrottlePolicy = { freeFailures: 5, firstDelayMs: 100, maxDelayMs: 400, windowMs: 10_000 };
        for (let n = 0; n < 2; n++) expect(await store.takeLoginAttempt([bucket('acct')], t)).toBe(0);
        // 'acct' holds the attempt back: 'addr' counts nothing of it.
        for (let n = 0; n < 10; n++) expect(await store.takeLoginAttempt([bucket('acct'), bucket('addr', loose)], t)).toBe(t + 100);
        for (let n = 0; n < 5; n++) expect(await store.takeLoginAttempt([bucket('addr', loose)], t)).toBe(0);
        expect(await store.takeLoginAttempt([bucket('addr', loose)], t)).toBe(t + 100);
        // Both hold back: the later moment counts.
        expect(await store.takeLoginAttempt([bucket('addr', loose), bucket('acct')], t)).toBe(t + 100);
      });

      it('P-THROTTLE: of attempts taken at the same moment exactly the free ones pass, also in one group commit', async () => {
        const t = T + 4_000_000;
        const results = await Promise.all(Array.from({ length: 12 }, () => store.takeLoginAttempt([bucket('burst')], t)));
        expect(results.filter((r) => r === 0)).toHaveLength(2);
        expect(results.filter((r) => r === t + 100)).toHaveLength(10);
      });

      it('P-THROTTLE: a success takes its attempt back, and clearing forgets all failures', async () => {
        const t = T + 5_000_000;
        expect(await store.takeLoginAttempt([bucket('a'), bucket('b')], t)).toBe(0);
        expect(await store.takeLoginAttempt([bucket('a'), bucket('b')], t)).toBe(0);
        await store.returnLoginAttempt(['a', 'b']);
        // One failure left in each: one more is free, the one after waits.
        expect(await store.takeLoginAttempt([bucket('a')], t)).toBe(0);
        expect(await store.takeLoginAttempt([bucket('a')], t)).toBe(t + 100);
        await store.returnLoginAttempt(['b']);
        await store.returnLoginAttempt(['b', 'never-counted']);
        // Taking back below nothing leaves nothing, not a credit.
        expect(await store.takeLoginAttempt([bucket('b')], t)).toBe(0);
        expect(await store.takeLoginAttempt([bucket('b')], t)).toBe(0);
        expect(await store.takeLoginAttempt([bucket('b')], t)).toBe(t + 100);
        await store.clearLoginFailures('a');
        expect(await store.takeLoginAttempt([bucket('a')], t)).toBe(0);
        expect(await store.takeLoginAttempt([bucket('a')], t)).toBe(0);
        expect(await store.takeLoginAttempt([bucket('never-counted')], t)).toBe(0);
      });

      it('P-THROTTLE: remembers a device per account until its trust runs out', async () => {
        const t = T + 6_000_000;
        const u = 'usr_x' as UserId;
        expect(await store.isLoginDevice('dev1', u, t)).toBe(false);
        await store.rememberLoginDevice('dev1', u, t, 1_000);
        expect(await store.isLoginDevice('dev1', u, t + 999)).toBe(true);
        expect(await store.isLoginDevice('dev1', 'usr_y' as UserId, t)).toBe(false);
        expect(await store.isLoginDevice('dev2', u, t)).toBe(false);
        expect(await store.isLoginDevice('dev1', u, t + 1_000)).toBe(false);
        // A login renews it.
        await store.rememberLoginDevice('dev1', u, t + 900, 1_000);
        expect(await store.isLoginDevice('dev1', u, t + 1_800)).toBe(true);
      });
    });

    describe('DocStore', () => {
      it('keeps one snapshot per document, moving only forward', async () => {
        expect(await store.readDocSnapshot('d1')).toBeUndefined();
        expect(await store.putDocSnapshot('d1', { version: 5, state: new Uint8Array([1, 2]) })).toBe(true);
        expect(await store.putDocSnapshot('d2', { version: 3, state: new Uint8Array([9]) })).toBe(true);
        const one = await store.readDocSnapshot('d1');
        expect(one && { version: one.version, state: [...one.state] }).toEqual({ version: 5, state: [1, 2] });
        // An older or equal position (a process that snapshotted later, from further back) changes nothing.
        expect(await store.putDocSnapshot('d1', { version: 4, state: new Uint8Array([7]) })).toBe(false);
        expect(await store.putDocSnapshot('d1', { version: 5, state: new Uint8Array([7]) })).toBe(false);
        expect([...(await store.readDocSnapshot('d1'))!.state]).toEqual([1, 2]);
        expect(await store.putDocSnapshot('d1', { version: 9, state: new Uint8Array([3]) })).toBe(true);
        const moved = await store.readDocSnapshot('d1');
        expect(moved && { version: moved.version, state: [...moved.state] }).toEqual({ version: 9, state: [3] });
        expect((await store.readDocSnapshot('d2'))!.version).toBe(3);
      });
    });

    describe('MetaStore', () => {
      it('initialises a meta key once', async () => {
        expect(await store.initMeta('m', 'one')).toBe('one');
        expect(await store.initMeta('m', 'two')).toBe('one');
        expect(await store.getMeta('m')).toBe('one');
      });
    });

    describe('Store as a whole', () => {
      it('a write that breaks a rule fails alone: writes of the same moment are kept', async () => {
        const user = (id: string, username: string) => ({
          id: id as UserId,
          username,
          displayName: id,
          orgId: 'org_x' as OrgId,
          roles: [],
          active: true,
          passwordHash: 'h',
        });
        await store.putUser(user('usr_1', 'een'));
        // Issued together, so a store that commits in groups puts them in one group.
        const results = await Promise.allSettled([
          store.appendEvents(A, 0, [ev(1)]),
          store.putUser(user('usr_2', 'een')),
          store.appendEvents(B, 5, [ev(2)]),
          store.appendAccess([rec('samen', A)]),
        ]);
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
        expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/UNIQUE/);
        expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(VersionConflictError);
        expect((await store.readEvents(A)).length).toBe(1);
        expect(await store.readEvents(B)).toEqual([]);
        expect((await store.listUsers()).map((u) => u.id)).toEqual(['usr_1']);
        expect((await store.readAccess({ caseId: A })).map((r) => r.operation)).toEqual(['samen']);
      });

      it('keeps everything across a reopen', async () => {
        if (!reopen) return;
        await store.appendEvents(A, 0, [ev(1), ev(2)], [], cmd('usr_a', 'null'));
        await store.close();
        store = await reopen();
        expect((await store.readEvents(A)).length).toBe(2);
        expect(await store.commandAnswer('usr_a' as UserId, CMD, T)).toBe('null');
      });
    });
  });
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseId, UserId } from '../../shared/ids.js';
import { newId } from '../../shared/ids.js';
import { AccessLog, type Actor } from '../../server/audit/accessLog.js';
import { CaseService } from '../../server/cases/service.js';
import { storedEvents, type CaseNotices } from '../../server/cluster/cluster.js';
import { Directory } from '../../server/directory/directory.js';
import { createLogger } from '../../server/log.js';
import { seedDemo } from '../../server/seed/demo.js';
import { RedisStore } from '../../server/store/redis.js';
import type { NewEvent, StoredEvent } from '../../server/store/types.js';
import { quietLog, startRedis, type PrivateRedis } from '../support/redis.js';

/** What one process announces: recorded, so the test decides which notice reaches the other. */
class RecordingLink implements CaseNotices {
  readonly sent: { caseId: CaseId; version: number; events: StoredEvent[] }[] = [];
  private listener: ((caseId: CaseId, version: number, events: StoredEvent[]) => void) | null = null;
  caseCommitted(caseId: CaseId, version: number, rows: readonly NewEvent[]): void {
    this.sent.push({ caseId, version, events: storedEvents(caseId, version, rows) });
  }
  onCase(fn: (caseId: CaseId, version: number, events: StoredEvent[]) => void): void {
    this.listener = fn;
  }
  private resyncs: (() => void)[] = [];
  onResync(fn: () => void): void {
    this.resyncs.push(fn);
  }
  /** As after a break of the link. */
  resync(): void {
    for (const fn of this.resyncs) fn();
  }
  directoryChanged(): void {}
  onDirectory(): void {}
  casePurged(): void {}
  onPurged(): void {}
  deliver(n: { caseId: CaseId; version: number; events: StoredEvent[] }): void {
    this.listener!(n.caseId, n.version, n.events);
  }
}

// Two processes' case services on one Redis, their notices carried by hand: a notice that follows
// on is applied as it is, anything else makes the receiver read the shared log.
let redis: PrivateRedis;
let store: RedisStore;
let reads = 0;
const linkA = new RecordingLink();
const linkB = new RecordingLink();
let a: CaseService;
let b: CaseService;
let caseId: CaseId;
let politie: Actor;

beforeAll(async () => {
  redis = await startRedis();
  store = await RedisStore.connect(redis.url, newId('t'), quietLog);
  await seedDemo(store);
  const log = createLogger('silent');
  const service = async (link: RecordingLink): Promise<CaseService> => {
    const dir = new Directory(store, () => undefined);
    await dir.load();
    const s = new CaseService(store, dir, new AccessLog(store, log), log, link);
    await s.load();
    return s;
  };
  a = await service(linkA);
  b = await service(linkB);
  const readEvents = store.readEvents.bind(store);
  store.readEvents = (...args) => {
    reads++;
    return readEvents(...args);
  };
  caseId = [...a.all()].find((c) => c.title.startsWith('Casus R.'))!.id;
  const u = (await store.listUsers()).find((x) => x.username === 'politie')!;
  politie = { viewer: { userId: u.id as UserId, orgId: u.orgId, roles: u.roles }, address: '127.0.0.1' };
});

afterAll(async () => {
  await store?.close();
  await redis?.stop();
});

const add = async (text: string) => {
  const r = await a.run('item:add', { caseId, phase: 'beeldvorming', text, visibility: { kind: 'table' } }, politie);
  expect(r.ok).toBe(true);
  return linkA.sent.at(-1)!;
};
const settled = () => new Promise<void>((resolve) => void b.withCase(caseId, async () => resolve()));
const texts = (s: CaseService) => [...s.get(caseId)!.items.values()].map((i) => i.text).sort();

describe('R-FILE: commit notices between processes', () => {
  it('R-FILE: a notice that follows on is applied without reading the log', async () => {
    const n = await add('Eerste melding.');
    reads = 0;
    linkB.deliver(n);
    await settled();
    expect(reads).toBe(0);
    expect(b.get(caseId)!.version).toBe(a.get(caseId)!.version);
    expect(texts(b)).toEqual(texts(a));
  });

  it('R-FILE: a missed notice makes the next one read the shared log', async () => {
    await add('Gemist.');
    const second = await add('Tweede.');
    reads = 0;
    linkB.deliver(second);
    await settled();
    expect(reads).toBe(1);
    expect(b.get(caseId)!.version).toBe(a.get(caseId)!.version);
    expect(texts(b)).toEqual(texts(a));
  });

  it('R-FILE: after a break of the link, every case is caught up, a case created meanwhile too', async () => {
    await add('Tijdens de onderbreking.');
    const u = (await store.listUsers()).find((x) => x.username === 'regisseur')!;
    const chair: Actor = { viewer: { userId: u.id as UserId, orgId: u.orgId, roles: u.roles }, address: '127.0.0.1' };
    const created = await a.create(
      {
        tableId: 'tbl_topx' as never,
        title: 'Nieuw tijdens de onderbreking',
        subjectNote: '',
        goal: 'Doel.',
        participants: [{ orgId: u.orgId, role: 'voorzitter', userIds: [u.id as UserId] }],
        informerOrgId: u.orgId,
        persons: [{ name: 'Betrokkene', birthDate: '1990-01-01' }],
        informDueDate: '2026-12-31',
      },
      chair,
    );
    if (!created.ok) throw new Error(created.error.code);
    expect(b.get(created.data.caseId)).toBeUndefined();
    const arrived = new Promise<void>((resolve) => {
      const off = b.onCommitted((c) => {
        if (c.caseId !== created.data.caseId) return;
        off();
        resolve();
      });
    });
    linkB.resync();
    await arrived;
    await settled();
    expect(b.get(created.data.caseId)?.title).toBe('Nieuw tijdens de onderbreking');
    expect(b.get(caseId)!.version).toBe(a.get(caseId)!.version);
    expect(texts(b)).toEqual(texts(a));
  });

  it('R-FILE: a stale notice changes nothing; one whose events do not follow on is not trusted', async () => {
    const before = b.get(caseId);
    linkB.deliver(linkA.sent[0]!);
    await settled();
    expect(b.get(caseId)).toBe(before);
    const n = await add('Derde.');
    reads = 0;
    // Claims the new version, but carries an event from further back: read the log instead.
    linkB.deliver({ ...n, events: linkA.sent[0]!.events });
    await settled();
    expect(reads).toBe(1);
    expect(texts(b)).toEqual(texts(a));
  });

  it('R-FILE: a command that loses its race takes what it missed from the store’s answer, not from another read', async () => {
    await add('Op proces A, B hoort het niet.');
    expect(b.get(caseId)!.version).toBeLessThan(a.get(caseId)!.version);
    reads = 0;
    const r = await b.run('item:add', { caseId, phase: 'beeldvorming', text: 'Op proces B, daarna.', visibility: { kind: 'table' } }, politie);
    expect(r.ok).toBe(true);
    expect(reads).toBe(0);
    linkA.deliver(linkB.sent.at(-1)!);
    await new Promise<void>((resolve) => void a.withCase(caseId, async () => resolve()));
    expect(b.get(caseId)!.version).toBe(a.get(caseId)!.version);
    expect(texts(b)).toEqual(texts(a));
    expect(texts(b)).toContain('Op proces A, B hoort het niet.');
  });
});

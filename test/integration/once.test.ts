import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newCommandId, newId, type CaseId, type CommandId, type ItemId, type OrgId, type TableId, type UserId } from '../../shared/ids.js';
import type { Ack, CasePatch, CaseSummary } from '../../shared/protocol.js';
import type { CommandInput } from '../../shared/schemas.js';
import { RedisStore } from '../../server/store/redis.js';
import { login, TestClient } from '../support/client.js';
import { spawnServer, whenReady, type ServerProcess } from '../support/process.js';
import { quietLog, startRedis, type PrivateRedis } from '../support/redis.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy.js';
import { poll } from '../support/wait.js';

// P-ONCE: an error answer never hides a commit. Every command carries its client's id; a retry of
// one that committed gets its first answer, and the server says OUTCOME_UNKNOWN, not INTERNAL,
// when it cannot know whether it committed.

const addItem = (caseId: CaseId, text: string): CommandInput<'item:add'> => ({ caseId, phase: 'beeldvorming', text, visibility: { kind: 'table' } });
const titled = (snap: CaseSummary[], prefix: string): CaseId => snap.find((c) => c.title.startsWith(prefix))!.id;
const snapshotOf = async (c: TestClient): Promise<CaseSummary[]> => (await c.waitFor((r) => r.event === 'cases:snapshot')).args[0] as CaseSummary[];

describe('P-ONCE: a command retried with its id runs once', () => {
  let srv: TestServer;
  let pol: TestClient;
  let ggz: TestClient;
  let caseR: CaseId;
  const clients: TestClient[] = [];
  const connect = async (user: string): Promise<TestClient> => {
    const c = await TestClient.connect(srv.url, user);
    clients.push(c);
    return c;
  };
  const version = (): number => srv.app.cases.get(caseR)!.version;
  const texts = async (text: string): Promise<number> =>
    (await srv.app.store.readEvents(caseR)).filter((e) => (e.payload as { text?: string }).text === text).length;

  beforeAll(async () => {
    srv = await startTestServer({ commandsPerSecond: 100_000 });
    pol = await connect('politie');
    ggz = await connect('ggz');
    caseR = titled(await snapshotOf(pol), 'Casus R.');
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await srv?.close();
  });

  it('P-ONCE: a retry after the answer, also on a new connection, gets the same answer; nothing is committed or delivered again', async () => {
    expect((await ggz.cmd('case:open', { caseId: caseR })).ok).toBe(true);
    const id = newCommandId();
    const input = addItem(caseR, 'Eén keer, hoe vaak ook verstuurd.');
    const first = await pol.cmd('item:add', input, id);
    if (!first.ok) throw new Error(first.error.code);
    await ggz.waitFor((r) => r.event === 'case:patch' && (r.args[0] as CasePatch).ops.some((o) => o.op === 'item' && o.item.id === first.data.itemId));
    const [v, from] = [version(), ggz.nextSeq];
    // The connection dropped before the answer came: the client sends it again from a new one.
    const again = await connect('politie');
    expect(await again.cmd('item:add', input, id)).toEqual(first);
    expect(await pol.cmd('item:add', input, id)).toEqual(first);
    expect(version()).toBe(v);
    expect(await texts(input.text)).toBe(1);
    // Nothing was delivered for the retries: the viewer's next patch is the next change's.
    const marker = await pol.cmd('item:add', addItem(caseR, 'De volgende wijziging.'));
    if (!marker.ok) throw new Error(marker.error.code);
    const next = await ggz.waitFor((r) => r.event === 'case:patch', 10_000, from);
    expect((next.args[0] as CasePatch).ops).toEqual([expect.objectContaining({ op: 'item', item: expect.objectContaining({ id: marker.data.itemId }) })]);
  });

  it('P-ONCE: a retry is answered from its record before any rule: a withdrawal retried is not refused as NOT_FOUND', async () => {
    const added = await pol.cmd('item:add', addItem(caseR, 'Wordt ingetrokken.'));
    if (!added.ok) throw new Error(added.error.code);
    const id = newCommandId();
    const withdraw = { caseId: caseR, itemId: added.data.itemId };
    expect(await pol.cmd('item:withdraw', withdraw, id)).toEqual({ ok: true, data: null });
    const v = version();
    expect(await pol.cmd('item:withdraw', withdraw, id)).toEqual({ ok: true, data: null });
    // Run again, it would have been refused: the item is gone.
    expect(await pol.cmd('item:withdraw', withdraw)).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    expect(version()).toBe(v);
  });

  it('P-ONCE: the same id from another user is another command', async () => {
    const id = newCommandId();
    const a = await pol.cmd('item:add', addItem(caseR, 'Zelfde nummer, politie.'), id);
    const b = await ggz.cmd('item:add', addItem(caseR, 'Zelfde nummer, GGZ.'), id);
    if (!a.ok || !b.ok) throw new Error('refused');
    expect(b.data.itemId).not.toBe(a.data.itemId);
    expect([await texts('Zelfde nummer, politie.'), await texts('Zelfde nummer, GGZ.')]).toEqual([1, 1]);
    // And each still gets its own answer.
    expect(await ggz.cmd('item:add', addItem(caseR, 'Zelfde nummer, GGZ.'), id)).toEqual(b);
    expect(await pol.cmd('item:add', addItem(caseR, 'Zelfde nummer, politie.'), id)).toEqual(a);
  });

  it('P-ONCE: copies sent while the first still runs get its answer; it commits once', async () => {
    const id = newCommandId();
    const input = addItem(caseR, 'Vijf keer tegelijk verstuurd.');
    const other = await connect('politie');
    const answers = await Promise.all([pol, other, pol, other, pol].map((c) => c.cmd('item:add', input, id)));
    expect(answers[0]!.ok).toBe(true);
    for (const a of answers) expect(a).toEqual(answers[0]);
    expect(await texts(input.text)).toBe(1);
  });

  it('P-ONCE: a case is created once however often its creation is retried', async () => {
    const chair = await connect('regisseur');
    const id = newCommandId();
    const title = `Eenmalig ${newId('t')}`;
    const input: CommandInput<'case:create'> = {
      tableId: 'tbl_topx' as TableId,
      title,
      subjectNote: '',
      goal: 'Eén casus.',
      participants: [{ orgId: 'org_zvh' as OrgId, role: 'voorzitter', userIds: ['usr_regisseur' as UserId] }],
      informerOrgId: 'org_zvh' as OrgId,
      persons: [{ name: 'Betrokkene', birthDate: '1990-01-01' }],
      informDueDate: '2026-12-01',
    };
    const answers = await Promise.all([chair.cmd('case:create', input, id), chair.cmd('case:create', input, id)]);
    const later = await chair.cmd('case:create', input, id);
    expect(answers[0]).toMatchObject({ ok: true });
    expect([answers[1], later]).toEqual([answers[0], answers[0]]);
    expect([...srv.app.cases.all()].filter((c) => c.title === title)).toHaveLength(1);
  });

  it('P-ONCE: an id used again for another command is refused and changes nothing', async () => {
    const id = newCommandId();
    expect((await pol.cmd('item:add', addItem(caseR, 'Eerste opdracht.'), id)).ok).toBe(true);
    const v = version();
    expect(await pol.cmd('goal:cancel', { caseId: caseR }, id)).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(await pol.cmd('case:setPhase', { caseId: caseR, phase: 'oordelen' }, id)).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(version()).toBe(v);
  });
});

describe('P-ONCE: answers lost on the way from Redis', () => {
  let redis: PrivateRedis;
  let proxy: TcpProxy;
  let srv: TestServer;
  let store: RedisStore;
  let pol: TestClient;
  let caseR: CaseId;
  const prefix = newId('t');
  const logged = async (text: string) => (await store.readEvents(caseR)).filter((e) => (e.payload as { text?: string }).text === text);

  beforeAll(async () => {
    redis = await startRedis();
    // The server reaches Redis only through the proxy, which can lose an answer after Redis acted on it.
    proxy = await startTcpProxy(redis.port);
    srv = await startTestServer({ commandsPerSecond: 100_000, env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}`, REDIS_PREFIX: prefix } });
    store = await RedisStore.connect(redis.url, prefix, quietLog);
    pol = await TestClient.connect(srv.url, 'politie');
    caseR = titled(await snapshotOf(pol), 'Casus R.');
  });
  afterAll(async () => {
    pol?.close();
    await srv?.close();
    await store?.close();
    await proxy?.close();
    await redis?.stop();
  });

  it('P-ONCE: a commit whose answer was lost is answered OUTCOME_UNKNOWN; the retry by its id gets the first answer, and it is in the log once', async () => {
    const input = addItem(caseR, 'Het antwoord raakte onderweg kwijt.');
    const id = newCommandId();
    // Cut the store's connection as Redis answers the append of this item: it committed, unheard.
    const cut = proxy.cutAnswer(
      (toRedis) => toRedis.includes(input.text),
      (fromRedis) => fromRedis.includes('*2\r\n:1\r\n:'),
    );
    const [first] = await Promise.all([pol.cmd('item:add', input, id), cut]);
    expect(first).toEqual({ ok: false, error: { code: 'OUTCOME_UNKNOWN', message: expect.stringMatching(/niet zeker/) } });
    const inLog = await logged(input.text);
    expect(inLog).toHaveLength(1);
    // Until its connection to Redis is back the server answers UNAVAILABLE (P-REDIS), as the
    // client's resend would hear; then:
    await srv.app.readiness.whenReady();
    // Resolved by id: the answer it had, not a second item.
    expect(await pol.cmd('item:add', input, id)).toEqual({ ok: true, data: { itemId: (inLog[0]!.payload as { itemId: ItemId }).itemId } });
    expect(await logged(input.text)).toHaveLength(1);
  });

  it('P-ONCE: an append Redis refused, which is known not to have committed, is answered INTERNAL, and its retry commits it once', async () => {
    const input = addItem(caseR, 'Redis weigerde het toevoegen.');
    const id = newCommandId();
    // The access records made unwritable: the append script fails before the events, in Redis.
    const records = store.keyNames.accessRecords;
    await store.redis.rename(records, `${records}:opzij`);
    await store.redis.set(records, 'geen hash');
    let first: Ack<unknown>;
    try {
      first = await pol.cmd('item:add', input, id);
    } finally {
      await store.redis.del(records);
      await store.redis.rename(`${records}:opzij`, records);
    }
    expect(first).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
    expect(await logged(input.text)).toHaveLength(0);
    const retry = await pol.cmd('item:add', input, id);
    expect(retry.ok).toBe(true);
    expect(await logged(input.text)).toHaveLength(1);
  });
});

describe('P-ONCE: the durable Redis killed under a stream of commands on two processes', () => {
  let redis: PrivateRedis;
  let bus: PrivateRedis;
  let store: RedisStore;
  const prefix = newId('t');
  const procs: ServerProcess[] = [];
  const clients: TestClient[] = [];
  const connect = async (p: ServerProcess, user: string): Promise<TestClient> => {
    const c = await TestClient.connect(p.url, user, await login(p.url, user));
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    [redis, bus] = await Promise.all([startRedis({ appendOnly: true }), startRedis()]);
    const env = { REDIS_URL: redis.url, REDIS_BUS_URL: bus.url, REDIS_PREFIX: prefix, COMMANDS_PER_SECOND: '100000' };
    procs.push(...(await Promise.all([spawnServer(env), spawnServer(env)])));
    store = await RedisStore.connect(redis.url, prefix, quietLog);
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    for (const p of procs) await p.kill('SIGKILL');
    await store?.close();
    await redis?.stop();
    await bus?.stop();
  });

  it('P-ONCE R-FILE: every command unanswered, or answered INTERNAL or OUTCOME_UNKNOWN, is resent with its id after recovery; every command is in the log exactly once', async () => {
    const [p1, p2] = procs as [ServerProcess, ServerProcess];
    // Several cases, so that appends of one process are in flight at once when Redis goes.
    const chair = await connect(p1, 'regisseur');
    const cases: CaseId[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await chair.cmd('case:create', {
        tableId: 'tbl_topx' as TableId,
        title: `Stroom ${i}`,
        subjectNote: '',
        goal: 'Alles één keer.',
        participants: [
          { orgId: 'org_zvh' as OrgId, role: 'voorzitter', userIds: ['usr_regisseur' as UserId] },
          { orgId: 'org_politie' as OrgId, role: 'aanmelder', userIds: ['usr_politie' as UserId] },
          { orgId: 'org_ggz' as OrgId, role: 'deelnemer', userIds: ['usr_ggz' as UserId] },
        ],
        persons: [{ name: 'Betrokkene', birthDate: '1990-01-01' }],
        informDueDate: '2026-12-01',
      });
      if (!r.ok) throw new Error(r.error.code);
      cases.push(r.data.caseId);
    }
    const writers = [await connect(p1, 'politie'), await connect(p2, 'ggz')];

    interface Sent {
      by: number;
      id: CommandId;
      input: CommandInput<'item:add'>;
      answer: Ack<{ itemId: ItemId }> | 'none';
    }
    const sent: Sent[] = [];
    let okCount = 0;
    let killed: Promise<void> | null = null;
    const PER_WRITER = 120;
    const IN_FLIGHT = 12;
    const stream = async (by: number): Promise<void> => {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < PER_WRITER) {
          const i = next++;
          const s: Sent = { by, id: newCommandId(), input: addItem(cases[i % cases.length]!, `stroom ${by}-${i}`), answer: 'none' };
          sent.push(s);
          try {
            s.answer = await writers[by]!.cmd('item:add', s.input, s.id);
          } catch {
            // No answer in time (or the connection went): outcome unknown to this client.
          }
          if (s.answer !== 'none' && s.answer.ok && ++okCount === 40) killed = redis.restart({ signal: 'SIGKILL' });
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    };
    await Promise.all([stream(0), stream(1)]);
    await killed;
    // This test's own connection may have been reconnecting as Redis was killed: node-redis can
    // then report it ready on a dead socket (see RedisHealth.reconnect). The log is read through a new one.
    store.redis.destroy();
    store = await RedisStore.connect(redis.url, prefix, quietLog);

    const open = sent.filter((s) => s.answer === 'none' || !s.answer.ok);
    const codes = open.map((s) => (s.answer === 'none' ? 'none' : s.answer.ok ? 'ok' : s.answer.error.code));
    // Only answers that say nothing changed (INTERNAL; UNAVAILABLE while Redis is away, P-REDIS)
    // or nothing is known.
    expect(codes.filter((c) => !['none', 'INTERNAL', 'UNAVAILABLE', 'OUTCOME_UNKNOWN'].includes(c))).toEqual([]);
    expect(open.length).toBeGreaterThan(0);
    await Promise.all(procs.map((p) => whenReady(p.url)));
    // Resent with their ids after recovery, each through the other process.
    const moved = [await connect(p2, 'politie'), await connect(p1, 'ggz')];
    const final = new Map<CommandId, Ack<{ itemId: ItemId }>>();
    for (const s of sent) if (s.answer !== 'none' && s.answer.ok) final.set(s.id, s.answer);
    await poll(
      'every command without an answer to be answered when resent',
      async () => {
        for (const s of open.filter((x) => !final.has(x.id))) {
          const r = await moved[s.by]!.cmd('item:add', s.input, s.id).catch(() => null);
          if (r?.ok) final.set(s.id, r);
          else if (r && !['INTERNAL', 'UNAVAILABLE', 'OUTCOME_UNKNOWN'].includes(r.error.code)) throw new Error(`resend refused: ${r.error.code}`);
        }
        return final.size === sent.length;
      },
      { ms: 30_000 },
    );
    // Each exactly once, under the item id its (first or resent) answer gave.
    const logged = new Map<string, ItemId[]>();
    for (const caseId of cases) {
      for (const e of await store.readEvents(caseId)) {
        const p = e.payload as { text?: string; itemId?: ItemId };
        if (e.type === 'item.added' && p.text) logged.set(p.text, [...(logged.get(p.text) ?? []), p.itemId!]);
      }
    }
    const wrong = sent.filter((s) => {
      const a = final.get(s.id)!;
      return !a.ok || JSON.stringify(logged.get(s.input.text)) !== JSON.stringify([a.data.itemId]);
    });
    expect(wrong.map((s) => ({ text: s.input.text, first: s.answer, logged: logged.get(s.input.text) }))).toEqual([]);
    expect(logged.size).toBe(sent.length);
    // Every one sent once more through the other process, as a client that lost its answers
    // would: the records came through the kill with their events, so each gets its answer again.
    const versions = async () => Promise.all(cases.map(async (id) => (await store.readEvents(id)).length));
    const before = await versions();
    const again = await Promise.all(sent.map((s) => moved[s.by]!.cmd('item:add', s.input, s.id)));
    expect(again.filter((a, i) => JSON.stringify(a) !== JSON.stringify(final.get(sent[i]!.id)))).toEqual([]);
    expect(await versions()).toEqual(before);
  });
});

import { once } from 'node:events';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseId, ItemId, OrgId } from '../../shared/ids.js';
import { newId } from '../../shared/ids.js';
import type { CasePatch, CaseSummary, CaseView, PresenceUpdate } from '../../shared/protocol.js';
import { Directory } from '../../server/directory/directory.js';
import { Cursors } from '../../server/realtime/cursor.js';
import { RedisStore } from '../../server/store/redis.js';
import { login, TestClient } from '../support/client.js';
import { LeakOracle } from '../support/oracle.js';
import { spawnServer, whenReady, type ServerProcess } from '../support/process.js';
import { quietLog, startRedis, type PrivateRedis } from '../support/redis.js';
import { provider, storedText, synced, textWhere } from '../support/collab.js';
import { within } from '../support/wait.js';
import { RoomScreenClient, screenToken, setRoom } from '../support/room.js';

// Several server processes on one Redis behave as one board, rules included. As docker-compose
// runs them: the durable Redis for the logs, a bus Redis without persistence between processes.
let redis: PrivateRedis;
let bus: PrivateRedis;
const prefix = newId('t');
const procs: ServerProcess[] = [];
let store: RedisStore;
let caseR: CaseId;
const clients: { c: TestClient; user: string }[] = [];

async function start(): Promise<ServerProcess> {
  const p = await spawnServer({ REDIS_URL: redis.url, REDIS_BUS_URL: bus.url, REDIS_PREFIX: prefix, COMMANDS_PER_SECOND: '100000', LOG_LEVEL: 'info' });
  procs.push(p);
  return p;
}

async function connect(p: ServerProcess, user: string): Promise<TestClient> {
  const c = await TestClient.connect(p.url, user, await login(p.url, user));
  clients.push({ c, user });
  return c;
}

beforeAll(async () => {
  [redis, bus] = await Promise.all([startRedis({ appendOnly: true }), startRedis()]);
  await Promise.all([start(), start(), start()]);
  store = await RedisStore.connect(redis.url, prefix, quietLog);
  caseR = (await Promise.all((await store.caseIds()).map(async (id) => ({ id, first: (await store.readEvents(id, 0, 1))[0]! })))).find((x) =>
    (x.first.payload as { title: string }).title.startsWith('Casus R.'),
  )!.id;
});

afterAll(async () => {
  for (const { c } of clients) c.close();
  for (const p of procs) await p.kill('SIGKILL');
  await store?.close();
  await redis?.stop();
  await bus?.stop();
});

const waitItem = (c: TestClient, text: string, from = 0) =>
  c.waitFor((r) => r.event === 'case:patch' && (r.args[0] as CasePatch).ops.some((o) => o.op === 'item' && o.item.text === text), 10_000, from);

describe('R-ROLE R-NEED across three processes', () => {
  it('R-NEED: users on different processes co-work on one case, each receiving only its own projection', async () => {
    const [p1, p2, p3] = procs as [ServerProcess, ServerProcess, ServerProcess];
    const pol = await connect(p1, 'politie');
    const ggz = await connect(p2, 'ggz');
    const om = await connect(p3, 'om');
    const chair = await connect(p1, 'regisseur');
    for (const c of [pol, ggz, om, chair]) expect((await c.cmd('case:open', { caseId: caseR })).ok).toBe(true);

    expect((await pol.cmd('item:add', { caseId: caseR, phase: 'beeldvorming', text: 'Van politie, voor iedereen.', visibility: { kind: 'table' } })).ok).toBe(
      true,
    );
    await Promise.all([waitItem(ggz, 'Van politie, voor iedereen.'), waitItem(om, 'Van politie, voor iedereen.')]);
    expect((await ggz.cmd('item:add', { caseId: caseR, phase: 'beeldvorming', text: 'Van GGZ op proces 2.', visibility: { kind: 'table' } })).ok).toBe(true);
    await Promise.all([waitItem(pol, 'Van GGZ op proces 2.'), waitItem(om, 'Van GGZ op proces 2.')]);
    expect(
      (
        await pol.cmd('item:add', {
          caseId: caseR,
          phase: 'beeldvorming',
          text: 'Alleen voor het OM.',
          visibility: { kind: 'orgs', orgIds: ['org_om' as OrgId] },
        })
      ).ok,
    ).toBe(true);
    await waitItem(om, 'Alleen voor het OM.');

    // Presence spans processes: GGZ on process 2 sees the police (1) and the OM (3).
    await ggz.waitFor((r) => {
      if (r.event !== 'presence:update') return false;
      const orgs = (r.args[0] as PresenceUpdate).present.map((p) => p.orgId);
      return orgs.includes('org_politie' as OrgId) && orgs.includes('org_om' as OrgId);
    });

    // The chair on process 1 removes the OM; the OM's socket on process 3 is revoked.
    const from = om.nextSeq;
    expect((await chair.cmd('case:removeParticipant', { caseId: caseR, orgId: 'org_om' as OrgId })).ok).toBe(true);
    await om.waitFor((r) => r.event === 'case:patch' && (r.args[0] as CasePatch).ops.some((o) => o.op === 'revoked'), 10_000, from);
    expect((await pol.cmd('item:add', { caseId: caseR, phase: 'beeldvorming', text: 'Na het vertrek van het OM.', visibility: { kind: 'table' } })).ok).toBe(
      true,
    );
    await waitItem(ggz, 'Na het vertrek van het OM.');
    expect((await om.cmd('case:open', { caseId: caseR })).ok).toBe(false);
    // Put the OM back for the tests that follow. Its board was closed by the revocation on process 3:
    // GGZ on process 2 is told so (process 3 says who it has open after a change, not when asked).
    const mark = ggz.nextSeq;
    expect(
      (await chair.cmd('case:setParticipant', { caseId: caseR, participant: { orgId: 'org_om' as OrgId, role: 'deelnemer', userIds: ['usr_om' as never] } }))
        .ok,
    ).toBe(true);
    await ggz.waitFor(
      (r) => {
        const u = r.args[0] as PresenceUpdate;
        if (r.event !== 'presence:update' || u.caseId !== caseR) return false;
        const orgs = u.present.map((p) => p.orgId);
        return orgs.includes('org_politie' as OrgId) && !orgs.includes('org_om' as OrgId);
      },
      10_000,
      mark,
    );
  });

  it('the links between processes run over the bus Redis, the logs stay on the durable one', async () => {
    const onBus = createClient({ url: bus.url });
    // Expected while the test stops or kills Redis; unheard, an 'error' would end the run.
    onBus.on('error', () => undefined);
    await onBus.connect();
    try {
      // Every process listens for commit notices and Socket.IO adapter messages on the bus, none on the durable one.
      const channels = (await onBus.sendCommand(['PUBSUB', 'CHANNELS'])) as string[];
      expect(channels).toContain(store.keyNames.caseChannel);
      expect(channels.some((c) => c.startsWith('socket.io#'))).toBe(true);
      expect(Number(((await onBus.sendCommand(['PUBSUB', 'NUMSUB', store.keyNames.caseChannel])) as [string, number])[1])).toBe(3);
      expect(await store.redis.sendCommand(['PUBSUB', 'CHANNELS'])).toEqual([]);
      expect((await store.readEvents(caseR)).length).toBeGreaterThan(0);
    } finally {
      await onBus.quit();
    }
  });

  it('R-OWN: a co-edited text open on two processes converges through Redis', async () => {
    const [p1, p2] = procs as [ServerProcess, ServerProcess];
    const c = clients.find((x) => x.user === 'politie')!.c;
    const view = ((await c.cmd('case:open', { caseId: caseR })) as { data: { view: CaseView } }).data.view;
    const a = provider(p1.url, view.meta.minutesDocId!, await login(p1.url, 'politie'));
    const b = provider(p2.url, view.meta.minutesDocId!, await login(p2.url, 'ggz'));
    await Promise.all([synced(a), synced(b)]);
    a.doc.getText('text').insert(0, 'Proces 1. ');
    b.doc.getText('text').insert(0, 'Proces 2. ');
    const both = (t: string) => t.includes('Proces 1.') && t.includes('Proces 2.');
    await Promise.all([textWhere(a.doc, both), textWhere(b.doc, both)]);
    a.destroy();
    b.destroy();
  });

  it('R-OWN: a text changed on the board through one process reaches its document open on another', async () => {
    const [p1, p2] = procs as [ServerProcess, ServerProcess];
    const c = await connect(p1, 'politie');
    const added = await c.cmd('item:add', { caseId: caseR, phase: 'beeldvorming', text: 'Eerst.', visibility: { kind: 'table' } });
    if (!added.ok) throw new Error(added.error.code);
    const itemId = (added.data as { itemId: ItemId }).itemId;
    const view = ((await c.cmd('case:open', { caseId: caseR })) as { data: { view: CaseView } }).data.view;
    const docId = view.items.find((i) => i.id === itemId)!.textDocId;
    // Open on process 2 only: process 1, which commits the edit, has no copy of its own.
    const b = provider(p2.url, docId, await login(p2.url, 'politie'));
    await synced(b);
    expect(b.doc.getText('text').toString()).toBe('Eerst.');
    expect((await c.cmd('item:edit', { caseId: caseR, itemId, text: 'Van het bord.' })).ok).toBe(true);
    await textWhere(b.doc, (t) => t === 'Van het bord.');
    b.destroy();
  });

  it('P-ORDER: a new text opened on three processes at the same moment holds its starting text once', async () => {
    const c = await connect(procs[0]!, 'politie');
    const cookies = await Promise.all(procs.map((p) => login(p.url, 'politie')));
    const texts = ['Een.', 'Twee.', 'Drie.', 'Vier.', 'Vijf.'];
    const docs: string[] = [];
    for (const text of texts) {
      const added = await c.cmd('item:add', { caseId: caseR, phase: 'beeldvorming', text, visibility: { kind: 'table' } });
      if (!added.ok) throw new Error(added.error.code);
      const view = ((await c.cmd('case:open', { caseId: caseR })) as { data: { view: CaseView } }).data.view;
      docs.push(view.items.find((i) => i.id === (added.data as { itemId: ItemId }).itemId)!.textDocId);
    }
    // The starting text is the entry after the item's in the log: every process loads that one.
    const opened = docs.flatMap((docId) => procs.map((p, i) => ({ docId, p: provider(p.url, docId, cookies[i]!) })));
    await Promise.all(opened.map((o) => synced(o.p)));
    for (const [i, docId] of docs.entries()) {
      expect(await storedText(store, caseR, docId)).toBe(texts[i]);
    }
    for (const o of opened) expect(o.p.doc.getText('text').toString()).toBe(texts[docs.indexOf(o.docId)]);
    for (const o of opened) o.p.destroy();
  });

  it('R-ROLE: two processes writing to one case at the same moment give one order with both present', async () => {
    const [p1, p2] = procs as [ServerProcess, ServerProcess];
    const a = await connect(p1, 'gemeente');
    const b = await connect(p2, 'woning');
    const sends = [];
    for (let i = 0; i < 40; i++) {
      sends.push(a.cmd('item:add', { caseId: caseR, phase: 'beeldvorming', text: `gelijktijdig A${i}`, visibility: { kind: 'table' } }));
      sends.push(b.cmd('item:add', { caseId: caseR, phase: 'beeldvorming', text: `gelijktijdig B${i}`, visibility: { kind: 'table' } }));
    }
    const acks = await Promise.all(sends);
    expect(acks.filter((r) => !r.ok).map((r) => (r.ok ? '' : r.error.code))).toEqual([]);
    const events = await store.readEvents(caseR);
    expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i + 1));
    const texts = events.filter((e) => e.type === 'item.added').map((e) => (e.payload as { text: string }).text);
    for (let i = 0; i < 40; i++) {
      expect(texts.filter((t) => t === `gelijktijdig A${i}`).length).toBe(1);
      expect(texts.filter((t) => t === `gelijktijdig B${i}`).length).toBe(1);
    }
  });

  it('R-FILE: a process killed mid-burst: its clients reconnect to another and catch up; every acknowledged command is there once', async () => {
    const [p1, p2, p3] = procs as [ServerProcess, ServerProcess, ServerProcess];
    const cookie = await login(p2.url, 'ggz');
    const onP2 = await TestClient.connect(p2.url, 'ggz', cookie);
    clients.push({ c: onP2, user: 'ggz' });
    const opened = await onP2.cmd('case:open', { caseId: caseR });
    let cursor = (opened as { data: { view: CaseView } }).data.view.cursor;
    onP2.socket.on('case:patch', (p) => (cursor = p.cursor));
    const writer = await connect(p1, 'politie2');
    const acked = new Set<string>();
    let killed: Promise<unknown> | null = null;
    const burst = [];
    for (let i = 0; i < 120; i++) {
      const c = i % 2 === 0 ? writer : onP2;
      const text = `salvo ${c.username} ${i}`;
      burst.push(
        c.cmd('item:add', { caseId: caseR, phase: 'beeldvorming', text, visibility: { kind: 'table' } }).then(
          (r) => {
            if (r.ok) acked.add(text);
            if (acked.size === 30 && !killed) killed = p2.kill('SIGKILL');
          },
          () => undefined,
        ),
      );
    }
    await Promise.all(burst);
    await killed;
    // The client moves to process 3 with the same session and catches up from its cursor.
    const moved = await TestClient.connect(p3.url, 'ggz', cookie);
    clients.push({ c: moved, user: 'ggz' });
    const r = await moved.cmd('case:open', { caseId: caseR, since: cursor });
    expect(r.ok).toBe(true);
    const full = await moved.cmd('case:open', { caseId: caseR });
    const texts = (full as { data: { view: CaseView } }).data.view.items.map((i) => i.text);
    for (const t of acked) expect(texts.filter((x) => x === t)).toEqual([t]);
  });

  it('R-FILE: both Redis servers restarted during a session: processes reconnect, nothing acknowledged is lost, clients resume', async () => {
    const [p1, , p3] = procs as [ServerProcess, ServerProcess, ServerProcess];
    const a = await connect(p1, 'reclassering');
    const b = await connect(p3, 'politie');
    const snap = (await a.waitFor((r) => r.event === 'cases:snapshot')).args[0] as CaseSummary[];
    const caseT = snap.find((c) => c.title.startsWith('Casus T.'))!.id;
    expect((await b.cmd('case:open', { caseId: caseR })).ok).toBe(true);
    // A viewer on another process than the writer: what reaches it after the restarts crossed the new bus.
    const viewer = await connect(p1, 'ggz');
    expect((await viewer.cmd('case:open', { caseId: caseR })).ok).toBe(true);
    const before = await a.cmd('item:add', { caseId: caseT, phase: 'beeldvorming', text: 'Voor de herstart.', visibility: { kind: 'table' } });
    expect(before.ok).toBe(true);
    // The durable one keeps its data (append-only); the bus comes back empty.
    await Promise.all([redis.restart(), bus.restart()]);
    // Until a process is connected again it answers UNAVAILABLE (P-REDIS); then commands work.
    await Promise.all([p1, p3].map((p) => whenReady(p.url)));
    const after = await b.cmd('item:add', { caseId: caseR, phase: 'beeldvorming', text: 'Na de herstart.', visibility: { kind: 'table' } });
    expect(after.ok).toBe(true);
    if (!store.redis.isReady) await within("the test's store client to be ready again", once(store.redis, 'ready'));
    const events = await store.readEvents(caseT);
    expect(events.some((e) => (e.payload as { text?: string }).text === 'Voor de herstart.')).toBe(true);
    await waitItem(viewer, 'Na de herstart.');
  });

  it('R-NEED: after the durable Redis alone restarts, a commit nobody announced reaches the viewers', async () => {
    const [, , p3] = procs as [ServerProcess, ServerProcess, ServerProcess];
    const viewer = await connect(p3, 'ggz');
    expect((await viewer.cmd('case:open', { caseId: caseR })).ok).toBe(true);
    // A commit whose answer (and so its notice) was lost when Redis went away: in the log, unannounced.
    const log = await store.readEvents(caseR);
    const template = log.find((e) => e.type === 'item.added')!;
    const { caseId: _c, version: _v, ...event } = template;
    const payload = {
      ...(template.payload as object),
      itemId: newId('it'),
      textDocId: newId('doc'),
      text: 'Niet aangekondigd.',
      visibility: { kind: 'table' },
    };
    await store.appendEvents(caseR, log.length, [{ ...event, payload }]);
    await redis.restart();
    await waitItem(viewer, 'Niet aangekondigd.');
    await Promise.all([procs[0]!, p3].map((p) => whenReady(p.url)));
  });

  it('R-ROLE: a participant opens a case whose creation has not reached this process yet', async () => {
    // (Process 2 was killed above.) A case created elsewhere whose notice has not arrived: only
    // the shared log has it. The process reads the log before it says no.
    const [p1] = procs as [ServerProcess];
    const viewer = await connect(p1, 'ggz');
    const [created] = await store.readEvents(caseR, 0, 1);
    const { caseId: _c, version: _v, ...event } = created!;
    const caseId = newId('cs') as CaseId;
    const payload = { ...(created!.payload as object), caseId, title: 'Nog niet gehoord' };
    await store.appendEvents(caseId, 0, [{ ...event, payload }]);
    const r = await viewer.cmd('case:open', { caseId });
    expect(r.ok && 'view' in r.data && r.data.view.meta.title).toBe('Nog niet gehoord');
    // Someone not seated is still told no.
    const dir = new Directory(store);
    await dir.load();
    const seated = (created!.payload as { participants: { orgId: OrgId }[] }).participants.map((x) => x.orgId);
    const outsiderName = ['woning', 'gemeente', 'veiligthuis', 'reclassering'].find((u) => !seated.includes(dir.userByUsername(u)!.orgId))!;
    const outsider = await connect(p1, outsiderName);
    expect(await outsider.cmd('case:open', { caseId })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });

  it('R-ROLE: logging out on one process ends the session’s sockets on every process', async () => {
    // (Process 2 was killed above; 1 and 3 remain.)
    const [p1, , p3] = procs as [ServerProcess, ServerProcess, ServerProcess];
    const cookie = await login(p1.url, 'veiligthuis');
    const onP3 = await TestClient.connect(p3.url, 'veiligthuis', cookie);
    const closed = new Promise<void>((resolve) => onP3.socket.once('disconnect', () => resolve()));
    expect((await fetch(`${p1.url}/api/logout`, { method: 'POST', headers: { cookie } })).status).toBe(204);
    await onP3.waitFor((r) => r.event === 'session:ended');
    await closed;
  });

  it('R-ROOM: a room screen on one process narrows when the chair records an arrival on another', async () => {
    const [p1, , p3] = procs as [ServerProcess, ServerProcess, ServerProcess];
    const chair = await connect(p1, 'regisseur');
    const listed = (await chair.waitFor((r) => r.event === 'cases:snapshot')).args[0] as CaseSummary[];
    const meetingId = listed.find((x) => x.id === caseR)!.agenda.find((a) => a.state === 'running')!.meetingId;
    const screen = await RoomScreenClient.connect(p3.url, await screenToken(chair, meetingId));
    try {
      await setRoom(chair, meetingId, ['regisseur']);
      await screen.waitFor((v) => v.current?.caseId === caseR);
      // The Reclassering takes no part in Casus R.: it leaves the screen on the other process.
      const from = screen.views.length;
      await setRoom(chair, meetingId, ['regisseur', 'reclassering']);
      const v = await screen.waitFor((x) => x.current === null, from, 10_000);
      expect(v.agenda.map((a) => a.caseId)).not.toContain(caseR);
      await setRoom(chair, meetingId, ['regisseur']);
      await screen.waitFor((x) => x.current?.caseId === caseR, from, 10_000);
    } finally {
      screen.close();
    }
  });

  it('R-ROLE R-NEED: the leak oracle finds nothing in any message of any client across the processes', async () => {
    const dir = new Directory(store);
    await dir.load();
    const key = await store.getMeta('cursor-key');
    const oracle = new LeakOracle({ cursors: new Cursors(Buffer.from(key!, 'base64')), store, dir });
    for (const { c, user } of clients) {
      const u = dir.userByUsername(user)!;
      await oracle.checkClient(c, { userId: u.id, orgId: u.orgId });
    }
    expect(oracle.violations).toEqual([]);
    expect(oracle.checked).toBeGreaterThan(50);
  });
});

export type { ItemId };

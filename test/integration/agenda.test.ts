import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseId, ItemId, MeetingId, UserId } from '../../shared/ids.js';
import { CollabClose, type CasePatch, type CaseSummary, type CaseView, type MeetingView } from '../../shared/protocol.js';
import { TestClient } from '../support/client.js';
import { provider, rawConn, synced, textWhere } from '../support/collab.js';
import { createCase, planMeeting } from '../support/meetings.js';
import { houseDay } from '../../shared/day.js';
import { startTestServer, type TestServer } from '../support/server.js';

// A meeting of the Top X table with two cases on its agenda: the police takes part in one of them
// (K), the OM in both. Each partner is shown only the slots of its own cases, and a case is open
// for discussion only while its slot runs.
let srv: TestServer;
const c: Record<string, TestClient> = {};
let meeting: MeetingView;
let caseK: CaseId;
let caseT: CaseId;
let ggzItem: ItemId;
/** The house's day as the server sees it: moved by the test of a day that passes. */
let day = houseDay();

const summaryOf = (cl: TestClient, caseId: CaseId, from = 0, pred: (s: CaseSummary) => boolean = () => true) =>
  cl.waitFor(
    (r) =>
      (r.event === 'cases:upsert' && (r.args[0] as CaseSummary).id === caseId && pred(r.args[0] as CaseSummary)) ||
      (r.event === 'cases:snapshot' && (r.args[0] as CaseSummary[]).some((s) => s.id === caseId && pred(s))),
    5000,
    from,
  );
const patchWith = (cl: TestClient, from: number, pred: (p: CasePatch) => boolean) =>
  cl.waitFor((r) => r.event === 'case:patch' && pred(r.args[0] as CasePatch), 5000, from);

beforeAll(async () => {
  srv = await startTestServer({ commandsPerSecond: 10_000, today: () => day });
  for (const u of ['regisseur', 'regisseur2', 'politie', 'om', 'ggz']) c[u] = await TestClient.connect(srv.url, u);
  caseK = await createCase(c.regisseur!, 'Casus K.', [
    ['zvh', 'voorzitter', 'regisseur'],
    ['politie', 'aanmelder', 'politie'],
    ['ggz', 'deelnemer', 'ggz'],
    ['om', 'deelnemer', 'om'],
  ]);
  caseT = [...srv.app.cases.all()].find((s) => s.title.startsWith('Casus T.'))!.id;
});

afterAll(async () => {
  for (const cl of Object.values(c)) cl.close();
  await srv?.close();
});

describe('planning a meeting', () => {
  it('R-ROLE: only the house’s chairs plan meetings; partners are not given the list', async () => {
    expect((await c.politie!.http('GET', '/api/meetings')).status).toBe(403);
    expect(
      (
        await c.politie!.http('POST', '/api/meetings', {
          tableId: 'tbl_topx',
          date: '2026-12-08',
          startTime: '13:00',
          endTime: '16:00',
          place: 'x',
          onlineUrl: null,
        })
      ).status,
    ).toBe(403);
    meeting = await planMeeting(c.regisseur!, 'tbl_topx', {
      startTime: '13:00',
      endTime: '17:00',
      place: 'Zaal 2.14',
      onlineUrl: 'https://overleg.example.nl/topx',
    });
    expect(meeting).toMatchObject({ tableId: 'tbl_topx', chairUserId: 'usr_regisseur', chairName: 'Marieke Hoekstra', closedAt: null });
    const listed = (await c.regisseur2!.http<{ meetings: MeetingView[] }>('GET', '/api/meetings')).body.meetings;
    expect(listed.map((m) => m.id)).toContain(meeting.id);
  });

  it('a meeting that cannot be held is refused and nothing is kept', async () => {
    const before = srv.app.dir.allMeetings().length;
    const base = { tableId: 'tbl_topx', date: '2026-12-08', startTime: '13:00', endTime: '16:00', place: 'Zaal', onlineUrl: null };
    for (const bad of [
      { ...base, endTime: '12:00' },
      { ...base, place: '', onlineUrl: null },
      { ...base, onlineUrl: 'javascript:alert(1)' },
      { ...base, onlineUrl: 'http://overleg.example.nl' },
      { ...base, date: '2026-02-30' },
      { ...base, startTime: '25:00' },
      { ...base, tableId: 'tbl_onbekend' },
      { ...base, chairUserId: 'usr_politie' },
    ]) {
      const r = await c.regisseur!.http<{ error: { code: string } }>('POST', '/api/meetings', bad);
      expect({ bad, status: r.status, code: r.body.error.code }).toEqual({ bad, status: 400, code: 'BAD_REQUEST' });
    }
    expect(srv.app.dir.allMeetings().length).toBe(before);
    // Only its own chair changes it.
    expect((await c.regisseur2!.http('PATCH', `/api/meetings/${meeting.id}`, { place: 'Elders' })).status).toBe(403);
    expect((await c.regisseur!.http('PATCH', `/api/meetings/${meeting.id}`, { endTime: '12:00' })).status).toBe(400);
  });

  it('R-ROLE: each partner is shown the slots of the cases it takes part in, and nothing of the others', async () => {
    const from = Object.fromEntries(Object.entries(c).map(([u, cl]) => [u, cl.nextSeq]));
    expect((await c.regisseur!.cmd('agenda:schedule', { caseId: caseK, meetingId: meeting.id, start: '13:00', end: '13:40' })).ok).toBe(true);
    expect((await c.regisseur!.cmd('agenda:schedule', { caseId: caseT, meetingId: meeting.id, start: '15:15', end: '15:55' })).ok).toBe(true);
    const pol = (await summaryOf(c.politie!, caseK, from.politie, (s) => s.agenda.length > 0)).args[0] as CaseSummary;
    expect(pol.agenda).toEqual([
      expect.objectContaining({ meetingId: meeting.id, place: 'Zaal 2.14', start: '13:00', end: '13:40', state: 'planned', chairName: 'Marieke Hoekstra' }),
    ]);
    await summaryOf(c.om!, caseT, from.om, (s) => s.agenda.some((a) => a.meetingId === meeting.id));
    // The police is told nothing of T.: not its slot, not that the meeting has another case.
    const heard = JSON.stringify(c.politie!.received.slice(from.politie));
    expect(heard).not.toContain(caseT);
    expect(heard).not.toContain('15:15');
    expect(heard).not.toContain('Casus T.');
    // Nor the meeting's own start and end, whose gaps around its slot would tell of others.
    expect(heard).not.toContain('17:00');
  });
});

describe('running the meeting', () => {
  it('R-TAKEHOME: a case is not open before it is discussed: an item reaches only its contributor', async () => {
    const open = await c.politie!.cmd('case:open', { caseId: caseK });
    expect(open.ok && (open.data as { view: CaseView }).view.meta.meetingOpen).toBe(false);
    const added = await c.ggz!.cmd('item:add', { caseId: caseK, phase: 'beeldvorming', text: 'GGZ: in zorg sinds oktober.', visibility: { kind: 'table' } });
    if (!added.ok) throw new Error(added.error.code);
    ggzItem = added.data.itemId;
    const again = await c.politie!.cmd('case:open', { caseId: caseK });
    expect(again.ok && (again.data as { view: CaseView }).view.items.map((i) => i.id)).toEqual([]);
    expect((await c.regisseur!.cmd('agenda:begin', { caseId: caseK, meetingId: 'mt_onbekend' as MeetingId })).ok).toBe(false);
    expect((await c.politie!.cmd('agenda:begin', { caseId: caseK, meetingId: meeting.id })).ok).toBe(false);
  });

  it('R-TAKEHOME: beginning the slot opens the case to the table live; ending it closes it live', async () => {
    let from = c.politie!.nextSeq;
    expect((await c.regisseur!.cmd('agenda:begin', { caseId: caseK, meetingId: meeting.id })).ok).toBe(true);
    await patchWith(c.politie!, from, (p) => p.ops.some((o) => o.op === 'item' && o.item.id === ggzItem));
    await summaryOf(c.politie!, caseK, from, (s) => s.meetingOpen && s.agenda[0]!.state === 'running');
    from = c.politie!.nextSeq;
    expect((await c.regisseur!.cmd('agenda:end', { caseId: caseK, meetingId: meeting.id })).ok).toBe(true);
    await patchWith(c.politie!, from, (p) => p.ops.some((o) => o.op === 'itemRemoved' && o.itemId === ggzItem));
    await summaryOf(c.politie!, caseK, from, (s) => !s.meetingOpen && s.agenda[0]!.state === 'done');
  });

  it('a change of place reaches every case on the agenda, on the list and on the open board', async () => {
    const from = c.politie!.nextSeq;
    const r = await c.regisseur!.http<{ meeting: MeetingView }>('PATCH', `/api/meetings/${meeting.id}`, { place: 'Zaal 3.01' });
    expect(r.status).toBe(200);
    await summaryOf(c.politie!, caseK, from, (s) => s.agenda[0]!.place === 'Zaal 3.01');
    await patchWith(c.politie!, from, (p) => p.ops.some((o) => o.op === 'meta' && o.meta.agenda[0]!.place === 'Zaal 3.01'));
    expect(JSON.stringify(c.politie!.received.slice(from))).not.toContain(caseT);
  });

  it('a board that reconnects from its cursor is brought the meeting as it is now', async () => {
    const open = await c.politie!.cmd('case:open', { caseId: caseK });
    const cursor = (open.ok && (open.data as { view: CaseView }).view.cursor) as string;
    expect((await c.regisseur!.http('PATCH', `/api/meetings/${meeting.id}`, { place: 'Zaal 4.02' })).status).toBe(200);
    const again = await c.politie!.cmd('case:open', { caseId: caseK, since: cursor });
    if (!again.ok || !('patch' in again.data)) throw new Error('no catch-up');
    const meta = again.data.patch.ops.find((o) => o.op === 'meta');
    expect(meta && meta.op === 'meta' && meta.meta.agenda[0]!.place).toBe('Zaal 4.02');
  });

  it('R-TAKEHOME: closing a meeting ends the case under discussion in it; nothing is discussed there any more', async () => {
    const from = { politie: c.politie!.nextSeq, om: c.om!.nextSeq };
    expect((await c.regisseur!.cmd('agenda:begin', { caseId: caseT, meetingId: meeting.id })).ok).toBe(true);
    expect((await c.regisseur2!.http('POST', `/api/meetings/${meeting.id}/close`)).status).toBe(403);
    expect((await c.regisseur!.http('POST', `/api/meetings/${meeting.id}/close`)).status).toBe(200);
    await summaryOf(c.om!, caseT, from.om, (s) => !s.meetingOpen && s.agenda.some((a) => a.meetingId === meeting.id && a.state === 'done'));
    await summaryOf(c.politie!, caseK, from.politie, (s) => s.agenda[0]!.meetingClosed);
    expect(srv.app.cases.get(caseT)!.meetingOpen).toBe(false);
    const again = await c.regisseur!.cmd('agenda:begin', { caseId: caseK, meetingId: meeting.id });
    expect(again.ok ? null : again.error.message).toBe('Dit overleg is gesloten.');
    expect((await c.regisseur!.http('PATCH', `/api/meetings/${meeting.id}`, { place: 'Weer elders' })).status).toBe(409);
    // Closing is for good in the store too: a process that had not heard cannot write it open again.
    expect(await srv.app.store.putMeeting({ ...srv.app.dir.meeting(meeting.id)!, closedAt: null })).toBe(false);
    expect((await srv.app.store.listMeetings()).find((m) => m.id === meeting.id)!.closedAt).not.toBeNull();
  });

  it('R-ROLE: a meeting’s chair learns nothing of a case on it that it does not take part in, not even by closing', async () => {
    // Another chair's meeting of the same table; the regisseur puts its own case K on it.
    const other = await planMeeting(c.regisseur2!, 'tbl_topx');
    const empty = await planMeeting(c.regisseur2!, 'tbl_topx');
    expect((await c.regisseur!.cmd('agenda:schedule', { caseId: caseK, meetingId: other.id, start: '09:00', end: '09:30' })).ok).toBe(true);
    expect((await c.regisseur!.cmd('agenda:begin', { caseId: caseK, meetingId: other.id })).ok).toBe(true);
    const from = c.regisseur2!.nextSeq;
    const busy = await c.regisseur2!.http<{ meeting: MeetingView }>('POST', `/api/meetings/${other.id}/close`);
    const quiet = await c.regisseur2!.http<{ meeting: MeetingView }>('POST', `/api/meetings/${empty.id}/close`);
    expect([busy.status, quiet.status]).toEqual([200, 200]);
    expect(Object.keys(busy.body.meeting).sort()).toEqual(Object.keys(quiet.body.meeting).sort());
    expect(JSON.stringify(c.regisseur2!.received.slice(from))).not.toContain(caseK);
    expect(srv.app.cases.get(caseK)!.meetingOpen).toBe(false);
  });

  it('R-FILE: planning and changing meetings is in the access log', async () => {
    await srv.app.access.flush();
    const ops = (await srv.app.store.readAccess({ userId: 'usr_regisseur' as UserId })).map((r) => r.operation);
    expect(ops).toEqual(expect.arrayContaining([`meeting:create ${meeting.id}`, `meeting:update ${meeting.id} place`, `meeting:close ${meeting.id}`]));
  });

  it('R-TAKEHOME: each discussion has minutes of its own; a partner writes those of the one running and is shown no earlier ones', async () => {
    const third = await planMeeting(c.regisseur!, 'tbl_topx');
    expect((await c.regisseur!.cmd('agenda:schedule', { caseId: caseK, meetingId: third.id, start: '10:00', end: '10:30' })).ok).toBe(true);
    expect((await c.regisseur!.cmd('agenda:begin', { caseId: caseK, meetingId: third.id })).ok).toBe(true);
    const pol = await c.politie!.cmd('case:open', { caseId: caseK });
    const chair = await c.regisseur!.cmd('case:open', { caseId: caseK });
    if (!pol.ok || !chair.ok || !('view' in pol.data) || !('view' in chair.data)) throw new Error('no view');
    const now = pol.data.view.meta.minutesDocId!;
    const earlier = chair.data.view.meta.agenda.filter((a) => a.state === 'done').map((a) => a.minutesDocId);
    // The chair keeps the earlier minutes (the house's file); the police is given none of them.
    expect(earlier.length).toBe(2);
    expect(earlier.every((id) => id !== null && id !== now)).toBe(true);
    expect(pol.data.view.meta.agenda.filter((a) => a.state === 'done').map((a) => a.minutesDocId)).toEqual([null, null]);
    const writer = provider(srv.url, now, c.politie!.cookie);
    await synced(writer);
    writer.doc.getText('text').insert(0, 'Politie: afspraak met de wijkagent.');
    const reader = provider(srv.url, now, c.regisseur!.cookie);
    await textWhere(reader.doc, (t) => t.includes('wijkagent'));
    const old = rawConn(srv.url, earlier[0]!, c.politie!.cookie);
    expect(await old.closed).toBe(CollabClose.FORBIDDEN);
    const archived = provider(srv.url, earlier[0]!, c.regisseur!.cookie);
    await synced(archived);
    expect(archived.doc.getText('text').toString()).not.toContain('wijkagent');
    for (const p of [writer, reader, archived]) p.destroy();
    expect((await c.regisseur!.cmd('agenda:end', { caseId: caseK, meetingId: third.id })).ok).toBe(true);
  });

  it('R-TAKEHOME: once its meeting’s day has passed, a case is no longer open: what still runs is ended', async () => {
    const m = await planMeeting(c.regisseur!, 'tbl_topx');
    expect((await c.regisseur!.cmd('agenda:schedule', { caseId: caseK, meetingId: m.id, start: '11:00', end: '11:30' })).ok).toBe(true);
    expect((await c.regisseur!.cmd('agenda:begin', { caseId: caseK, meetingId: m.id })).ok).toBe(true);
    const from = c.politie!.nextSeq;
    day = houseDay(1);
    try {
      // K, and the demo's R. and B., under discussion in today's demo meetings.
      expect(await srv.app.discussions.endStale()).toBe(3);
      expect([...srv.app.cases.all()].filter((x) => x.meetingOpen)).toEqual([]);
      await summaryOf(c.politie!, caseK, from, (s) => !s.meetingOpen && s.agenda.some((a) => a.meetingId === m.id && a.state === 'done'));
      expect(await srv.app.discussions.endStale()).toBe(0);
    } finally {
      day = houseDay();
    }
  });
});

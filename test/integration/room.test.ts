import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseId, ItemId, MeetingId, OrgId } from '../../shared/ids.js';
import type { MeetingView, RoomView } from '../../shared/protocol.js';
import { TestClient } from '../support/client.js';
import { createCase, planMeeting } from '../support/meetings.js';
import { RoomScreenClient, screenToken, setRoom } from '../support/room.js';
import { startTestServer, type TestServer } from '../support/server.js';

// A hybrid meeting of the Top X table discussing Casus K.: the police brought an investigation
// it showed to the OM alone, the GGZ something for the whole table. The room screen shows only
// what everyone recorded in the room may see.
let srv: TestServer;
const c: Record<string, TestClient> = {};
let meeting: MeetingView;
let caseK: CaseId;
let policeItem: ItemId;
let ggzItem: ItemId;
let token: string;
let screen: RoomScreenClient;

const itemsOf = (v: RoomView): string[] => v.current?.items.map((i) => i.id) ?? [];

beforeAll(async () => {
  srv = await startTestServer({ commandsPerSecond: 10_000 });
  for (const u of ['regisseur', 'regisseur2', 'politie', 'om', 'ggz', 'reclassering', 'woning']) c[u] = await TestClient.connect(srv.url, u);
  caseK = await createCase(c.regisseur!, 'Casus K.', [
    ['zvh', 'voorzitter', 'regisseur'],
    ['politie', 'aanmelder', 'politie'],
    ['ggz', 'deelnemer', 'ggz'],
    ['om', 'deelnemer', 'om'],
  ]);
  meeting = await planMeeting(c.regisseur!, 'tbl_topx', { startTime: '13:00', endTime: '17:00' });
  for (const [cmd, input] of [
    ['agenda:schedule', { caseId: caseK, meetingId: meeting.id, start: '13:00', end: '13:40' }],
    ['agenda:begin', { caseId: caseK, meetingId: meeting.id }],
  ] as const) {
    const r = await c.regisseur!.cmd(cmd, input as never);
    if (!r.ok) throw new Error(`${cmd}: ${r.error.code}`);
  }
  const p = await c.politie!.cmd('item:add', {
    caseId: caseK,
    phase: 'beeldvorming',
    text: 'Lopend strafrechtelijk onderzoek.',
    visibility: { kind: 'orgs', orgIds: ['org_om' as OrgId] },
  });
  const g = await c.ggz!.cmd('item:add', { caseId: caseK, phase: 'beeldvorming', text: 'In zorg sinds oktober.', visibility: { kind: 'table' } });
  if (!p.ok || !g.ok) throw new Error('items');
  policeItem = p.data.itemId;
  ggzItem = g.data.itemId;
});

afterAll(async () => {
  screen?.close();
  for (const cl of Object.values(c)) cl.close();
  await srv?.close();
});

describe('the room screen (zaalscherm)', () => {
  it('R-ROOM: only the meeting’s chair opens a room screen; partners and other chairs cannot', async () => {
    expect((await c.politie!.http('POST', `/api/meetings/${meeting.id}/screen`)).status).toBe(403);
    expect((await c.regisseur2!.http('POST', `/api/meetings/${meeting.id}/screen`)).status).toBe(403);
    token = await screenToken(c.regisseur!, meeting.id);
  });

  it('R-ROOM: with nobody recorded in the room it shows no case at all', async () => {
    screen = await RoomScreenClient.connect(srv.url, token);
    const v = await screen.waitFor(() => true);
    expect(v).toMatchObject({ meeting: { id: meeting.id, closed: false }, present: [], agenda: [], current: null });
  });

  it('R-ROOM: it shows what everyone in the room may see, and drops an item the moment someone enters who may not', async () => {
    let from = screen.views.length;
    await setRoom(c.regisseur!, meeting.id, ['politie', 'om']);
    let v = await screen.waitFor((x) => x.current !== null, from);
    expect(v.agenda.map((a) => a.caseId)).toEqual([caseK]);
    expect(itemsOf(v).sort()).toEqual([policeItem, ggzItem].sort());
    expect(v.present).toEqual(['OM', 'Politie']);

    // The GGZ walks in: the police item (for the OM alone) leaves; GGZ's own stays.
    from = screen.views.length;
    await setRoom(c.regisseur!, meeting.id, ['politie', 'om', 'ggz']);
    v = await screen.waitFor((x) => !itemsOf(x).includes(policeItem), from);
    expect(itemsOf(v)).toEqual([ggzItem]);
    // It was sent before the chair's request was answered: no later view shows it.
    expect(screen.views.slice(screen.views.indexOf(v)).some((x) => itemsOf(x).includes(policeItem))).toBe(false);
    expect(JSON.stringify(screen.views.slice(from))).not.toContain('strafrechtelijk');

    // The GGZ leaves again: the item returns.
    from = screen.views.length;
    await setRoom(c.regisseur!, meeting.id, ['politie', 'om']);
    v = await screen.waitFor((x) => itemsOf(x).includes(policeItem), from);
  });

  it('R-ROOM: someone whose organisation takes no part in the case takes the whole case off the screen', async () => {
    const from = screen.views.length;
    await setRoom(c.regisseur!, meeting.id, ['politie', 'om', 'woning']);
    const v = await screen.waitFor((x) => x.current === null, from);
    expect(v.agenda).toEqual([]);
    expect(JSON.stringify(v)).not.toContain('Casus K.');
    await setRoom(c.regisseur!, meeting.id, ['politie', 'om']);
    await screen.waitFor((x) => x.current?.caseId === caseK, from);
  });

  it('R-ROOM: a board change reaches the screen as the whole room may see it', async () => {
    const from = screen.views.length;
    // Seen by the OM and the police, both in the room: it appears.
    const r = await c.om!.cmd('item:add', {
      caseId: caseK,
      phase: 'beeldvorming',
      text: 'Voor de politie.',
      visibility: { kind: 'orgs', orgIds: ['org_politie' as OrgId] },
    });
    expect(r.ok).toBe(true);
    await screen.waitFor((x) => x.current?.items.some((i) => i.text === 'Voor de politie.') ?? false, from);
    for (const phase of ['oordelen', 'besluiten'] as const)
      expect(await c.regisseur!.cmd('case:setPhase', { caseId: caseK, phase })).toMatchObject({ ok: true });
    const d = await c.regisseur!.cmd('decision:add', { caseId: caseK, text: 'Gezamenlijk huisbezoek.' });
    expect(d).toMatchObject({ ok: true });
    const v = await screen.waitFor((x) => (x.current?.decisions.length ?? 0) > 0, from);
    expect(v.current!.decisions.map((x) => x.text)).toEqual(['Gezamenlijk huisbezoek.']);

    // R-NEED: a decision the chair let only the OM read shows once the police has left the room.
    const om = { kind: 'orgs', orgIds: ['org_om' as OrgId] } as { kind: 'orgs'; orgIds: OrgId[] };
    expect(await c.regisseur!.cmd('decision:add', { caseId: caseK, text: 'Sepot voorbereiden.', visibility: om })).toMatchObject({ ok: true });
    await setRoom(c.regisseur!, meeting.id, ['om']);
    await screen.waitFor((x) => x.current?.decisions.some((d) => d.text === 'Sepot voorbereiden.') ?? false, from);
    expect(
      screen.views
        .slice(from)
        .filter((x) => x.present.includes('Politie'))
        .some((x) => JSON.stringify(x).includes('Sepot')),
    ).toBe(false);
    await setRoom(c.regisseur!, meeting.id, ['politie', 'om']);
    await screen.waitFor((x) => x.present.includes('Politie') && !(x.current?.decisions.some((d) => d.text === 'Sepot voorbereiden.') ?? true), from);
  });

  it('R-ROOM: a participant marks itself in the room; only the chair records leaving; outsiders do not learn of the meeting', async () => {
    const from = screen.views.length;
    expect((await c.reclassering!.http('POST', `/api/meetings/${meeting.id}/room/me`)).status).toBe(404);
    expect((await c.ggz!.http('POST', `/api/meetings/${meeting.id}/room`, { leave: ['usr_politie'] })).status).toBe(403);
    expect((await c.ggz!.http('GET', `/api/meetings/${meeting.id}/room/me`)).body).toEqual({ inRoom: false });
    expect((await c.ggz!.http('POST', `/api/meetings/${meeting.id}/room/me`)).status).toBe(200);
    expect(srv.app.dir.room(meeting.id)).toContain('usr_ggz');
    expect((await c.ggz!.http('GET', `/api/meetings/${meeting.id}/room/me`)).body).toEqual({ inRoom: true });
    expect((await c.reclassering!.http('GET', `/api/meetings/${meeting.id}/room/me`)).status).toBe(404);
    await screen.waitFor((x) => x.current !== null && !itemsOf(x).includes(policeItem), from);
    await setRoom(c.regisseur!, meeting.id, ['politie', 'om']);
  });

  it('R-ROLE: who is in the room is shown to the meeting’s own chair only', async () => {
    const others = (await c.regisseur2!.http<{ meetings: MeetingView[] }>('GET', '/api/meetings')).body.meetings;
    expect(others.find((m) => m.id === meeting.id)!.room).toEqual([]);
    expect((await c.regisseur2!.http('GET', `/api/meetings/${meeting.id}/room`)).status).toBe(403);
    const own = await c.regisseur!.http<{ room: { userId: string }[] }>('GET', `/api/meetings/${meeting.id}/room`);
    expect(own.body.room.length).toBeGreaterThan(0);
  });

  it('R-ROOM: a leaked link opens no more than a few screens', async () => {
    const extra: RoomScreenClient[] = [];
    try {
      let refused = '';
      for (let i = 0; i < 20 && !refused; i++) {
        try {
          extra.push(await RoomScreenClient.connect(srv.url, token));
        } catch (err) {
          refused = (err as { data?: { code?: string } }).data?.code ?? String(err);
        }
      }
      expect(refused).toBe('RATE_LIMITED');
      expect(extra.length + 1).toBeLessThanOrEqual(8);
    } finally {
      for (const s of extra) s.close();
    }
  });

  it('R-ROOM: the chair records only active people; bad input changes nothing', async () => {
    const before = srv.app.dir.room(meeting.id);
    for (const body of [
      { enter: ['usr_onbekend'] },
      { enter: 'usr_politie' },
      {},
      { enter: [], leave: [] },
      { enter: ['usr_ggz'], leave: ['usr_ggz'] },
      { enter: ['usr_ggz'], extra: 1 },
    ]) {
      const r = await c.regisseur!.http<{ error: { code: string } }>('POST', `/api/meetings/${meeting.id}/room`, body);
      expect({ body, status: r.status, code: r.body.error.code }).toEqual({ body, status: 400, code: 'BAD_REQUEST' });
    }
    expect(srv.app.dir.room(meeting.id)).toEqual(before);
  });

  it('R-ROOM: a screen cannot act, and only a token signed here for an open meeting opens one', async () => {
    const refused = async (t: unknown, headers: Record<string, string> = {}): Promise<string> => {
      try {
        (await RoomScreenClient.connect(srv.url, t, headers)).close();
        return 'connected';
      } catch (err) {
        return (err as { data?: { code?: string } }).data?.code ?? String(err);
      }
    };
    const [body, mac] = token.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), m: 'mt_ander' })).toString('base64url');
    expect(await refused(`${forged}.${mac}`)).toBe('UNAUTHENTICATED');
    expect(await refused(`${body}.${mac.slice(0, -2)}AA`)).toBe('UNAUTHENTICATED');
    expect(await refused(undefined)).toBe('UNAUTHENTICATED');
    expect(await refused('x'.repeat(5000))).toBe('UNAUTHENTICATED');
    // A user's session is no room screen.
    expect(await refused(undefined, { cookie: c.regisseur!.cookie })).toBe('UNAUTHENTICATED');

    const actor = await RoomScreenClient.connect(srv.url, token);
    await actor.waitFor(() => true);
    const ended = actor.ended();
    (actor.socket as unknown as { emit: (e: string, a: unknown) => void }).emit('agenda:end', { caseId: caseK, meetingId: meeting.id });
    await ended;
    expect(srv.app.cases.get(caseK)!.agenda[0]!.state).toBe('running');
  });

  it('R-FILE: what the screen showed is in the access log, in the name of the chair who opened it', async () => {
    await srv.app.access.flush();
    const rows = await srv.app.store.readAccess({ caseId: caseK });
    const room = rows.filter((r) => r.operation === 'room:view');
    expect(room.length).toBeGreaterThan(0);
    expect(new Set(room.map((r) => r.userId))).toEqual(new Set(['usr_regisseur']));
    expect(room.some((r) => r.itemId === policeItem)).toBe(true);
  });

  it('R-ROOM: closing the meeting ends its screens, and the link opens none any more', async () => {
    const ended = screen.ended();
    expect((await c.regisseur!.http('POST', `/api/meetings/${meeting.id}/close`)).status).toBe(200);
    await ended;
    await expect(RoomScreenClient.connect(srv.url, token)).rejects.toMatchObject({ data: { code: 'UNAUTHENTICATED' } });
    expect((await c.regisseur!.http('POST', `/api/meetings/${meeting.id}/room`, { leave: ['usr_politie'] })).status).toBe(409);
    expect((await c.ggz!.http('POST', `/api/meetings/${meeting.id}/room/me`)).status).toBe(409);
  });
});

export type { MeetingId };

import { Router, type Request } from 'express';
import type { Meeting } from '../../shared/domain.js';
import { newId, type MeetingId, type UserId } from '../../shared/ids.js';
import { MAX_ROOM_PEOPLE } from '../../shared/limits.js';
import type { MeetingView, RoomPersonView } from '../../shared/protocol.js';
import { MeetingInputSchema, MeetingUpdateSchema, RoomChangeSchema } from '../../shared/schemas.js';
import { participationOf } from '../../shared/rules/access.js';
import { houseRecord, type AccessLog } from '../audit/accessLog.js';
import { requireRole, requireSession, sessionOf } from '../auth/routes.js';
import type { Sessions } from '../auth/sessions.js';
import type { CaseService } from '../cases/service.js';
import type { Directory } from '../directory/directory.js';
import { HttpError, parseBody } from '../http/errors.js';
import type { Logger } from '../log.js';
import type { RoomTokens } from '../room/tokens.js';
import { houseDay } from '../../shared/day.js';

export interface MeetingDeps {
  dir: Directory;
  sessions: Sessions;
  access: AccessLog;
  cases: CaseService;
  addressOf: (req: Request) => string;
  log: Logger;
  /** Signs room screens' device links (R-ROOM). */
  roomTokens: RoomTokens;
}

/**
 * Planning meetings: when and where a table meets, for the house's chairs. Which cases a meeting
 * discusses is in the cases' own logs (agenda commands), so a partner learns of a meeting only
 * through a case it takes part in (R-ROLE); this API shows no case at all.
 */
export function meetingRoutes(d: MeetingDeps): Router {
  const r = Router();
  r.use(requireSession(d.sessions));
  const person = (userId: UserId): RoomPersonView | undefined => {
    const u = d.dir.user(userId);
    return u && { userId, name: u.displayName, orgId: u.orgId };
  };
  // Who is in a meeting's room tells which organisations take part in its cases: its own chair
  // is shown it (GET /:id/room, and in answers to its own changes), other chairs not.
  const view = (m: Meeting, withRoom = false): MeetingView => ({
    ...m,
    chairName: d.dir.nameOf(m.chairUserId),
    room: withRoom ? d.dir.room(m.id).flatMap((id) => person(id) ?? []) : [],
  });
  const audit = (req: Request, action: 'create' | 'update', operation: string): void =>
    d.access.record(houseRecord({ viewer: sessionOf(req.res!).viewer, address: d.addressOf(req) }, action, operation, 'overleg plannen'));
  const closed = (): HttpError => new HttpError(409, 'CONFLICT', 'Dit overleg is gesloten.');

  /** The meeting, to one who takes part in a case on its agenda or chairs it; to anyone else it does not exist. */
  const known = (req: Request): Meeting => {
    const me = sessionOf(req.res!).viewer;
    const m = d.dir.meeting(req.params.id as MeetingId);
    const takesPart = (id: MeetingId): boolean =>
      [...d.cases.all()].some((c) => c.agenda.some((a) => a.meetingId === id) && participationOf(c, me) !== undefined);
    if (!m || (m.chairUserId !== me.userId && !takesPart(m.id))) throw new HttpError(404, 'NOT_FOUND');
    return m;
  };
  r.get('/:id/room/me', (req, res) => {
    const m = known(req);
    res.json({ inRoom: d.dir.room(m.id).includes(sessionOf(res).viewer.userId) });
  });
  // R-ROOM: a participant who joins in the room says so. Only to be added: leaving is recorded by
  // the chair, or someone still in the room could widen the room screen to what others may see.
  r.post('/:id/room/me', async (req, res) => {
    const me = sessionOf(res).viewer;
    const m = known(req);
    if (m.closedAt !== null) throw closed();
    const room = d.dir.room(m.id);
    if (!room.includes(me.userId)) {
      if (room.length >= MAX_ROOM_PEOPLE) throw new HttpError(409, 'CONFLICT', 'Er staan al te veel mensen in de zaal.');
      if (!(await d.dir.changeRoom(m.id, { enter: [me.userId], leave: [] }))) throw closed();
      audit(req, 'update', `meeting:room-enter ${m.id}`);
    }
    res.json({ inRoom: true });
  });

  r.use(requireRole('chair'));
  /** A meeting its chair may change: planned by the one asking, not yet closed. */
  const own = (req: Request): Meeting => {
    const m = d.dir.meeting(req.params.id as MeetingId);
    if (!m) throw new HttpError(404, 'NOT_FOUND');
    if (m.chairUserId !== sessionOf(req.res!).viewer.userId) throw new HttpError(403, 'FORBIDDEN', 'Alleen de voorzitter van dit overleg kan het wijzigen.');
    if (m.closedAt !== null) throw closed();
    return m;
  };

  // Those of the last month and after: enough to plan with, not the house's whole history.
  r.get('/', (_req, res) => {
    const since = houseDay(-31);
    const meetings = d.dir
      .allMeetings()
      .filter((m) => m.date >= since)
      .map((m) => view(m))
      .sort((a, b) => (a.date + a.startTime).localeCompare(b.date + b.startTime));
    res.json({ meetings });
  });

  r.post('/', async (req, res) => {
    const input = parseBody(MeetingInputSchema, req.body);
    if (!d.dir.table(input.tableId)) throw new HttpError(400, 'BAD_REQUEST', 'Deze tafel bestaat niet.');
    const m: Meeting = {
      id: newId<MeetingId>('mt'),
      ...input,
      chairUserId: sessionOf(res).viewer.userId,
      closedAt: null,
      createdAt: new Date().toISOString(),
    };
    await d.dir.putMeeting(m);
    audit(req, 'create', `meeting:create ${m.id}`);
    res.status(201).json({ meeting: view(m) });
  });

  r.patch('/:id', async (req, res) => {
    const input = parseBody(MeetingUpdateSchema, req.body);
    const m: Meeting = { ...own(req), ...input };
    if (m.startTime >= m.endTime) throw new HttpError(400, 'BAD_REQUEST', 'Het overleg eindigt voor het begint.');
    if (m.place === '' && m.onlineUrl === null) throw new HttpError(400, 'BAD_REQUEST', 'Geef een plaats of een link voor online deelname.');
    if (!(await d.dir.putMeeting(m))) throw closed();
    audit(req, 'update', `meeting:update ${m.id} ${Object.keys(input).sort().join(',')}`);
    res.json({ meeting: view(m) });
  });

  // Closing ends the afternoon: no case of it is discussed any more, and one still under
  // discussion ends now (R-TAKEHOME). Whether there was one is not said: it may be a case the
  // meeting's chair does not take part in (R-ROLE). Other processes end what they began meanwhile
  // as they hear of the closing (app.ts).
  r.post('/:id/close', async (req, res) => {
    const m = own(req);
    const closedNow: Meeting = { ...m, closedAt: new Date().toISOString() };
    if (!(await d.dir.putMeeting(closedNow))) throw closed();
    audit(req, 'update', `meeting:close ${m.id}`);
    // The closing is committed: its answer says so. Should ending what runs fail now (the store
    // away), the sweep of stale meetings ends it (server/meetings/discussions.ts).
    await d.cases.endDiscussionsIn(m.id, { viewer: sessionOf(res).viewer, address: d.addressOf(req) }).catch((err: unknown) => {
      d.log.warn({ err: (err as Error).message, meetingId: m.id }, 'ending the discussions of a closed meeting failed; the sweep will');
    });
    res.json({ meeting: view(closedNow) });
  });

  // R-ROOM: who is in the room, and whom the chair may expect there: the people named in the
  // meeting's cases that the chair takes part in (R-ROLE: no others' participants).
  r.get('/:id/room', (req, res) => {
    const m = own(req);
    const me = sessionOf(res).viewer;
    const named = new Set<UserId>();
    for (const c of d.cases.all())
      if (c.agenda.some((a) => a.meetingId === m.id) && participationOf(c, me)) for (const p of c.participants) for (const u of p.userIds) named.add(u);
    res.json({ room: view(m, true).room, expected: [...named].flatMap((id) => person(id) ?? []) });
  });

  // R-ROOM: the chair records who is in the room; the room screen narrows before this answers.
  // Changes, not a list: someone who marks themselves in meanwhile is not written out.
  r.post('/:id/room', async (req, res) => {
    const change = parseBody(RoomChangeSchema, req.body);
    const m = own(req);
    if (change.enter.some((id) => !d.dir.user(id)?.active)) throw new HttpError(400, 'BAD_REQUEST', 'Iemand in deze lijst is geen actieve gebruiker.');
    if (new Set([...d.dir.room(m.id), ...change.enter]).size > MAX_ROOM_PEOPLE) throw new HttpError(409, 'CONFLICT', 'Er staan al te veel mensen in de zaal.');
    if (!(await d.dir.changeRoom(m.id, change))) throw closed();
    audit(req, 'update', `meeting:room ${m.id}`);
    res.json({ meeting: view(d.dir.meeting(m.id)!, true) });
  });

  // R-ROOM: a device link for the room screen, valid for the meeting's day (server/room/).
  r.post('/:id/screen', (req, res) => {
    const m = own(req);
    if (m.date < d.dir.today()) throw new HttpError(409, 'CONFLICT', 'Dit overleg is voorbij.');
    audit(req, 'create', `meeting:screen ${m.id}`);
    res.status(201).json({ token: d.roomTokens.issue(m.id, sessionOf(res).viewer.userId) });
  });

  return r;
}

import { Router, type Request } from 'express';
import type { Meeting } from '../../shared/domain.js';
import { newId, type MeetingId } from '../../shared/ids.js';
import type { MeetingView } from '../../shared/protocol.js';
import { MeetingInputSchema, MeetingUpdateSchema } from '../../shared/schemas.js';
import { houseRecord, type AccessLog } from '../audit/accessLog.js';
import { requireRole, requireSession, sessionOf } from '../auth/routes.js';
import type { Sessions } from '../auth/sessions.js';
import type { CaseService } from '../cases/service.js';
import type { Directory } from '../directory/directory.js';
import { HttpError, parseBody } from '../http/errors.js';
import type { Logger } from '../log.js';
import { houseDay } from './day.js';

export interface MeetingDeps {
  dir: Directory;
  sessions: Sessions;
  access: AccessLog;
  cases: CaseService;
  addressOf: (req: Request) => string;
  log: Logger;
}

/**
 * Planning meetings: when and where a table meets, for the house's chairs. Which cases a meeting
 * discusses is in the cases' own logs (agenda commands), so a partner learns of a meeting only
 * through a case it takes part in (R-ROLE); this API shows no case at all.
 */
export function meetingRoutes(d: MeetingDeps): Router {
  const r = Router();
  r.use(requireSession(d.sessions), requireRole('chair'));
  const view = (m: Meeting): MeetingView => ({ ...m, chairName: d.dir.nameOf(m.chairUserId) });
  const audit = (req: Request, action: 'create' | 'update', operation: string): void =>
    d.access.record(houseRecord({ viewer: sessionOf(req.res!).viewer, address: d.addressOf(req) }, action, operation, 'overleg plannen'));
  const closed = (): HttpError => new HttpError(409, 'CONFLICT', 'Dit overleg is gesloten.');
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
      .map(view)
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

  return r;
}

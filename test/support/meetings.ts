import type { CaseRole } from '../../shared/domain.js';
import type { CaseId, MeetingId, OrgId, TableId, UserId } from '../../shared/ids.js';
import type { CaseMetaView, MeetingView } from '../../shared/protocol.js';
import type { CommandInput } from '../../shared/schemas.js';
import { houseDay } from '../../shared/day.js';
import type { TestClient } from './client.js';

/** A case at a table, created by this chair with these seats: [organisation, role, usernames], about these persons. */
export async function createCase(
  chair: TestClient,
  title: string,
  seats: [org: string, role: CaseRole, ...users: string[]][],
  tableId = 'tbl_topx',
  persons: CommandInput<'case:create'>['persons'] = [{ name: 'Betrokkene', birthDate: '1990-01-01' }],
): Promise<CaseId> {
  const created = await chair.cmd('case:create', {
    tableId: tableId as TableId,
    title,
    subjectNote: '',
    goal: 'Overlast stoppen.',
    participants: seats.map(([org, role, ...users]) => ({ orgId: `org_${org}` as OrgId, role, userIds: users.map((u) => `usr_${u}` as UserId) })),
    persons,
    informDueDate: '2026-12-31',
  });
  if (!created.ok) throw new Error(`${chair.username} create case: ${created.error.code} ${created.error.message}`);
  return created.data.caseId;
}

/** A meeting of a table, planned by this chair over the HTTP API, today from 09:00 to 17:00. */
export async function planMeeting(chair: TestClient, tableId = 'tbl_topx', extra: Record<string, unknown> = {}): Promise<MeetingView> {
  const r = await chair.http<{ meeting: MeetingView }>('POST', '/api/meetings', {
    tableId,
    date: houseDay(),
    startTime: '09:00',
    endTime: '17:00',
    place: 'Zaal 1',
    onlineUrl: null,
    ...extra,
  });
  if (r.status !== 201) throw new Error(`${chair.username} plan meeting: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.meeting;
}

async function ok(chair: TestClient, p: Promise<{ ok: boolean; error?: { code: string; message: string } }>, what: string): Promise<void> {
  const r = await p;
  if (!r.ok) throw new Error(`${chair.username} ${what}: ${r.error!.code} ${r.error!.message}`);
}

/**
 * Puts a case on a meeting's agenda (one the chair plans for it when none is given) and begins its
 * discussion: the case is open for discussion until `endDiscussion`.
 */
export async function discuss(chair: TestClient, caseId: CaseId, meetingId?: MeetingId, tableId = 'tbl_topx'): Promise<MeetingId> {
  const m = meetingId ?? (await planMeeting(chair, tableId)).id;
  const scheduled = await chair.cmd('agenda:schedule', { caseId, meetingId: m, start: '09:00', end: '09:30' });
  // Already on it (and discussed before): it is discussed again.
  if (!scheduled.ok && !/al besproken/.test(scheduled.error.message))
    throw new Error(`${chair.username} schedule: ${scheduled.error.code} ${scheduled.error.message}`);
  await ok(chair, chair.cmd('agenda:begin', { caseId, meetingId: m }), 'begin');
  return m;
}

/** The meeting in which a case is under discussion now (the demo cases R. and B. are, from the seed on). */
export function runningIn(meta: CaseMetaView): MeetingId {
  const m = meta.agenda.find((a) => a.state === 'running')?.meetingId;
  if (!m) throw new Error(`${meta.title} is not under discussion`);
  return m;
}

/** Ends the discussion of a case in that meeting: the take-home scoping (R-TAKEHOME) applies. */
export function endDiscussion(chair: TestClient, caseId: CaseId, meetingId: MeetingId): Promise<void> {
  return ok(chair, chair.cmd('agenda:end', { caseId, meetingId }), 'end');
}

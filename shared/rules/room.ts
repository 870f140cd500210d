import { phaseIndex, type CaseState, type Meeting, type Viewer } from '../domain.js';
import type { MeetingId, OrgId, UserId } from '../ids.js';
import type { RoomAgendaEntry, RoomCaseView, RoomView } from '../protocol.js';
import { maySeeCase, maySeeDecision, maySeeIntervention, maySeeItem } from './access.js';

/** What a room projection looks up: people as viewers (undefined: unknown or inactive), names. */
export interface RoomLookup {
  viewerOf(userId: UserId): Viewer | undefined;
  nameOf(userId: string): string;
  orgName(orgId: OrgId): string;
}

/**
 * R-ROOM: the room may see something when every person recorded in it may, by the one read rule.
 * An empty room sees nothing (nobody to ask), and a person the house no longer knows sees nothing.
 */
export function roomMay(present: readonly (Viewer | undefined)[], may: (viewer: Viewer) => boolean): boolean {
  return present.length > 0 && present.every((v) => v !== undefined && may(v));
}

function projectRoomCase(c: CaseState, present: readonly (Viewer | undefined)[], look: RoomLookup): RoomCaseView {
  const items = [...c.items.values()]
    .filter((item) => roomMay(present, (v) => maySeeItem(c, item, v)))
    .sort((a, b) => phaseIndex(a.phase) - phaseIndex(b.phase) || a.createdAt.localeCompare(b.createdAt));
  return {
    caseId: c.id,
    title: c.title,
    goal: c.goal.text,
    phase: c.phase,
    items: items.map((i) => ({ id: i.id, orgName: look.orgName(i.orgId), phase: i.phase, text: i.text })),
    decisions: c.decisions.filter((d) => roomMay(present, (v) => maySeeDecision(c, d, v))).map((d) => ({ id: d.id, text: d.text })),
    interventions: c.interventions
      .filter((i) => roomMay(present, (v) => maySeeIntervention(c, i, v)))
      .map((i) => ({ id: i.id, what: i.what, orgName: look.orgName(i.orgId), dueDate: i.dueDate })),
  };
}

/**
 * R-ROOM: a meeting's room screen, from the cases on its agenda: the slots of those the whole room
 * may see, and the one under discussion when the whole room may see it.
 */
export function projectRoom(m: Meeting, roomUserIds: readonly UserId[], cases: Iterable<CaseState>, look: RoomLookup): RoomView {
  const present = roomUserIds.map((id) => look.viewerOf(id));
  const agenda: RoomAgendaEntry[] = [];
  let running: { c: CaseState; start: string } | null = null;
  const closed = m.closedAt !== null;
  for (const c of cases) {
    const slot = c.agenda.find((a) => a.meetingId === m.id);
    if (closed || !slot || !roomMay(present, (v) => maySeeCase(c, v))) continue;
    agenda.push({ caseId: c.id, title: c.title, start: slot.start, end: slot.end, state: slot.state });
    // Cases are discussed one at a time; should two run, the earlier slot is shown.
    if (slot.state === 'running' && (running === null || slot.start < running.start)) running = { c, start: slot.start };
  }
  agenda.sort((a, b) => a.start.localeCompare(b.start) || a.caseId.localeCompare(b.caseId));
  const orgNames = new Set(present.flatMap((v) => (v ? [look.orgName(v.orgId)] : [])));
  return {
    meeting: { id: m.id, date: m.date, place: m.place, chairName: look.nameOf(m.chairUserId), closed },
    present: [...orgNames].sort((a, b) => a.localeCompare(b, 'nl')),
    agenda,
    current: running && projectRoomCase(running.c, present, look),
  };
}

/** The meetings a case is on the agenda of, before or after a change (a case taken off must leave the screen). */
export function meetingsOf(...states: (CaseState | null)[]): Set<MeetingId> {
  const out = new Set<MeetingId>();
  for (const c of states) for (const a of c?.agenda ?? []) out.add(a.meetingId);
  return out;
}

import type { AgendaEntry, CaseState, Meeting, Viewer } from '../../../shared/domain.js';
import type { AppError } from '../../../shared/errors.js';
import { newId, type MeetingId } from '../../../shared/ids.js';
import { MAX_AGENDA_ENTRIES_PER_CASE } from '../../../shared/limits.js';
import type { DirectoryLookup } from '../../../shared/rules/commands.js';
import { bad, chairOnly, defineCommand } from './define.js';

// The agenda: a case is discussed in a meeting of its table, in a slot of that meeting, and is
// open for discussion only while that slot runs (R-TAKEHOME: once it ends, every organisation
// keeps only its own items and what it may take home).

const entryOf = (c: CaseState, meetingId: MeetingId): AgendaEntry | undefined => c.agenda.find((a) => a.meetingId === meetingId);

/** A meeting of the case's table that still takes cases, with the slot inside its times. */
function slotIn(c: CaseState, dir: DirectoryLookup, input: { meetingId: MeetingId; start: string; end: string }): AppError | null {
  const m = dir.meeting(input.meetingId);
  if (!m || m.tableId !== c.tableId) return bad('Dit overleg bestaat niet of hoort bij een andere tafel.');
  if (m.closedAt !== null) return bad('Dit overleg is gesloten.');
  if (input.start < m.startTime || input.end > m.endTime) return bad(`Het tijdslot moet binnen het overleg vallen (${m.startTime}–${m.endTime}).`);
  const existing = entryOf(c, input.meetingId);
  if (existing && existing.state !== 'planned') return bad('Deze casus is in dit overleg al besproken.');
  if (!existing && c.agenda.length >= MAX_AGENDA_ENTRIES_PER_CASE) return bad('Deze casus staat al op te veel agenda’s.');
  return null;
}

/** A slot that is still to come: it can be moved or taken off. */
function plannedEntry(c: CaseState, meetingId: MeetingId): AppError | null {
  const e = entryOf(c, meetingId);
  if (!e) return bad('Deze casus staat niet op de agenda van dit overleg.');
  if (e.state === 'running') return bad('Deze casus wordt nu besproken.');
  if (e.state === 'done') return bad('Deze casus is in dit overleg al besproken.');
  return null;
}

/** A case is discussed only in a meeting held today, not closed (R-TAKEHOME: no opening at will). */
function heldToday(m: Meeting | undefined, dir: DirectoryLookup): AppError | null {
  if (!m) return bad('Dit overleg bestaat niet.');
  if (m.closedAt !== null) return bad('Dit overleg is gesloten.');
  if (m.date !== dir.today()) return bad('Een casus wordt besproken op de dag van het overleg.');
  return null;
}

const chairThen = (c: CaseState, viewer: Viewer, rest: () => AppError | null): AppError | null => chairOnly(c, viewer) ?? rest();

export const agendaCommands = {
  'agenda:schedule': defineCommand('agenda:schedule', {
    names: ['caseId'],
    action: 'update',
    authorize: (input, c, viewer, dir) => chairThen(c, viewer, () => slotIn(c, dir, input)),
    decide: ({ meetingId, start, end }) => ({
      events: [{ type: 'case.agendaScheduled', payload: { meetingId, start, end, minutesDocId: newId('doc') } }],
      data: null,
    }),
  }),

  'agenda:unschedule': defineCommand('agenda:unschedule', {
    names: ['caseId'],
    action: 'update',
    authorize: (input, c, viewer) => chairThen(c, viewer, () => plannedEntry(c, input.meetingId)),
    decide: ({ meetingId }) => ({ events: [{ type: 'case.agendaUnscheduled', payload: { meetingId } }], data: null }),
  }),

  'agenda:move': defineCommand('agenda:move', {
    names: ['caseId'],
    action: 'update',
    authorize: (input, c, viewer, dir) => chairThen(c, viewer, () => plannedEntry(c, input.fromMeetingId) ?? slotIn(c, dir, input)),
    decide: ({ fromMeetingId, meetingId, start, end }) => ({
      events: [
        { type: 'case.agendaUnscheduled', payload: { meetingId: fromMeetingId } },
        { type: 'case.agendaScheduled', payload: { meetingId, start, end, minutesDocId: newId('doc') } },
      ],
      data: null,
    }),
  }),

  'agenda:begin': defineCommand('agenda:begin', {
    names: ['caseId'],
    action: 'update',
    authorize: (input, c, viewer, dir) =>
      chairThen(c, viewer, () => {
        const e = entryOf(c, input.meetingId);
        if (!e) return bad('Deze casus staat niet op de agenda van dit overleg.');
        if (c.meetingOpen) return bad(e.state === 'running' ? 'Deze casus wordt al besproken.' : 'Deze casus wordt al in een ander overleg besproken.');
        return heldToday(dir.meeting(input.meetingId), dir);
      }),
    decide: ({ meetingId }) => ({ events: [{ type: 'case.discussionBegan', payload: { meetingId } }], data: null }),
  }),

  'agenda:end': defineCommand('agenda:end', {
    names: ['caseId'],
    action: 'update',
    authorize: (input, c, viewer) =>
      chairThen(c, viewer, () => (entryOf(c, input.meetingId)?.state === 'running' ? null : bad('Deze casus wordt in dit overleg niet besproken.'))),
    decide: ({ meetingId }) => ({ events: [{ type: 'case.discussionEnded', payload: { meetingId } }], data: null }),
  }),
};

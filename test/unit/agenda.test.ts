import { describe, expect, it } from 'vitest';
import type { CaseState } from '../../shared/domain.js';
import type { CaseId, MeetingId, PersonId, UserId } from '../../shared/ids.js';
import { maySeeItem } from '../../shared/rules/access.js';
import { summarise } from '../../shared/rules/projection.js';
import { CommandSchemas, type CommandInput } from '../../shared/schemas.js';
import { applyEvent, type CaseEvent } from '../../server/cases/events.js';
import { authorizeCaseCommand, caseCommand } from '../../server/cases/commands/index.js';
import { caseState, dir, item, look, U } from '../support/fixtures.js';

// The agenda: a case is discussed in a slot of a meeting of its table, and is open for discussion
// only while that slot runs.

const cs = 'cs_1' as CaseId;
const mt = (id: string) => id as MeetingId;
const code = (e: { code: string } | null) => e?.code ?? null;
const meta = { at: 't2', actorUserId: 'chair' as UserId, actorOrgId: 'zvh' as never };
const apply = (c: CaseState, ...events: CaseEvent[]) => events.reduce((s, e) => applyEvent(s, e, meta, s.version + 1), c);
/** The fixture case, not under discussion, with no slots. */
const idle = (extra: Partial<CaseState> = {}) => caseState([item('i1', 'pol'), item('i2', 'ggz')], { agenda: [], meetingOpen: false, ...extra });

describe('R-TAKEHOME: a case is open only while discussed in a meeting', () => {
  it('R-TAKEHOME: a new case starts closed: others’ items reach nobody until it is discussed', () => {
    const created = applyEvent(
      null,
      {
        type: 'case.created',
        payload: {
          caseId: cs,
          tableId: 'tbl' as never,
          title: 'X',
          subjectNote: '',
          goal: 'doel',
          participants: caseState().participants,
          persons: [{ personId: 'prs_1' as PersonId, name: 'P.', birthDate: '1990-01-01', bsn: null, informing: caseState().persons[0]!.informing }],
        },
      },
      meta,
      1,
    );
    expect([created.meetingOpen, created.agenda]).toEqual([false, []]);
    const c = { ...created, items: idle().items };
    expect(maySeeItem(c, c.items.get('i1' as never)!, U.ggz1!)).toBe(false);
    expect(maySeeItem(c, c.items.get('i1' as never)!, U.pol1!)).toBe(true);
  });

  it('R-TAKEHOME: beginning the slot opens the case, ending it closes it again and marks it discussed', () => {
    const planned = apply(idle(), { type: 'case.agendaScheduled', payload: { meetingId: mt('mt_1'), start: '13:00', end: '13:30', minutesDocId: 'doc_m1' } });
    const running = apply(planned, { type: 'case.discussionBegan', payload: { meetingId: mt('mt_1') } });
    expect([running.meetingOpen, running.agenda[0]!.state]).toEqual([true, 'running']);
    expect(maySeeItem(running, running.items.get('i1' as never)!, U.ggz1!)).toBe(true);
    const done = apply(running, { type: 'case.discussionEnded', payload: { meetingId: mt('mt_1') } });
    expect([done.meetingOpen, done.agenda[0]!.state]).toEqual([false, 'done']);
    expect(maySeeItem(done, done.items.get('i1' as never)!, U.ggz1!)).toBe(false);
  });
});

describe('R-ROLE: only the case’s chair plans and runs its slots', () => {
  const run = <N extends 'agenda:schedule' | 'agenda:unschedule' | 'agenda:move' | 'agenda:begin' | 'agenda:end'>(
    name: N,
    input: CommandInput<N>,
    c: CaseState,
    who = U.chair!,
  ) => code(authorizeCaseCommand(name, CommandSchemas[name].parse(input) as CommandInput<N>, c, who, dir));
  const slot = { caseId: cs, meetingId: mt('mt_2'), start: '14:00', end: '14:30' };

  it('R-ROLE: a partner may not plan, begin or end a slot; someone outside the case is told nothing', () => {
    expect(run('agenda:schedule', slot, idle(), U.pol1!)).toBe('FORBIDDEN');
    expect(run('agenda:begin', { caseId: cs, meetingId: mt('mt_1') }, caseState(), U.ggz1!)).toBe('FORBIDDEN');
    expect(run('agenda:end', { caseId: cs, meetingId: mt('mt_1') }, caseState(), U.om1!)).toBe('FORBIDDEN');
    expect(run('agenda:schedule', slot, idle(), U.u1!)).toBe('NOT_FOUND');
    // A chair of the house who does not chair this case.
    expect(run('agenda:schedule', slot, idle(), U.chair2!)).toBe('NOT_FOUND');
  });

  it('a slot is in a meeting of the case’s table that still takes cases, within its times', () => {
    expect(run('agenda:schedule', slot, idle())).toBeNull();
    expect(run('agenda:schedule', { ...slot, meetingId: mt('mt_other') }, idle())).toBe('BAD_REQUEST');
    expect(run('agenda:schedule', { ...slot, meetingId: mt('mt_unknown') }, idle())).toBe('BAD_REQUEST');
    expect(run('agenda:schedule', { ...slot, meetingId: mt('mt_closed') }, idle())).toBe('BAD_REQUEST');
    expect(run('agenda:schedule', { ...slot, start: '12:30', end: '13:15' }, idle())).toBe('BAD_REQUEST');
    expect(run('agenda:schedule', { ...slot, start: '15:45', end: '16:15' }, idle())).toBe('BAD_REQUEST');
    // A slot being discussed, or discussed, stays as it was.
    expect(run('agenda:schedule', { ...slot, meetingId: mt('mt_1') }, caseState())).toBe('BAD_REQUEST');
    expect(() => CommandSchemas['agenda:schedule'].parse({ ...slot, start: '14:30', end: '14:00' })).toThrow();
  });

  it('only a planned slot is moved or taken off; a move is one commit of both', () => {
    expect(run('agenda:unschedule', { caseId: cs, meetingId: mt('mt_1') }, caseState())).toBe('BAD_REQUEST');
    const planned = idle({ agenda: [{ meetingId: mt('mt_1'), start: '13:00', end: '13:30', state: 'planned', minutesDocId: 'doc_mt_1' }] });
    expect(run('agenda:unschedule', { caseId: cs, meetingId: mt('mt_1') }, planned)).toBeNull();
    const move = { caseId: cs, fromMeetingId: mt('mt_1'), meetingId: mt('mt_2'), start: '15:00', end: '15:30' };
    expect(run('agenda:move', move, planned)).toBeNull();
    expect(run('agenda:move', move, caseState())).toBe('BAD_REQUEST');
    const moved = apply(planned, ...caseCommand('agenda:move').decide(move, planned, U.chair!, 't', dir).events);
    expect(moved.agenda).toEqual([{ meetingId: 'mt_2', start: '15:00', end: '15:30', state: 'planned', minutesDocId: expect.stringMatching(/^doc_/) }]);
  });

  it('a slot begins only in a meeting not closed, while the case is not discussed elsewhere; only a running slot ends', () => {
    const planned = idle({ agenda: [{ meetingId: mt('mt_2'), start: '13:00', end: '13:30', state: 'planned', minutesDocId: 'doc_mt_2' }] });
    expect(run('agenda:begin', { caseId: cs, meetingId: mt('mt_2') }, planned)).toBeNull();
    expect(run('agenda:begin', { caseId: cs, meetingId: mt('mt_1') }, planned)).toBe('BAD_REQUEST');
    expect(run('agenda:end', { caseId: cs, meetingId: mt('mt_2') }, planned)).toBe('BAD_REQUEST');
    const both = caseState([], {
      agenda: [...caseState().agenda, { meetingId: mt('mt_2'), start: '14:00', end: '14:30', state: 'planned', minutesDocId: 'doc_mt_2' }],
    });
    expect(run('agenda:begin', { caseId: cs, meetingId: mt('mt_2') }, both)).toBe('BAD_REQUEST');
    expect(run('agenda:end', { caseId: cs, meetingId: mt('mt_1') }, both)).toBeNull();
    const closed = idle({ agenda: [{ meetingId: mt('mt_closed'), start: '13:00', end: '13:30', state: 'planned', minutesDocId: 'doc_mt_closed' }] });
    expect(run('agenda:begin', { caseId: cs, meetingId: mt('mt_closed') }, closed)).toBe('BAD_REQUEST');
    // Not at will: only on the meeting's day.
    const dayBefore = { ...dir, today: () => '2026-12-06' };
    expect(code(authorizeCaseCommand('agenda:begin', { caseId: cs, meetingId: mt('mt_2') }, planned, U.chair!, dayBefore))).toBe('BAD_REQUEST');
  });
});

describe('R-ROLE: the agenda as a participant is shown it', () => {
  it('R-ROLE: a summary carries the case’s own slots with their meetings, nothing else of them', () => {
    const c = caseState([], {
      agenda: [...caseState().agenda, { meetingId: mt('mt_gone'), start: '10:00', end: '10:30', state: 'planned', minutesDocId: 'doc_mt_gone' }],
    });
    const s = summarise(c, U.ggz1!, look, 'cur')!;
    expect(s.agenda).toEqual([
      {
        meetingId: 'mt_1',
        date: '2026-12-07',
        place: 'zaal 1',
        onlineUrl: null,
        chairName: 'naam chair',
        meetingClosed: false,
        start: '13:00',
        end: '13:30',
        state: 'running',
        minutesDocId: 'doc_minutes',
      },
    ]);
    expect(summarise(c, U.pol2!, look, 'cur')).toBeNull();
  });
});

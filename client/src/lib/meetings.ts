import type { MeetingId, TableId } from '../../../shared/ids.js';
import type { AgendaEntryView, CaseSummary } from '../../../shared/protocol.js';
import type { CaseList } from './cases.svelte.js';
import { isPast, todayYmd } from './format.js';

/** One of my cases in a meeting: its slot and what needs attention before it comes up. */
export interface MySlot {
  summary: CaseSummary;
  entry: AgendaEntryView;
}

/** A meeting as this user knows it: from the slots of the cases it takes part in, and only those (R-ROLE). */
export interface MyMeeting {
  meetingId: MeetingId;
  tableId: TableId;
  date: string;
  place: string;
  onlineUrl: string | null;
  chairName: string;
  closed: boolean;
  slots: MySlot[];
  /** The slot of mine under discussion now, if any. */
  running: MySlot | null;
}

const bySlot = (a: MySlot, b: MySlot): number => a.entry.start.localeCompare(b.entry.start) || a.summary.title.localeCompare(b.summary.title, 'nl');

/** "Mijn overleggen": the case list's slots grouped by meeting. Nothing here is fetched: the server sent each slot with its case. */
export function myMeetings(cases: CaseList): MyMeeting[] {
  const byId = new Map<MeetingId, MyMeeting>();
  for (const summary of cases.all) {
    for (const entry of summary.agenda) {
      let m = byId.get(entry.meetingId);
      if (!m) {
        m = {
          meetingId: entry.meetingId,
          tableId: summary.tableId,
          date: entry.date,
          place: entry.place,
          onlineUrl: entry.onlineUrl,
          chairName: entry.chairName,
          closed: entry.meetingClosed,
          slots: [],
          running: null,
        };
        byId.set(entry.meetingId, m);
      }
      const slot = { summary, entry };
      m.slots.push(slot);
      if (entry.state === 'running') m.running = slot;
    }
  }
  for (const m of byId.values()) m.slots.sort(bySlot);
  return [...byId.values()].sort((a, b) => (a.date + a.slots[0]!.entry.start).localeCompare(b.date + b.slots[0]!.entry.start));
}

/** Today's and later meetings that are not closed, and any with a case of mine under discussion. */
export const upcoming = (all: MyMeeting[]): MyMeeting[] => all.filter((m) => m.running !== null || (!m.closed && !isPast(m.date)));

/** What needs attention before a case comes up (R-INFORM, R-OWN, R-GOAL), in words. */
export function attention(s: CaseSummary): string[] {
  const out: string[] = [];
  if (s.informingDue !== null && s.informingDue < todayYmd()) out.push('Informeren betrokkene te laat');
  // R-INFORM: a postponement whose review day passed is to be decided again.
  if (s.informingReview !== null && s.informingReview < todayYmd()) out.push('Uitstel van informeren heroverwegen');
  if (s.awaitingMyAnswer > 0) out.push(s.awaitingMyAnswer === 1 ? '1 vraag om toestemming aan u' : `${s.awaitingMyAnswer} vragen om toestemming aan u`);
  if (s.goalFrozen) out.push('Doel bevroren: wacht op bevestiging');
  return out;
}

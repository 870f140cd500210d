import type { CaseState } from '../../shared/domain.js';
import type { ItemId, MeetingId } from '../../shared/ids.js';
import type { RoomView } from '../../shared/protocol.js';
import { entitledToCase, entitledToItem, type Person } from './oracle.js';

/**
 * R-ROOM, from RULES.md and apart from shared/rules: the room is a viewer whose rights are the
 * intersection of everyone recorded in it. Nobody recorded: nothing of any case.
 */
export function roomEntitledToCase(s: CaseState | null, room: readonly Person[]): boolean {
  return room.length > 0 && room.every((p) => entitledToCase(s, p));
}

export function roomEntitledToItem(s: CaseState | null, itemId: ItemId, room: readonly Person[]): boolean {
  return room.length > 0 && room.every((p) => entitledToItem(s, itemId, p));
}

/** What a room screen of `meetingId` must show of one case: its slot, and its items while it is discussed. */
export function expectedRoomCase(s: CaseState, meetingId: MeetingId, room: readonly Person[]): { listed: boolean; running: boolean; items: ItemId[] } {
  const slot = s.agenda.find((a) => a.meetingId === meetingId);
  if (!slot || !roomEntitledToCase(s, room)) return { listed: false, running: false, items: [] };
  const running = slot.state === 'running';
  const items = running ? [...s.items.keys()].filter((id) => roomEntitledToItem(s, id, room)).sort() : [];
  return { listed: true, running, items };
}

/** The differences between a room view and what the oracle expects of one case in it; none: []. */
export function judgeRoomView(view: RoomView, s: CaseState, meetingId: MeetingId, room: readonly Person[]): string[] {
  const want = expectedRoomCase(s, meetingId, room);
  const problems: string[] = [];
  const listed = view.agenda.some((a) => a.caseId === s.id);
  if (listed !== want.listed) problems.push(`case listed ${listed}, expected ${want.listed}`);
  const current = view.current?.caseId === s.id ? view.current : null;
  if ((current !== null) !== want.running) problems.push(`case shown ${current !== null}, expected ${want.running}`);
  const got = (current?.items.map((i) => i.id) ?? []).sort();
  if (JSON.stringify(got) !== JSON.stringify(want.items)) problems.push(`items ${got.join(',')}, expected ${want.items.join(',')}`);
  // No text of an item the room may not see appears anywhere in the view.
  const json = JSON.stringify(view);
  for (const item of s.items.values())
    if (!want.items.includes(item.id) && item.text.length > 0 && json.includes(JSON.stringify(item.text).slice(1, -1)))
      problems.push(`text of ${item.id} shown`);
  return problems;
}

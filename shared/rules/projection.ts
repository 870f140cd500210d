import type { CaseState, Item, Viewer } from '../domain.js';
import type { CaseSummary, CaseView, ItemView, PatchOp, ParticipantView } from '../protocol.js';
import { isChairOf, maySeeCase, maySeeItem, participationOf } from './access.js';

/** Names of people, resolved by the caller from its directory. */
export type NameOf = (userId: string) => string;

export function projectItem(item: Item, viewer: Viewer, nameOf: NameOf): ItemView {
  return {
    id: item.id,
    orgId: item.orgId,
    authorName: nameOf(item.authorId),
    phase: item.phase,
    text: item.text,
    visibility: item.visibility,
    goalVersion: item.goalVersion,
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
    mine: item.orgId === viewer.orgId,
  };
}

function projectParticipants(c: CaseState, nameOf: NameOf): ParticipantView[] {
  return c.participants.map((p) => ({
    orgId: p.orgId,
    role: p.role,
    people: p.userIds.map((id) => ({ userId: id, name: nameOf(id) })),
  }));
}

/** Case data without items: only for a viewer that may see the case. */
export function projectMeta(c: CaseState, viewer: Viewer, nameOf: NameOf): CaseView['meta'] {
  const me = participationOf(c, viewer);
  if (!me) throw new Error('projectMeta for a viewer outside the case');
  return {
    id: c.id,
    tableId: c.tableId,
    title: c.title,
    subjectNote: c.subjectNote,
    goal: c.goal,
    phase: c.phase,
    participants: projectParticipants(c, nameOf),
    informing: c.informing,
    informingHistory: c.informingHistory.map((d) => ({ ...d, byName: nameOf(d.byUserId) })),
    myRole: me.role,
    iAmChair: isChairOf(c, viewer),
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

/** The whole case as this viewer may see it, or null when it may see nothing of it. */
export function projectCase(c: CaseState, viewer: Viewer, nameOf: NameOf, cursor: string): CaseView | null {
  if (!maySeeCase(c, viewer)) return null;
  const items: ItemView[] = [];
  for (const item of c.items.values()) {
    if (maySeeItem(c, item, viewer)) items.push(projectItem(item, viewer, nameOf));
  }
  return { cursor, meta: projectMeta(c, viewer, nameOf), items };
}

export function summarise(c: CaseState, viewer: Viewer, cursor: string): CaseSummary | null {
  const me = participationOf(c, viewer);
  if (!me) return null;
  return {
    id: c.id,
    cursor,
    tableId: c.tableId,
    title: c.title,
    phase: c.phase,
    myRole: me.role,
    informingOpen: c.informing.status !== 'done',
    updatedAt: c.updatedAt,
  };
}

/** What changed between two states of one case, for one viewer. */
export interface Touched {
  meta: boolean;
  items: Iterable<Item['id']>;
}

/**
 * The patch one viewer receives for a change from `before` to `after`. It carries only what the
 * viewer may see in `after`, and removes what it could see in `before` but no longer can.
 */
export function deltaFor(
  before: CaseState | null,
  after: CaseState,
  touched: Touched,
  viewer: Viewer,
  nameOf: NameOf,
  cursor: string,
): PatchOp[] {
  const sawCase = before !== null && maySeeCase(before, viewer);
  const seesCase = maySeeCase(after, viewer);
  if (!seesCase) return sawCase ? [{ op: 'revoked' }] : [];
  if (!sawCase) {
    const view = projectCase(after, viewer, nameOf, cursor);
    return view ? [{ op: 'snapshot', view }] : [];
  }
  const ops: PatchOp[] = [];
  if (touched.meta) ops.push({ op: 'meta', meta: projectMeta(after, viewer, nameOf) });
  // Participation changes can change every item's visibility for this viewer.
  const ids = touched.meta ? after.items.keys() : touched.items;
  for (const id of ids) {
    const now = after.items.get(id);
    const then = before.items.get(id);
    const sees = now !== undefined && maySeeItem(after, now, viewer);
    const saw = then !== undefined && maySeeItem(before, then, viewer);
    if (sees) {
      if (!saw || then !== now) ops.push({ op: 'item', item: projectItem(now, viewer, nameOf) });
    } else if (saw) {
      ops.push({ op: 'itemRemoved', itemId: id });
    }
  }
  return ops;
}

import type { CaseState, Item, Participant, Viewer } from '../domain.js';

/**
 * The one authorisation function for reading (R-ROLE, R-NEED). Everything that carries case data
 * to a user — board patches, case lists, presence, errors, access-log views — asks here first.
 */

/** R-ROLE: the viewer's participation, when its organisation takes part and it is named. */
export function participationOf(c: CaseState, viewer: Viewer): Participant | undefined {
  const p = c.participants.find((x) => x.orgId === viewer.orgId);
  return p && p.userIds.includes(viewer.userId) ? p : undefined;
}

/** R-ROLE: nobody outside the case's list receives anything of it. */
export function maySeeCase(c: CaseState, viewer: Viewer): boolean {
  return participationOf(c, viewer) !== undefined;
}

/** R-NEED + R-OWN: an active item, seen by its contributor and by whom the contributor chose. */
export function maySeeItem(c: CaseState, item: Item, viewer: Viewer): boolean {
  if (!maySeeCase(c, viewer)) return false;
  if (item.status !== 'active') return false;
  if (item.orgId === viewer.orgId) return true;
  return item.visibility.kind === 'table' || item.visibility.orgIds.includes(viewer.orgId);
}

/** R-BOB: the chair of a case is a house chair taking part in it as voorzitter. */
export function isChairOf(c: CaseState, viewer: Viewer): boolean {
  return viewer.roles.includes('chair') && participationOf(c, viewer)?.role === 'voorzitter';
}

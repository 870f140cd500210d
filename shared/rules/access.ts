import type { CaseState, ConsentRequest, Decision, Informing, Intervention, Item, Participant, Viewer, Visibility } from '../domain.js';
import type { ItemId, MeetingId, OrgId } from '../ids.js';

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

/** R-NEED: whether a visibility names an organisation (the whole table names every one). */
export const names = (v: Visibility, orgId: OrgId): boolean => v.kind === 'table' || v.orgIds.includes(orgId);

/** R-NEED: whom the contributor chose, leaving aside freezes and the end of the meeting. */
export function chosenToSee(item: Item, orgId: OrgId): boolean {
  return item.orgId === orgId || names(item.visibility, orgId);
}

/** The contributor's latest answer on one item of a request. */
export function latestAnswer(r: ConsentRequest, itemId: ItemId): ConsentRequest['answers'][number] | undefined {
  for (let i = r.answers.length - 1; i >= 0; i--) if (r.answers[i]!.itemId === itemId) return r.answers[i];
  return undefined;
}

/**
 * R-REUSE + R-TAKEHOME: what an organisation may keep using after the meeting: items the
 * contributor said yes to, for its reuse request or for one of its own interventions.
 */
export function mayTakeHome(c: CaseState, itemId: ItemId, orgId: OrgId): boolean {
  for (const r of c.consents.values()) {
    if (r.forOrgId !== orgId || r.closed || !r.itemIds.includes(itemId)) continue;
    if (r.kind === 'takehome' || r.kind === 'reuse') {
      if (latestAnswer(r, itemId)?.answer === 'yes') return true;
    }
  }
  return false;
}

/**
 * R-NEED, R-OWN, R-GOAL, R-TAKEHOME, R-RETAIN: an active item is seen by its contributor always;
 * by others only when the contributor chose them, no goal change has put it out of use, the case
 * is not closed, and — once the meeting has ended — they may take it home.
 */
export function maySeeItem(c: CaseState, item: Item, viewer: Viewer): boolean {
  if (!maySeeCase(c, viewer)) return false;
  if (item.status !== 'active') return false;
  if (item.orgId === viewer.orgId) return true;
  // R-RETAIN: once closed, each keeps only its own contributions; take-home grants end.
  if (c.closure) return false;
  // R-OWN: an organisation that left the table can no longer control its items, so nobody sees them.
  if (!c.participants.some((p) => p.orgId === item.orgId)) return false;
  if (c.goalProposal !== null) return false;
  if (!chosenToSee(item, viewer.orgId)) return false;
  return c.meetingOpen || mayTakeHome(c, item.id, viewer.orgId);
}

/**
 * R-NEED: the ground of a postponed informing (a criminal investigation, someone's safety) is read
 * by the organisations it names, the one that recorded it and the case's chair.
 */
export function mayReadGround(c: CaseState, i: Informing, byOrgId: OrgId | null, viewer: Viewer): boolean {
  const v = i.groundVisibility;
  if (!maySeeCase(c, viewer)) return false;
  return v === null || v.kind === 'table' || v.orgIds.includes(viewer.orgId) || byOrgId === viewer.orgId || isChairOf(c, viewer);
}

/** R-BOB: the chair of a case is a house chair taking part in it as voorzitter. */
export function isChairOf(c: CaseState, viewer: Viewer): boolean {
  return viewer.roles.includes('chair') && participationOf(c, viewer)?.role === 'voorzitter';
}

/**
 * R-OWN: the items of a request this viewer is shown: those it may see; the asking organisation
 * also the ones it lost, though not what became of them (R-NEED). None: the request is hidden.
 */
export function requestItemsSeen(c: CaseState, r: ConsentRequest, viewer: Viewer): ItemId[] {
  if (!maySeeCase(c, viewer)) return [];
  const asker = r.kind !== 'goal' && r.forOrgId === viewer.orgId;
  return r.itemIds.filter((id) => {
    const item = c.items.get(id);
    return item !== undefined && (asker || maySeeItem(c, item, viewer));
  });
}

/** R-NEED: a decision is read by the organisations the chair let read it, the one that wrote it and the chair. */
export function maySeeDecision(c: CaseState, d: Decision, viewer: Viewer): boolean {
  return maySeeCase(c, viewer) && (names(d.visibility, viewer.orgId) || d.byOrgId === viewer.orgId || isChairOf(c, viewer));
}

/**
 * R-NEED: whom an intervention's restriction lets read it, leaving aside the end of the meeting:
 * those it names, the one that wrote it, its executor and the chair.
 */
export function chosenForIntervention(c: CaseState, i: Intervention, viewer: Viewer): boolean {
  return names(i.visibility, viewer.orgId) || i.byOrgId === viewer.orgId || i.orgId === viewer.orgId || isChairOf(c, viewer);
}

/**
 * R-TAKEHOME + R-NEED: an intervention is read by the organisation that carries it out and by the
 * chair (who keeps the plan); by the one that wrote it and those the chair let read it only while
 * the case is discussed.
 */
export function maySeeIntervention(c: CaseState, i: Intervention, viewer: Viewer): boolean {
  if (!maySeeCase(c, viewer)) return false;
  if (isChairOf(c, viewer) || i.orgId === viewer.orgId) return true;
  return c.meetingOpen && (names(i.visibility, viewer.orgId) || i.byOrgId === viewer.orgId);
}

/** What a co-editing document belongs to. */
export type DocTarget = { kind: 'item'; itemId: ItemId } | { kind: 'minutes'; meetingId: MeetingId };

/**
 * Co-editing, by the same rules as the board: an item's text is written by its contributing
 * organisation and read, live, by whoever may see the item; the minutes of a discussion (one per
 * agenda slot) are written by the participants while it runs, and are then the house's file
 * (R-TAKEHOME): read by the house's seat at the case (its chair) only.
 */
export function docAccess(c: CaseState, target: DocTarget, viewer: Viewer): 'write' | 'read' | 'none' {
  if (target.kind === 'minutes') {
    const me = participationOf(c, viewer);
    const slot = c.agenda.find((a) => a.meetingId === target.meetingId);
    if (!me || !slot) return 'none';
    if (slot.state === 'running') return 'write';
    return me.role === 'voorzitter' ? 'read' : 'none';
  }
  const item = c.items.get(target.itemId);
  if (!item || !maySeeItem(c, item, viewer)) return 'none';
  // R-RETAIN: a closed case's texts are kept as they are, until purged.
  return item.orgId === viewer.orgId && !c.closure ? 'write' : 'read';
}

import type { CaseState, ConsentRequest, Informing, Item, Meeting, Viewer } from '../domain.js';
import type { MeetingId, OrgId } from '../ids.js';
import type { AgendaEntryView, CasePersonView, CaseSummary, CaseView, ConsentView, GoalProgress, ItemView, PatchOp, ParticipantView } from '../protocol.js';
import {
  chosenForIntervention,
  chosenToSee,
  docAccess,
  isChairOf,
  mayReadGround,
  latestAnswer,
  maySeeCase,
  maySeeDecision,
  maySeeIntervention,
  maySeeItem,
  participationOf,
  requestItemsSeen,
} from './access.js';

/** Names of people, resolved by the caller from its directory. */
export type NameOf = (userId: string) => string;

/** What a projection looks up in the caller's directory: people's names and meetings. */
export interface Lookup {
  readonly nameOf: NameOf;
  meeting(id: MeetingId): Meeting | undefined;
}

/**
 * R-ROLE: the case's own slots, each with its meeting's day and place; nothing of the meeting's
 * other cases, nor its start and end (the gaps would tell of them). A slot whose meeting is gone
 * from the directory is left out.
 */
export function projectAgenda(c: CaseState, viewer: Viewer, look: Lookup): AgendaEntryView[] {
  const out: AgendaEntryView[] = [];
  for (const e of c.agenda) {
    const m = look.meeting(e.meetingId);
    if (!m) continue;
    out.push({
      meetingId: m.id,
      date: m.date,
      place: m.place,
      onlineUrl: m.onlineUrl,
      chairName: look.nameOf(m.chairUserId),
      meetingClosed: m.closedAt !== null,
      start: e.start,
      end: e.end,
      state: e.state,
      minutesDocId: docAccess(c, { kind: 'minutes', meetingId: e.meetingId }, viewer) === 'none' ? null : e.minutesDocId,
    });
  }
  return out;
}

export function projectItem(item: Item, viewer: Viewer, nameOf: NameOf): ItemView {
  return {
    id: item.id,
    orgId: item.orgId,
    authorName: nameOf(item.authorId),
    phase: item.phase,
    text: item.text,
    visibility: item.visibility,
    goalVersion: item.goalVersion,
    textDocId: item.textDocId,
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
    mine: item.orgId === viewer.orgId,
    restrictedOn: item.orgId === viewer.orgId ? (item.restriction?.ground ?? null) : null,
  };
}

function projectParticipants(c: CaseState, nameOf: NameOf): ParticipantView[] {
  return c.participants.map((p) => ({
    orgId: p.orgId,
    role: p.role,
    people: p.userIds.map((id) => ({ userId: id, name: nameOf(id) })),
  }));
}

/** R-NEED: an informing decision as this viewer is shown it: a ground kept from it is left out, with whom it names. */
function groundFor<I extends Informing>(c: CaseState, i: I, byOrgId: OrgId | null, viewer: Viewer): I {
  return i.ground === null || mayReadGround(c, i, byOrgId, viewer) ? i : { ...i, ground: null, groundVisibility: null };
}

/** R-INFORM: the persons of the case, every participant sees them; a ground of a postponement only as groundFor allows. */
function projectPersons(c: CaseState, viewer: Viewer, nameOf: NameOf): CasePersonView[] {
  return c.persons.map((p) => ({
    id: p.id,
    name: p.name,
    birthDate: p.birthDate,
    bsn: p.bsn,
    informing: groundFor(c, p.informing, p.informingHistory.at(-1)?.byOrgId ?? null, viewer),
    informingHistory: p.informingHistory.map((d) => ({ ...groundFor(c, d, d.byOrgId, viewer), byName: nameOf(d.byUserId) })),
  }));
}

/** The first of some days, or null. */
const first = (days: (string | null)[]): string | null => days.reduce<string | null>((a, d) => (d !== null && (a === null || d < a) ? d : a), null);

/** Case data without items: only for a viewer that may see the case. */
export function projectMeta(c: CaseState, viewer: Viewer, look: Lookup): CaseView['meta'] {
  const { nameOf } = look;
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
    persons: projectPersons(c, viewer, nameOf),
    myRole: me.role,
    iAmChair: isChairOf(c, viewer),
    minutesDocId: c.agenda.find((a) => a.state === 'running')?.minutesDocId ?? null,
    goalProposal: c.goalProposal && { text: c.goalProposal.text, version: c.goalProposal.version, proposedAt: c.goalProposal.proposedAt },
    goalProgress: goalProgress(c, viewer),
    goalHistory: c.goalHistory,
    meetingOpen: c.meetingOpen,
    closure: c.closure && {
      decision: c.closure.decision,
      closedOn: c.closure.closedOn,
      retainUntil: c.closure.retainUntil,
      byName: nameOf(c.closure.byUserId),
      at: c.closure.at,
      extensions: c.closure.extensions.map((x) => ({ until: x.until, reason: x.reason, byName: nameOf(x.byUserId), at: x.at })),
    },
    agenda: projectAgenda(c, viewer, look),
    decisions: c.decisions
      .filter((d) => maySeeDecision(c, d, viewer))
      .map((d) => ({ id: d.id, text: d.text, byName: nameOf(d.byUserId), byOrgId: d.byOrgId, visibility: d.visibility, at: d.at })),
    interventions: projectInterventions(c, viewer, nameOf),
    consents: projectConsents(c, viewer, nameOf),
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

const visibleItemIds = (c: CaseState, ids: readonly Item['id'][], viewer: Viewer): Item['id'][] =>
  ids.filter((id) => {
    const item = c.items.get(id);
    return item !== undefined && maySeeItem(c, item, viewer);
  });

/**
 * R-TAKEHOME: after the meeting an organisation keeps its own interventions (the chair keeps the
 * plan); the items an intervention needs are shown only where the viewer may see them.
 */
function projectInterventions(c: CaseState, viewer: Viewer, nameOf: NameOf): CaseView['meta']['interventions'] {
  return c.interventions
    .filter((i) => maySeeIntervention(c, i, viewer))
    .map((i) => ({
      id: i.id,
      what: i.what,
      orgId: i.orgId,
      dueDate: i.dueDate,
      itemIds: visibleItemIds(c, i.itemIds, viewer),
      byName: nameOf(i.byUserId),
      byOrgId: i.byOrgId,
      visibility: i.visibility,
      at: i.at,
    }));
}

/**
 * R-OWN: a request and its answers reach those who may see the items concerned, item by item;
 * the asking organisation also sees the answers it was given, though not the items it lost, nor
 * what became of them (withdrawn or not): that would tell of items kept from it (R-NEED).
 */
function projectConsents(c: CaseState, viewer: Viewer, nameOf: NameOf): ConsentView[] {
  const out: ConsentView[] = [];
  for (const r of c.consents.values()) {
    const ids = requestItemsSeen(c, r, viewer);
    if (ids.length === 0) continue;
    // R-NEED: a take-home request carries its intervention's text as purpose; a contributor the
    // intervention is kept from learns only who asks, to answer for its own item.
    const iv = r.interventionId === null ? undefined : c.interventions.find((x) => x.id === r.interventionId);
    const kept = iv !== undefined && !chosenForIntervention(c, iv, viewer);
    out.push({
      id: r.id,
      kind: r.kind,
      forOrgId: r.forOrgId,
      askedByName: nameOf(r.askedByUserId),
      purpose: kept ? 'Een interventie die niet voor uw organisatie zichtbaar is' : r.purpose,
      deadline: kept ? null : r.deadline,
      interventionId: kept ? null : r.interventionId,
      goalVersion: r.goalVersion,
      createdAt: r.createdAt,
      closed: r.closed,
      items: ids.map((itemId) => consentItem(r, itemId, c, nameOf)),
    });
  }
  return out;
}

function consentItem(r: ConsentRequest, itemId: Item['id'], c: CaseState, nameOf: NameOf): ConsentView['items'][number] {
  const a = latestAnswer(r, itemId);
  return {
    itemId,
    orgId: c.items.get(itemId)!.orgId,
    answer: a?.answer ?? null,
    reason: a?.reason ?? null,
    byName: a ? nameOf(a.byUserId) : null,
    at: a?.at ?? null,
  };
}

/**
 * R-GOAL progress, counted only over items this viewer was chosen to see: the count never tells
 * of items kept from it (R-NEED).
 */
function goalProgress(c: CaseState, viewer: Viewer): GoalProgress | null {
  const p = c.goalProposal;
  if (!p) return null;
  let settled = 0;
  let total = 0;
  const waiting = new Set<Item['orgId']>();
  for (const r of c.consents.values()) {
    if (r.kind !== 'goal' || r.goalVersion !== p.version || r.closed) continue;
    for (const id of r.itemIds) {
      const item = c.items.get(id);
      if (!item || !chosenToSee(item, viewer.orgId)) continue;
      total++;
      if (item.status !== 'active' || latestAnswer(r, id)?.answer === 'yes') settled++;
      else waiting.add(item.orgId);
    }
  }
  return { settled, total, waitingOrgIds: [...waiting] };
}

/** The whole case as this viewer may see it, or null when it may see nothing of it. */
export function projectCase(c: CaseState, viewer: Viewer, look: Lookup, cursor: string): CaseView | null {
  if (!maySeeCase(c, viewer)) return null;
  const items: ItemView[] = [];
  for (const item of c.items.values()) {
    if (maySeeItem(c, item, viewer)) items.push(projectItem(item, viewer, look.nameOf));
  }
  return { cursor, meta: projectMeta(c, viewer, look), items };
}

export function summarise(c: CaseState, viewer: Viewer, look: Lookup, cursor: string): CaseSummary | null {
  const me = participationOf(c, viewer);
  if (!me) return null;
  return {
    id: c.id,
    cursor,
    tableId: c.tableId,
    title: c.title,
    phase: c.phase,
    myRole: me.role,
    personNames: c.persons.map((p) => p.name),
    informingOpen: c.persons.some((p) => p.informing.status !== 'done'),
    informingDue: first(c.persons.map((p) => (p.informing.status === 'open' ? p.informing.dueDate : null))),
    informingReview: first(c.persons.map((p) => (p.informing.status === 'postponed' ? p.informing.reviewDate : null))),
    meetingOpen: c.meetingOpen,
    closedOn: c.closure?.closedOn ?? null,
    retainUntil: c.closure?.retainUntil ?? null,
    agenda: projectAgenda(c, viewer, look),
    goalFrozen: c.goalProposal !== null,
    awaitingMyAnswer: awaitingAnswer(c, viewer),
    updatedAt: c.updatedAt,
  };
}

/** R-OWN: open questions about the viewer's organisation's own active items. */
function awaitingAnswer(c: CaseState, viewer: Viewer): number {
  let n = 0;
  for (const r of c.consents.values()) {
    if (r.closed) continue;
    for (const id of r.itemIds) {
      const item = c.items.get(id);
      if (item?.orgId === viewer.orgId && item.status === 'active' && !latestAnswer(r, id)) n++;
    }
  }
  return n;
}

/**
 * R-NEED: a change only its contributor is shown (an art. 23 restriction) sends nothing to others:
 * not even that something happened to the item.
 */
function onlyItsOwnChanged(then: Item, now: Item, viewer: Viewer): boolean {
  if (now.orgId === viewer.orgId || then.restriction === now.restriction) return false;
  // A state rebuilt from the log (a catch-up) holds equal values in other objects.
  return (Object.keys(now) as (keyof Item)[]).every((k) => k === 'restriction' || then[k] === now[k] || JSON.stringify(then[k]) === JSON.stringify(now[k]));
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
export function deltaFor(before: CaseState | null, after: CaseState, touched: Touched, viewer: Viewer, look: Lookup, cursor: string): PatchOp[] {
  const sawCase = before !== null && maySeeCase(before, viewer);
  const seesCase = maySeeCase(after, viewer);
  if (!seesCase) return sawCase ? [{ op: 'revoked' }] : [];
  if (!sawCase) {
    const view = projectCase(after, viewer, look, cursor);
    return view ? [{ op: 'snapshot', view }] : [];
  }
  const ops: PatchOp[] = [];
  if (touched.meta) {
    // Only a change this viewer can see is sent: an identical meta would tell of activity
    // around items kept from it (R-NEED: not even that something happened).
    const meta = projectMeta(after, viewer, look);
    if (JSON.stringify(meta) !== JSON.stringify(projectMeta(before, viewer, look))) ops.push({ op: 'meta', meta });
  }
  // Participation changes can change every item's visibility for this viewer.
  const ids = touched.meta ? after.items.keys() : touched.items;
  for (const id of ids) {
    const now = after.items.get(id);
    const then = before.items.get(id);
    const sees = now !== undefined && maySeeItem(after, now, viewer);
    const saw = then !== undefined && maySeeItem(before, then, viewer);
    if (sees) {
      if (!saw || (then !== now && !onlyItsOwnChanged(then, now, viewer))) ops.push({ op: 'item', item: projectItem(now, viewer, look.nameOf) });
    } else if (saw) {
      ops.push({ op: 'itemRemoved', itemId: id });
    }
  }
  return ops;
}

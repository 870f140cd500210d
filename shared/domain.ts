import type { CaseId, ConsentId, DecisionId, InterventionId, ItemId, MeetingId, OrgId, PersonId, TableId, UserId } from './ids.js';

/** R-BOB: picture, judgement, decision. */
export const PHASES = ['beeldvorming', 'oordelen', 'besluiten'] as const;
export type Phase = (typeof PHASES)[number];
export const phaseIndex = (p: Phase): number => PHASES.indexOf(p);

/** A participant's role in one case (R-ROLE). */
export const CASE_ROLES = ['voorzitter', 'aanmelder', 'deelnemer'] as const;
export type CaseRole = (typeof CASE_ROLES)[number];

/** Roles a user holds in the house, independent of any case. */
/** `privacy`: the house's privacy officer (R-ACCESS): reads the access log, no case content. */
export const USER_ROLES = ['chair', 'admin', 'privacy'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export type OrgKind = 'zvh' | 'partner';

export interface Organisation {
  id: OrgId;
  name: string;
  shortName: string;
  /** #rrggbb, used to tag the organisation's items. */
  colour: string;
  kind: OrgKind;
  /** R-PROTOCOL: only signatories can take part in a case. */
  protocolSignedAt: string | null;
  protocolSignedBy: string | null;
}

export interface User {
  id: UserId;
  username: string;
  displayName: string;
  orgId: OrgId;
  roles: UserRole[];
  active: boolean;
}

export interface Table {
  id: TableId;
  name: string;
  description: string;
}

/**
 * A meeting (overleg) of one table: an afternoon of cases, each discussed in its own slot of the
 * agenda. The agenda itself is in the cases' logs (AgendaEntry), so each partner is shown only the
 * entries of the cases it takes part in (R-ROLE).
 */
export interface Meeting {
  id: MeetingId;
  tableId: TableId;
  /** YYYY-MM-DD, the house's local day. */
  date: string;
  /** HH:MM, local time. */
  startTime: string;
  endTime: string;
  /** Where the table meets; empty for a meeting that is online only. */
  place: string;
  onlineUrl: string | null;
  /** A house chair, who plans and runs it. */
  chairUserId: UserId;
  /** Set when the chair closed the meeting: no entry of it is discussed any more. */
  closedAt: string | null;
  createdAt: string;
}

/** Who the chair (or they themselves) recorded as present in a meeting's room (R-ROOM). */
export interface MeetingRoom {
  meetingId: MeetingId;
  userIds: UserId[];
  /** Counts the changes: a process never takes an older list for a newer one it holds. */
  version: number;
}

/** People who came into a meeting's room and who left it. */
export interface RoomChange {
  enter: UserId[];
  leave: UserId[];
}

/** One case's slot in one meeting: planned, being discussed (the case is open), or discussed. */
export type AgendaState = 'planned' | 'running' | 'done';
export interface AgendaEntry {
  meetingId: MeetingId;
  /** HH:MM, within the meeting's times. */
  start: string;
  end: string;
  state: AgendaState;
  /** The Yjs document of this discussion's minutes (verslag): a random name that reveals nothing. */
  minutesDocId: string;
}

/** R-NEED: the whole case table, or only the named organisations (the contributor always). */
export type Visibility = { kind: 'table' } | { kind: 'orgs'; orgIds: OrgId[] };

export interface Participant {
  orgId: OrgId;
  role: CaseRole;
  /** The people of that organisation who take part; nobody else of it sees the case. */
  userIds: UserId[];
}

export type InformingStatus = 'open' | 'done' | 'postponed';

/** R-INFORM: who informs the person concerned, by when, and whether it happened. */
export interface Informing {
  informerOrgId: OrgId;
  dueDate: string;
  status: InformingStatus;
  /** Required when postponed (GDPR art. 14(5), 23). */
  ground: string | null;
  /**
   * R-NEED: who is shown the ground of a postponement (such as a criminal investigation): the whole
   * table or named organisations; the one that recorded it and the chair always. Null when not postponed.
   */
  groundVisibility: Visibility | null;
  reviewDate: string | null;
  doneAt: string | null;
}

export interface InformingDecision extends Informing {
  at: string;
  byUserId: UserId;
  byOrgId: OrgId;
}

/**
 * A person the case concerns (betrokkene). Every participant sees the persons of its case; only
 * the house finds one across cases. The BSN only where the house records it (PERSON_BSN).
 */
export interface Person {
  id: PersonId;
  name: string;
  /** YYYY-MM-DD. */
  birthDate: string;
  bsn: string | null;
  /** R-INFORM: per person: who informs this person, by when, and whether it happened. */
  informing: Informing;
  informingHistory: InformingDecision[];
  addedAt: string;
}

/** R-RETAIN: a later day from which the case may be purged, with why. */
export interface RetentionExtension {
  until: string;
  reason: string;
  byUserId: UserId;
  at: string;
}

/**
 * R-RETAIN: the chair's closing decision. From then partners keep only their own contributions,
 * take-home grants end, and the case is purged once `retainUntil` has come.
 */
export interface Closure {
  decision: string;
  /** YYYY-MM-DD: the day the case closed; the retention term counts from here. */
  closedOn: string;
  /** YYYY-MM-DD: from this day the case is purged (the term, or the last extension). */
  retainUntil: string;
  byUserId: UserId;
  at: string;
  extensions: RetentionExtension[];
}

export interface Goal {
  text: string;
  version: number;
}

/** R-GOAL: a proposed goal freezes the case until every item is reconfirmed or withdrawn. */
export interface GoalProposal {
  text: string;
  version: number;
  proposedAt: string;
  byUserId: UserId;
}

/**
 * R-OWN: one mechanism for every further use of an item. Reuse (R-REUSE), take-home for an
 * intervention (R-TAKEHOME), relevance under a changed goal (R-GOAL), later handover.
 */
export const CONSENT_KINDS = ['reuse', 'takehome', 'goal'] as const;
export type ConsentKind = (typeof CONSENT_KINDS)[number];

export interface ConsentAnswer {
  itemId: ItemId;
  answer: 'yes' | 'no';
  /** Required with a no. */
  reason: string | null;
  byUserId: UserId;
  byOrgId: OrgId;
  at: string;
}

export interface ConsentRequest {
  id: ConsentId;
  kind: ConsentKind;
  askedByUserId: UserId;
  /** The organisation that would use the items: the asker's, or the intervention's for take-home. */
  forOrgId: OrgId;
  purpose: string;
  itemIds: ItemId[];
  deadline: string | null;
  interventionId: InterventionId | null;
  goalVersion: number | null;
  createdAt: string;
  /** Every answer ever given, in order; the last one per item counts. */
  answers: ConsentAnswer[];
  /** Closed requests (a cancelled goal change, a removed intervention) take no more answers. */
  closed: boolean;
}

/** R-BOB: the plan of action, made in the decision phase. */
export interface Decision {
  id: DecisionId;
  text: string;
  byUserId: UserId;
  /** The organisation that wrote it: it always reads it. */
  byOrgId: OrgId;
  /** R-NEED: whom the chair let read it, besides its author's organisation and the chair. */
  visibility: Visibility;
  at: string;
}

/** R-TAKEHOME: one intervention, carried out by one organisation, needing some items. */
export interface Intervention {
  id: InterventionId;
  what: string;
  orgId: OrgId;
  dueDate: string | null;
  itemIds: ItemId[];
  byUserId: UserId;
  /** The organisation that wrote it down. */
  byOrgId: OrgId;
  /** R-NEED: whom the chair let read it, besides the executor, its author's organisation and the chair. */
  visibility: Visibility;
  at: string;
}

export type ItemStatus = 'active' | 'withdrawn';

export interface Item {
  id: ItemId;
  orgId: OrgId;
  authorId: UserId;
  phase: Phase;
  text: string;
  visibility: Visibility;
  status: ItemStatus;
  goalVersion: number;
  /** The Yjs document of the item's text: a random name that reveals nothing. */
  textDocId: string;
  createdAt: string;
  updatedAt: string;
  /**
   * R-ACCESS, AVG art. 23: its contributor keeps its content out of an art. 15 report, with a
   * ground; the report says that a restriction was applied. Null: no restriction.
   */
  restriction: { ground: string; byUserId: UserId; at: string } | null;
}

export interface CaseState {
  id: CaseId;
  tableId: TableId;
  title: string;
  subjectNote: string;
  goal: Goal;
  phase: Phase;
  participants: Participant[];
  /** At least one; in the order they were added. */
  persons: Person[];
  /** In the order they were added; an `ItemMap` when built by the reducers (copied only in part per change). */
  items: ReadonlyMap<ItemId, Item>;
  goalProposal: GoalProposal | null;
  goalHistory: Goal[];
  consents: Map<ConsentId, ConsentRequest>;
  decisions: Decision[];
  interventions: Intervention[];
  /** The case's slots in meetings, in the order they were planned. */
  agenda: AgendaEntry[];
  /**
   * R-TAKEHOME: open only while one of its agenda entries runs; while closed, each organisation
   * sees only its own and its consented items.
   */
  meetingOpen: boolean;
  /** R-RETAIN: null while the case is open. */
  closure: Closure | null;
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** Who is asking: the authenticated user, never what a client claims. */
export interface Viewer {
  userId: UserId;
  orgId: OrgId;
  roles: readonly UserRole[];
}

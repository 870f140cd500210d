import type {
  AgendaState,
  CaseRole,
  ConsentKind,
  Goal,
  Informing,
  InformingDecision,
  Meeting,
  Organisation,
  Phase,
  Table,
  UserRole,
  Visibility,
} from './domain.js';
import type { AppError } from './errors.js';
import type { CaseId, ConsentId, DecisionId, InterventionId, ItemId, MeetingId, OrgId, PersonId, TableId, UserId } from './ids.js';
import type { CommandEnvelope, CommandName } from './schemas.js';

/**
 * Bumped on every incompatible change. A client of another version is refused at the handshake
 * with PROTOCOL_OUTDATED, which it shows as "please reload".
 */
export const PROTOCOL_VERSION = 4;

/** Path of the Socket.IO endpoint; WebSocket transport only, so no sticky sessions are needed. */
export const SOCKET_PATH = '/socket.io';

/** Path of the y-websocket endpoint; a document is `${COLLAB_PATH}/${docId}`. */
export const COLLAB_PATH = '/collab';

/** WebSocket close codes of the collaboration endpoint. */
export const CollabClose = {
  /** The right to read the document ended (visibility, goal change, meeting closed, removal). */
  REVOKED: 4403,
  FORBIDDEN: 4404,
  BAD_MESSAGE: 4400,
  /** The session ended (logout, account disabled, new roles or password, idle or too old): log in again. */
  SESSION_ENDED: 4401,
  /**
   * RFC 6455 "Try Again Later": the store or the access log cannot be used now (P-REDIS,
   * P-READLOG); the client reconnects by itself. How an upgrade is refused meanwhile: accepted
   * and closed at once, since a browser cannot read the status of a refused upgrade.
   */
  UNAVAILABLE: 1013,
} as const;

/**
 * y-websocket message types the server adds to sync (0) and awareness (1); stock clients ignore
 * them. REFUSED carries a CollabRefusal: the writer's last update was not applied.
 */
export const COLLAB_MESSAGE_REFUSED = 20;
export const CollabRefusal = {
  /** The text would grow past its cap (MAX_ITEM_TEXT_CHARS, MAX_MINUTES_CHARS). */
  TOO_LONG: 1,
} as const;

export type Ack<T> = { ok: true; data: T } | { ok: false; error: AppError };

// ---- Views: what one viewer is shown, already filtered by the server ----

export interface PersonView {
  userId: UserId;
  name: string;
}

export interface ParticipantView {
  orgId: OrgId;
  role: CaseRole;
  people: PersonView[];
}

export interface ItemView {
  id: ItemId;
  orgId: OrgId;
  authorName: string;
  phase: Phase;
  text: string;
  visibility: Visibility;
  goalVersion: number;
  /** Name of the item's Yjs text document at the collaboration endpoint. */
  textDocId: string;
  createdAt: string;
  updatedAt: string;
  /** The viewer's own organisation contributed it, so the viewer may change it (R-OWN). */
  mine: boolean;
  /** AVG art. 23: the ground on which its contributor keeps it out of art. 15 reports; shown to that organisation only. */
  restrictedOn: string | null;
}

/** One contributor's latest answer on one item, as shown to those who may see that item. */
export interface ConsentItemView {
  itemId: ItemId;
  /** The contributing organisation: the one that answers. */
  orgId: OrgId;
  answer: 'yes' | 'no' | null;
  reason: string | null;
  byName: string | null;
  at: string | null;
}

export interface ConsentView {
  id: ConsentId;
  kind: ConsentKind;
  forOrgId: OrgId;
  askedByName: string;
  purpose: string;
  deadline: string | null;
  interventionId: InterventionId | null;
  goalVersion: number | null;
  createdAt: string;
  closed: boolean;
  /** Only the items this viewer may see (the asking organisation also sees its answers). */
  items: ConsentItemView[];
}

/** R-GOAL: reconfirmation progress, counted over the items this viewer may know of. */
export interface GoalProgress {
  settled: number;
  total: number;
  waitingOrgIds: OrgId[];
}

export interface DecisionView {
  id: DecisionId;
  text: string;
  byName: string;
  byOrgId: OrgId;
  visibility: Visibility;
  at: string;
}

export interface InterventionView {
  id: InterventionId;
  what: string;
  orgId: OrgId;
  dueDate: string | null;
  /** The needed items this viewer may see. */
  itemIds: ItemId[];
  byName: string;
  byOrgId: OrgId;
  visibility: Visibility;
  at: string;
}

/**
 * A case's slot in a meeting, with the meeting it is in: shown to those who take part in the case,
 * and nothing of the meeting's other cases (R-ROLE): not even the meeting's own start and end,
 * whose gaps around the slot would tell that others are discussed.
 */
export interface AgendaEntryView {
  meetingId: MeetingId;
  /** The meeting: its day and where it is. */
  date: string;
  place: string;
  onlineUrl: string | null;
  chairName: string;
  /** The chair closed the meeting. */
  meetingClosed: boolean;
  /** This case's slot. */
  start: string;
  end: string;
  state: AgendaState;
  /** This discussion's minutes, where the viewer may open them (the house's seat, after it). */
  minutesDocId: string | null;
}

/**
 * A meeting as its planners (the house's chairs) see it: no case of it, only when and where; `room`
 * (who is recorded in its room) for its own chair only, empty to other chairs.
 */
export type MeetingView = Meeting & { chairName: string; room: RoomPersonView[] };

/** R-ACCESS: one record of the access log as the privacy officer reads it: the NEN 7513 fields, named. */
export interface AccessRecordView {
  at: string;
  /** read, export (a print), create, update, delete, or an authentication action. */
  action: 'read' | 'export' | 'create' | 'update' | 'delete' | 'login' | 'logout' | 'admin';
  /** The command or view that caused it, e.g. `item:edit` or `case:open`. */
  operation: string;
  caseId: CaseId | null;
  itemId: ItemId | null;
  userId: UserId | null;
  userName: string | null;
  orgId: OrgId | null;
  orgName: string | null;
  role: CaseRole | 'none';
  purpose: string;
  address: string;
  outcome: 'ok' | 'denied' | 'error';
}

/** R-ACCESS: where verifying the sealed hash chains found them broken (the first seal that does not hold). */
export interface ChainBreak {
  what: 'seal' | 'access' | 'case';
  seal: number;
  /** For the access log: the positions between the seal before and this one. */
  from?: number;
  to?: number;
  caseId?: CaseId;
  reason: string;
}

/** R-ACCESS: the result of verifying the logs (`npm run admin -- verify`). */
export interface ChainVerification {
  at: string;
  ok: boolean;
  seals: number;
  accessEntries: number;
  events: number;
  /** The time of the last seal checked: what was written before it is covered. */
  sealedUpTo: string | null;
  broken: ChainBreak | null;
}

/** R-ACCESS: what the privacy officer's screen shows of the logs' tamper evidence. */
export interface ChainStatusView {
  /** Whether the server seals the logs (a key is configured). */
  sealing: boolean;
  lastSeal: { n: number; at: string } | null;
  verification: ChainVerification | null;
}

/** A case as the privacy officer finds it to ask about: no content. */
export interface PrivacyCaseView {
  id: CaseId;
  title: string;
  tableId: TableId;
  createdAt: string;
}

/** R-ACCESS, AVG art. 15: a request for access, registered by the privacy officer; due one month after receipt. */
export interface Art15RequestView {
  id: string;
  personName: string;
  birthDate: string;
  receivedOn: string;
  dueOn: string;
  deliveredOn: string | null;
  note: string;
  registeredBy: string;
  registeredAt: string;
}

/** One item in an art. 15 report: who brought it in, who received it and for what. */
export interface Art15ItemView {
  id: ItemId;
  phase: Phase;
  contributor: string;
  addedAt: string;
  withdrawn: boolean;
  /** Null when its contributor restricted it under AVG art. 23: the report says so, without the content. */
  text: string | null;
  restricted: boolean;
  /** The organisations, other than its contributor, that were shown it (from the access log). */
  receivedBy: string[];
  purposes: string[];
}

/** What one case holds on the person, for an art. 15 report. */
export interface Art15CaseView {
  caseId: CaseId;
  title: string;
  table: string;
  createdAt: string;
  closedOn: string | null;
  /** From this day the case is purged; null while it is open (then: its closing day plus the house's term). */
  retainUntil: string | null;
  person: { name: string; birthDate: string; bsn: string | null };
  informing: { status: string; informer: string; dueDate: string; at: string }[];
  goals: { text: string; version: number }[];
  items: Art15ItemView[];
  decisions: { text: string; by: string; at: string }[];
  interventions: { what: string; executor: string; at: string }[];
  consents: {
    kind: string;
    purpose: string;
    askedFor: string;
    at: string;
    answers: { item: ItemId; by: string; answer: string; reason: string | null; at: string }[];
  }[];
  /** Handovers to another table or body (R-HANDOVER): none are made yet. */
  handovers: never[];
}

export interface Art15ReportView {
  request: Art15RequestView;
  producedAt: string;
  retentionDays: number;
  cases: Art15CaseView[];
}

/** A person found by the house's search, in one case (the same person may be in several). */
export interface PersonMatchView {
  personId: PersonId;
  name: string;
  birthDate: string;
  bsn: string | null;
  caseId: CaseId;
  caseTitle: string;
  tableId: TableId;
  chairNames: string[];
  /** Whether the one who searched takes part in the case (and may open its board). */
  participating: boolean;
  caseCreatedAt: string;
}

/** Someone recorded in a meeting's room (R-ROOM). */
export interface RoomPersonView {
  userId: UserId;
  name: string;
  orgId: OrgId;
}

export interface ClosureView {
  decision: string;
  closedOn: string;
  retainUntil: string;
  byName: string;
  at: string;
  extensions: { until: string; reason: string; byName: string; at: string }[];
}

/** A closed case as the privacy officer's retention list shows it (no content), or one purged. */
export interface RetentionView {
  caseId: CaseId;
  /** Null once purged: nothing of its content is kept, its title neither. */
  title: string | null;
  tableId: TableId | null;
  closedOn: string;
  retainUntil: string;
  extensions: number;
  purgedAt: string | null;
}

/** A person the case concerns, with the informing of that person (R-INFORM) as this viewer is shown it. */
export interface CasePersonView {
  id: PersonId;
  name: string;
  birthDate: string;
  bsn: string | null;
  informing: Informing;
  informingHistory: (InformingDecision & { byName: string })[];
}

export interface CaseMetaView {
  id: CaseId;
  tableId: TableId;
  title: string;
  subjectNote: string;
  goal: Goal;
  phase: Phase;
  participants: ParticipantView[];
  persons: CasePersonView[];
  myRole: CaseRole;
  iAmChair: boolean;
  /** The minutes of the discussion running now (its Yjs document), or null when the case is not discussed. */
  minutesDocId: string | null;
  goalProposal: { text: string; version: number; proposedAt: string } | null;
  goalProgress: GoalProgress | null;
  goalHistory: Goal[];
  /** Open only while one of its agenda entries is being discussed. */
  meetingOpen: boolean;
  /** R-RETAIN: the closing decision, its retention and extensions (names resolved); null while open. */
  closure: ClosureView | null;
  agenda: AgendaEntryView[];
  decisions: DecisionView[];
  interventions: InterventionView[];
  consents: ConsentView[];
  createdAt: string;
  updatedAt: string;
}

export interface CaseView {
  /** Opaque position in the case log; it reveals no count of events the viewer cannot see. */
  cursor: string;
  meta: CaseMetaView;
  items: ItemView[];
}

export interface CaseSummary {
  id: CaseId;
  /** Opaque position in the case log when this summary was made. */
  cursor: string;
  tableId: TableId;
  title: string;
  phase: Phase;
  myRole: CaseRole;
  /** The names of the persons the case concerns. */
  personNames: string[];
  /** Whether a person is still to be informed, or postponed (R-INFORM). */
  informingOpen: boolean;
  /** The first day by which a person still open is to be informed; overdue once past. Null when none is open. */
  informingDue: string | null;
  /** The first review day of a postponed informing: a task for the chair once past. Null when none is postponed. */
  informingReview: string | null;
  meetingOpen: boolean;
  /** R-RETAIN: the day it closed, and from when it is purged; null while open. */
  closedOn: string | null;
  retainUntil: string | null;
  agenda: AgendaEntryView[];
  goalFrozen: boolean;
  /** Open questions about this user's organisation's own items (R-OWN). */
  awaitingMyAnswer: number;
  updatedAt: string;
}

export type PatchOp =
  | { op: 'snapshot'; view: CaseView }
  | { op: 'meta'; meta: CaseMetaView }
  | { op: 'item'; item: ItemView }
  | { op: 'itemRemoved'; itemId: ItemId }
  /** The viewer no longer takes part: drop everything of the case. */
  | { op: 'revoked' };

export interface CasePatch {
  caseId: CaseId;
  /** Opaque position after this patch; a reconnecting client sends it back as `since`. */
  cursor: string;
  ops: PatchOp[];
}

export interface PresenceEntry {
  userId: UserId;
  name: string;
  orgId: OrgId;
}

export interface PresenceUpdate {
  caseId: CaseId;
  cursor: string;
  present: PresenceEntry[];
}

export interface Me {
  userId: UserId;
  username: string;
  displayName: string;
  orgId: OrgId;
  roles: UserRole[];
}

/** The directory a logged-in user may read: organisations, tables, and for chairs the people. */
export interface Directory {
  orgs: Organisation[];
  tables: Table[];
  people: (PersonView & { orgId: OrgId })[];
  /** Whether the house records the BSN of the persons of its cases (PERSON_BSN). */
  recordsBsn: boolean;
}

export type OpenResult = { view: CaseView } | { patch: CasePatch };

export interface CommandResults {
  'case:open': OpenResult;
  'case:leave': null;
  'case:print': null;
  'case:create': { caseId: CaseId };
  'case:setParticipant': null;
  'case:removeParticipant': null;
  'case:setPhase': null;
  'case:close': null;
  'case:extendRetention': null;
  'person:add': { personId: PersonId };
  'person:edit': null;
  'person:remove': null;
  'person:setInforming': null;
  'item:add': { itemId: ItemId };
  'item:edit': null;
  'item:setVisibility': null;
  'item:withdraw': null;
  'item:restrict': null;
  'goal:propose': null;
  'goal:cancel': null;
  'consent:request': { requestId: ConsentId };
  'consent:answer': null;
  'decision:add': null;
  'decision:setVisibility': null;
  'intervention:add': null;
  'intervention:setVisibility': null;
  'agenda:schedule': null;
  'agenda:unschedule': null;
  'agenda:move': null;
  'agenda:begin': null;
  'agenda:end': null;
  'intervention:remove': null;
}

/** Every command is `emit(name, { commandId, input }, ack)`. */
export type ClientToServerEvents = {
  [N in CommandName]: (command: CommandEnvelope<N>, ack: (res: Ack<CommandResults[N]>) => void) => void;
};

export interface ServerToClientEvents {
  'cases:snapshot': (cases: CaseSummary[]) => void;
  'cases:upsert': (summary: CaseSummary) => void;
  'cases:removed': (caseId: CaseId) => void;
  'case:patch': (patch: CasePatch) => void;
  'presence:update': (update: PresenceUpdate) => void;
  /** The session ended (logout elsewhere, account disabled): the client returns to login. */
  'session:ended': () => void;
}

/**
 * The room screen (zaalscherm, R-ROOM): a read-only Socket.IO namespace of its own, authenticated
 * by its device link alone (never a user's session cookie), receiving whole views.
 */
export const ROOM_NAMESPACE = '/zaal';

export interface RoomItemView {
  id: ItemId;
  orgName: string;
  phase: Phase;
  text: string;
}

export interface RoomCaseView {
  caseId: CaseId;
  title: string;
  goal: string;
  phase: Phase;
  items: RoomItemView[];
  decisions: { id: DecisionId; text: string }[];
  interventions: { id: InterventionId; what: string; orgName: string; dueDate: string | null }[];
}

export interface RoomAgendaEntry {
  caseId: CaseId;
  title: string;
  start: string;
  end: string;
  state: AgendaState;
}

/**
 * What a room screen shows: only what every person recorded in the room may see (the
 * intersection of their rights by the one read rule); with nobody recorded, nothing of any case.
 */
export interface RoomView {
  meeting: { id: MeetingId; date: string; place: string; chairName: string; closed: boolean };
  /** The organisations of those recorded in the room, by name. */
  present: string[];
  /** The slots of the cases the whole room may see, in time order (no others, no count). */
  agenda: RoomAgendaEntry[];
  /** The case under discussion, when the whole room may see it. */
  current: RoomCaseView | null;
}

export interface RoomServerToClientEvents {
  'room:view': (view: RoomView) => void;
}

/** Room screen handshake `auth` payload: the device link's token. */
export interface RoomHandshakeAuth {
  protocolVersion: number;
  token: string;
}

/** Socket handshake `auth` payload. */
export interface HandshakeAuth {
  protocolVersion: number;
}

import type {
  CaseRole,
  Goal,
  Informing,
  InformingDecision,
  Organisation,
  Phase,
  Table,
  UserRole,
  Visibility,
} from './domain.js';
import type { AppError } from './errors.js';
import type { CaseId, ItemId, OrgId, TableId, UserId } from './ids.js';
import type { CommandInput, CommandName } from './schemas.js';

/**
 * Bumped on every incompatible change. A client of another version is refused at the handshake
 * with PROTOCOL_OUTDATED, which it shows as "please reload".
 */
export const PROTOCOL_VERSION = 1;

/** Path of the Socket.IO endpoint; WebSocket transport only, so no sticky sessions are needed. */
export const SOCKET_PATH = '/socket.io';

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
  createdAt: string;
  updatedAt: string;
  /** The viewer's own organisation contributed it, so the viewer may change it (R-OWN). */
  mine: boolean;
}

export interface CaseMetaView {
  id: CaseId;
  tableId: TableId;
  title: string;
  subjectNote: string;
  goal: Goal;
  phase: Phase;
  participants: ParticipantView[];
  informing: Informing;
  informingHistory: (InformingDecision & { byName: string })[];
  myRole: CaseRole;
  iAmChair: boolean;
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
  informingOpen: boolean;
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
}

export type OpenResult = { view: CaseView } | { patch: CasePatch };

export interface CommandResults {
  'case:open': OpenResult;
  'case:leave': null;
  'case:create': { caseId: CaseId };
  'case:setParticipant': null;
  'case:removeParticipant': null;
  'case:setPhase': null;
  'case:setInforming': null;
  'item:add': { itemId: ItemId };
  'item:edit': null;
  'item:setVisibility': null;
  'item:withdraw': null;
}

export type ClientToServerEvents = {
  [N in CommandName]: (input: CommandInput<N>, ack: (res: Ack<CommandResults[N]>) => void) => void;
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

/** Socket handshake `auth` payload. */
export interface HandshakeAuth {
  protocolVersion: number;
}

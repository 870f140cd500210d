import type { CaseState, Item, Meeting, Organisation, Person, Table, User, Viewer, Visibility } from '../../shared/domain.js';
import type { CaseId, ItemId, MeetingId, OrgId, PersonId, TableId, UserId } from '../../shared/ids.js';
import type { DirectoryLookup } from '../../shared/rules/commands.js';
import type { Lookup } from '../../shared/rules/projection.js';

// A small in-memory house for the pure rule functions: no server, no store.
export const org = (id: string, signed = true, kind: Organisation['kind'] = 'partner'): Organisation => ({
  id: id as OrgId,
  name: id,
  shortName: id,
  colour: '#123456',
  kind,
  protocolSignedAt: signed ? '2025-01-01T00:00:00Z' : null,
  protocolSignedBy: signed ? 'x' : null,
});

export const user = (id: string, orgId: string, roles: User['roles'] = []): User => ({
  id: id as UserId,
  username: id,
  displayName: id,
  orgId: orgId as OrgId,
  roles,
  active: true,
});

export const viewerOf = (u: User): Viewer => ({ userId: u.id, orgId: u.orgId, roles: u.roles });

export const ORGS = [org('zvh', true, 'zvh'), org('pol'), org('ggz'), org('om'), org('unsigned', false)];
export const USERS = [
  user('chair', 'zvh', ['chair']),
  user('chair2', 'zvh', ['chair']),
  user('pol1', 'pol'),
  user('pol2', 'pol'),
  user('ggz1', 'ggz'),
  user('om1', 'om'),
  user('u1', 'unsigned'),
];
export const U = Object.fromEntries(USERS.map((u) => [u.id, viewerOf(u)])) as Record<string, Viewer>;

export const meeting = (id: string, extra: Partial<Meeting> = {}): Meeting => ({
  id: id as MeetingId,
  tableId: 'tbl' as TableId,
  date: '2026-12-07',
  startTime: '13:00',
  endTime: '16:00',
  place: 'zaal 1',
  onlineUrl: null,
  chairUserId: 'chair' as UserId,
  closedAt: null,
  createdAt: 't',
  ...extra,
});
/** mt_1: the meeting the fixture case is discussed in; mt_2 another of its table; mt_closed closed; mt_other of another table. */
export const MEETINGS = [meeting('mt_1'), meeting('mt_2'), meeting('mt_closed', { closedAt: 't' }), meeting('mt_other', { tableId: 'tbl2' as TableId })];

export const dir: DirectoryLookup = {
  org: (id) => ORGS.find((o) => o.id === id),
  user: (id) => USERS.find((u) => u.id === id),
  table: (id): Table | undefined => (id === 'tbl' ? { id: 'tbl' as TableId, name: 't', description: '' } : undefined),
  meeting: (id) => MEETINGS.find((m) => m.id === id),
  today: () => '2026-12-07',
  recordsBsn: false,
  retentionDays: 730,
};

export const look: Lookup = { nameOf: (id) => `naam ${id}`, meeting: dir.meeting };

export function item(id: string, orgId: string, visibility: Visibility = { kind: 'table' }, extra: Partial<Item> = {}): Item {
  return {
    id: id as ItemId,
    orgId: orgId as OrgId,
    authorId: 'pol1' as UserId,
    phase: 'beeldvorming',
    text: `text of ${id}`,
    visibility,
    status: 'active',
    goalVersion: 1,
    textDocId: `doc_${id}`,
    createdAt: 't',
    updatedAt: 't',
    restriction: null,
    ...extra,
  };
}

/** A person the case concerns, informed by pol by 2026-12-01. */
export function person(id: string, extra: Partial<Person> = {}): Person {
  return {
    id: id as PersonId,
    name: `persoon ${id}`,
    birthDate: '1990-01-01',
    bsn: null,
    informing: { informerOrgId: 'pol' as OrgId, dueDate: '2026-12-01', status: 'open', ground: null, groundVisibility: null, reviewDate: null, doneAt: null },
    informingHistory: [],
    addedAt: 't',
    ...extra,
  };
}

/** A case with zvh (chair), pol (only pol1, registrant), ggz and om at the table. */
export function caseState(items: Item[] = [], extra: Partial<CaseState> = {}): CaseState {
  return {
    id: 'cs_1' as CaseId,
    tableId: 'tbl' as TableId,
    title: 'Casus X',
    subjectNote: '',
    goal: { text: 'doel', version: 1 },
    phase: 'beeldvorming',
    participants: [
      { orgId: 'zvh' as OrgId, role: 'voorzitter', userIds: ['chair' as UserId] },
      { orgId: 'pol' as OrgId, role: 'aanmelder', userIds: ['pol1' as UserId] },
      { orgId: 'ggz' as OrgId, role: 'deelnemer', userIds: ['ggz1' as UserId] },
      { orgId: 'om' as OrgId, role: 'deelnemer', userIds: ['om1' as UserId] },
    ],
    persons: [person('prs_1')],
    items: new Map(items.map((i) => [i.id, i])),
    goalProposal: null,
    goalHistory: [],
    consents: new Map(),
    decisions: [],
    interventions: [],
    agenda: [{ meetingId: 'mt_1' as MeetingId, start: '13:00', end: '13:30', state: 'running', minutesDocId: 'doc_minutes' }],
    meetingOpen: true,
    closure: null,
    version: 1,
    createdAt: 't',
    updatedAt: 't',
    ...extra,
  };
}

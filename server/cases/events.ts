import { z } from 'zod';
import {
  CONSENT_KINDS,
  type AgendaEntry,
  type CaseState,
  type ConsentRequest,
  type Informing,
  type InformingDecision,
  type Item,
  type Person,
} from '../../shared/domain.js';
import {
  CaseIdSchema,
  ConsentIdSchema,
  DecisionIdSchema,
  InterventionIdSchema,
  ItemIdSchema,
  MeetingIdSchema,
  OrgIdSchema,
  PersonIdSchema,
  TableIdSchema,
  UserIdSchema,
  type ItemId,
} from '../../shared/ids.js';
import { ItemMap } from '../../shared/itemMap.js';
import { latestAnswer } from '../../shared/rules/access.js';
import { CaseRoleSchema, clockTime, PhaseSchema, VisibilitySchema } from '../../shared/schemas.js';
import type { StoredEvent } from '../store/types.js';

const DocIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

const ParticipantSchema = z.object({ orgId: OrgIdSchema, role: CaseRoleSchema, userIds: z.array(UserIdSchema) });
const InformingSchema = z.object({
  informerOrgId: OrgIdSchema,
  dueDate: z.string(),
  status: z.enum(['open', 'done', 'postponed']),
  ground: z.string().nullable(),
  groundVisibility: VisibilitySchema.nullable(),
  reviewDate: z.string().nullable(),
  doneAt: z.string().nullable(),
});

const PersonFieldsSchema = z.object({ name: z.string(), birthDate: z.string(), bsn: z.string().nullable() });
const NewPersonSchema = PersonFieldsSchema.extend({ personId: PersonIdSchema, informing: InformingSchema });

/** The facts a case log is made of. Stored rows are parsed by these schemas when read back. */
export const CaseEventSchemas = {
  'case.created': z.object({
    caseId: CaseIdSchema,
    tableId: TableIdSchema,
    title: z.string(),
    subjectNote: z.string(),
    goal: z.string(),
    participants: z.array(ParticipantSchema),
    persons: z.array(NewPersonSchema),
  }),
  'case.participantSet': z.object({ participant: ParticipantSchema }),
  'case.participantRemoved': z.object({ orgId: OrgIdSchema }),
  'case.phaseSet': z.object({ phase: PhaseSchema }),
  /** R-RETAIN: closed by the chair; purged from `retainUntil` on. */
  'case.closed': z.object({ decision: z.string(), closedOn: z.string(), retainUntil: z.string() }),
  'case.retentionExtended': z.object({ until: z.string(), reason: z.string() }),
  'case.personAdded': NewPersonSchema,
  'case.personEdited': PersonFieldsSchema.extend({ personId: PersonIdSchema }),
  'case.personRemoved': z.object({ personId: PersonIdSchema }),
  'case.informingSet': z.object({ personId: PersonIdSchema, informing: InformingSchema }),
  /** A slot in a meeting, new or moved within it (a planned one only). */
  'case.agendaScheduled': z.object({ meetingId: MeetingIdSchema, start: clockTime, end: clockTime, minutesDocId: DocIdSchema }),
  'case.agendaUnscheduled': z.object({ meetingId: MeetingIdSchema }),
  /** The chair began the case's slot: the case is open for discussion (R-TAKEHOME) until it ends. */
  'case.discussionBegan': z.object({ meetingId: MeetingIdSchema }),
  'case.discussionEnded': z.object({ meetingId: MeetingIdSchema }),
  'item.added': z.object({
    itemId: ItemIdSchema,
    orgId: OrgIdSchema,
    authorId: UserIdSchema,
    phase: PhaseSchema,
    text: z.string(),
    visibility: VisibilitySchema,
    goalVersion: z.number().int().positive(),
    textDocId: DocIdSchema,
  }),
  'item.edited': z.object({ itemId: ItemIdSchema, text: z.string().optional(), phase: PhaseSchema.optional() }),
  'item.visibilitySet': z.object({ itemId: ItemIdSchema, visibility: VisibilitySchema }),
  'item.withdrawn': z.object({ itemId: ItemIdSchema }),
  'item.restricted': z.object({ itemId: ItemIdSchema, ground: z.string().nullable() }),
  'goal.proposed': z.object({ text: z.string(), version: z.number().int().positive() }),
  'goal.cancelled': z.object({ version: z.number().int().positive() }),
  'goal.inForce': z.object({ version: z.number().int().positive() }),
  'consent.requested': z.object({
    requestId: ConsentIdSchema,
    kind: z.enum(CONSENT_KINDS),
    forOrgId: OrgIdSchema,
    purpose: z.string(),
    itemIds: z.array(ItemIdSchema),
    deadline: z.string().nullable(),
    interventionId: InterventionIdSchema.nullable(),
    goalVersion: z.number().int().nullable(),
  }),
  'consent.answered': z.object({
    requestId: ConsentIdSchema,
    answers: z.array(z.object({ itemId: ItemIdSchema, answer: z.enum(['yes', 'no']), reason: z.string().nullable() })),
  }),
  'decision.added': z.object({ decisionId: DecisionIdSchema, text: z.string(), visibility: VisibilitySchema }),
  'decision.visibilitySet': z.object({ decisionId: DecisionIdSchema, visibility: VisibilitySchema }),
  'intervention.added': z.object({
    interventionId: InterventionIdSchema,
    what: z.string(),
    orgId: OrgIdSchema,
    dueDate: z.string().nullable(),
    itemIds: z.array(ItemIdSchema),
    visibility: VisibilitySchema,
  }),
  'intervention.visibilitySet': z.object({ interventionId: InterventionIdSchema, visibility: VisibilitySchema }),
  'intervention.removed': z.object({ interventionId: InterventionIdSchema }),
  /** A co-editing update of one document (docs/DESIGN-ordering.md): its writer is the entry's actor. */
  // The server's own base64, written as it was admitted: a regex over every keystroke of a long
  // log at every replay would buy nothing.
  'doc.update': z.object({ docId: DocIdSchema, update: z.string() }),
} as const;

export type CaseEventType = keyof typeof CaseEventSchemas;
export type CaseEvent = { [T in CaseEventType]: { type: T; payload: z.infer<(typeof CaseEventSchemas)[T]> } }[CaseEventType];
export type EventMeta = Pick<StoredEvent, 'at' | 'actorUserId' | 'actorOrgId'>;

/** Events that change the case itself rather than one item: every viewer's meta is re-sent. */
export const isCaseLevel = (e: CaseEvent): boolean => e.type.startsWith('case.');

export function parseStoredEvent(row: StoredEvent): CaseEvent {
  const schema = CaseEventSchemas[row.type as CaseEventType];
  if (!schema) throw new Error(`case ${row.caseId} v${row.version}: unknown event type`);
  return { type: row.type, payload: schema.parse(row.payload) } as CaseEvent;
}

function withItem(s: CaseState, item: Item): CaseState {
  return { ...s, items: ItemMap.from(s.items).with(item) };
}

/**
 * Applies one event. Pure and copy-on-write: a changed item is a new object, so the delivery step
 * can compare the states before and after by identity.
 */
export function applyEvent(s: CaseState | null, e: CaseEvent, meta: EventMeta, version: number): CaseState {
  if (e.type === 'case.created') {
    if (s) throw new Error('case.created on an existing case');
    const p = e.payload;
    return {
      id: p.caseId,
      tableId: p.tableId,
      title: p.title,
      subjectNote: p.subjectNote,
      goal: { text: p.goal, version: 1 },
      phase: 'beeldvorming',
      participants: p.participants,
      persons: p.persons.map((n) => newPerson(n, meta)),
      items: ItemMap.empty(),
      goalProposal: null,
      goalHistory: [],
      consents: new Map(),
      decisions: [],
      interventions: [],
      agenda: [],
      // Open only while discussed in a meeting (agenda.ts in cases/commands/).
      meetingOpen: false,
      closure: null,
      version,
      createdAt: meta.at,
      updatedAt: meta.at,
    };
  }
  if (!s) throw new Error(`${e.type} before case.created`);
  // Only case-level facts move updatedAt: a hidden item must not show as activity to others.
  const next = { ...s, version, ...(isCaseLevel(e) ? { updatedAt: meta.at } : {}) };
  switch (e.type) {
    case 'case.participantSet': {
      const p = e.payload.participant;
      const exists = s.participants.some((x) => x.orgId === p.orgId);
      return {
        ...next,
        participants: exists ? s.participants.map((x) => (x.orgId === p.orgId ? p : x)) : [...s.participants, p],
      };
    }
    case 'case.participantRemoved':
      return { ...next, participants: s.participants.filter((x) => x.orgId !== e.payload.orgId) };
    case 'case.phaseSet':
      return { ...next, phase: e.payload.phase };
    case 'case.closed': {
      const { decision, closedOn, retainUntil } = e.payload;
      return { ...next, closure: { decision, closedOn, retainUntil, byUserId: meta.actorUserId, at: meta.at, extensions: [] } };
    }
    case 'case.retentionExtended': {
      if (!s.closure) return next;
      const { until, reason } = e.payload;
      const extension = { until, reason, byUserId: meta.actorUserId, at: meta.at };
      return { ...next, closure: { ...s.closure, retainUntil: until, extensions: [...s.closure.extensions, extension] } };
    }
    case 'case.personAdded':
      return { ...next, persons: [...s.persons, newPerson(e.payload, meta)] };
    case 'case.personEdited': {
      const { personId, name, birthDate, bsn } = e.payload;
      return { ...next, persons: s.persons.map((x) => (x.id === personId ? { ...x, name, birthDate, bsn } : x)) };
    }
    case 'case.personRemoved':
      return { ...next, persons: s.persons.filter((x) => x.id !== e.payload.personId) };
    case 'case.informingSet': {
      const { personId, informing } = e.payload;
      return {
        ...next,
        persons: s.persons.map((x) => (x.id === personId ? { ...x, informing, informingHistory: [...x.informingHistory, decision(informing, meta)] } : x)),
      };
    }
    case 'item.added': {
      const p = e.payload;
      return withItem(next, {
        id: p.itemId,
        orgId: p.orgId,
        authorId: p.authorId,
        phase: p.phase,
        text: p.text,
        visibility: p.visibility,
        status: 'active',
        goalVersion: p.goalVersion,
        textDocId: p.textDocId,
        createdAt: meta.at,
        updatedAt: meta.at,
        restriction: null,
      });
    }
    case 'item.restricted': {
      const item = s.items.get(e.payload.itemId);
      if (!item) throw new Error(`${e.type} of an unknown item`);
      // Nothing else of the item moves (not its updatedAt): others are not shown that it changed.
      const { ground } = e.payload;
      return withItem(next, { ...item, restriction: ground === null ? null : { ground, byUserId: meta.actorUserId, at: meta.at } });
    }
    case 'item.edited':
    case 'item.visibilitySet':
    case 'item.withdrawn': {
      const item = s.items.get(e.payload.itemId);
      if (!item) throw new Error(`${e.type} of an unknown item`);
      const changed: Item = { ...item, updatedAt: meta.at };
      if (e.type === 'item.edited') {
        if (e.payload.text !== undefined) changed.text = e.payload.text;
        if (e.payload.phase !== undefined) changed.phase = e.payload.phase;
      } else if (e.type === 'item.visibilitySet') {
        changed.visibility = e.payload.visibility;
      } else {
        changed.status = 'withdrawn';
      }
      return withItem(next, changed);
    }
    case 'goal.proposed':
      return { ...next, goalProposal: { text: e.payload.text, version: e.payload.version, proposedAt: meta.at, byUserId: meta.actorUserId } };
    case 'goal.cancelled':
      return { ...next, goalProposal: null, consents: closeWhere(s, (r) => r.kind === 'goal' && r.goalVersion === e.payload.version) };
    case 'goal.inForce': {
      const v = e.payload.version;
      const changed = new Map<ItemId, Item>();
      for (const r of s.consents.values()) {
        if (r.kind !== 'goal' || r.goalVersion !== v || r.closed) continue;
        for (const id of r.itemIds) {
          const item = changed.get(id) ?? s.items.get(id);
          if (item && latestAnswer(r, id)?.answer === 'yes') changed.set(id, { ...item, goalVersion: v });
        }
      }
      return {
        ...next,
        items: ItemMap.from(s.items).withAll([...changed.values()]),
        goal: { text: s.goalProposal!.text, version: v },
        goalHistory: [...s.goalHistory, s.goal],
        goalProposal: null,
        consents: closeWhere(s, (r) => r.kind === 'goal' && r.goalVersion === v),
      };
    }
    case 'consent.requested': {
      const p = e.payload;
      const consents = new Map(s.consents);
      consents.set(p.requestId, {
        id: p.requestId,
        kind: p.kind,
        askedByUserId: meta.actorUserId,
        forOrgId: p.forOrgId,
        purpose: p.purpose,
        itemIds: p.itemIds,
        deadline: p.deadline,
        interventionId: p.interventionId,
        goalVersion: p.goalVersion,
        createdAt: meta.at,
        answers: [],
        closed: false,
      });
      return { ...next, consents };
    }
    case 'consent.answered': {
      const r = s.consents.get(e.payload.requestId);
      if (!r) throw new Error('consent.answered of an unknown request');
      const consents = new Map(s.consents);
      const answers = e.payload.answers.map((a) => ({ ...a, byUserId: meta.actorUserId, byOrgId: meta.actorOrgId, at: meta.at }));
      consents.set(r.id, { ...r, answers: [...r.answers, ...answers] });
      return { ...next, consents };
    }
    case 'decision.added': {
      const { decisionId: id, text, visibility } = e.payload;
      return { ...next, decisions: [...s.decisions, { id, text, visibility, byUserId: meta.actorUserId, byOrgId: meta.actorOrgId, at: meta.at }] };
    }
    case 'decision.visibilitySet': {
      const { decisionId, visibility } = e.payload;
      return { ...next, decisions: s.decisions.map((d) => (d.id === decisionId ? { ...d, visibility } : d)) };
    }
    case 'intervention.added': {
      const p = e.payload;
      return {
        ...next,
        interventions: [
          ...s.interventions,
          {
            id: p.interventionId,
            what: p.what,
            orgId: p.orgId,
            dueDate: p.dueDate,
            itemIds: p.itemIds,
            visibility: p.visibility,
            byUserId: meta.actorUserId,
            byOrgId: meta.actorOrgId,
            at: meta.at,
          },
        ],
      };
    }
    case 'intervention.visibilitySet': {
      const { interventionId, visibility } = e.payload;
      return { ...next, interventions: s.interventions.map((i) => (i.id === interventionId ? { ...i, visibility } : i)) };
    }
    case 'intervention.removed':
      return {
        ...next,
        interventions: s.interventions.filter((i) => i.id !== e.payload.interventionId),
        consents: closeWhere(s, (r) => r.interventionId === e.payload.interventionId),
      };
    case 'case.agendaScheduled': {
      const { meetingId, start, end } = e.payload;
      // Moved within the meeting: it keeps its minutes (a planned slot's are empty, but one name is one document).
      const minutesDocId = s.agenda.find((a) => a.meetingId === meetingId)?.minutesDocId ?? e.payload.minutesDocId;
      const others = s.agenda.filter((a) => a.meetingId !== meetingId);
      return { ...next, agenda: [...others, { meetingId, start, end, state: 'planned', minutesDocId }] };
    }
    case 'case.agendaUnscheduled':
      return { ...next, agenda: s.agenda.filter((a) => a.meetingId !== e.payload.meetingId) };
    case 'case.discussionBegan':
      return { ...next, agenda: withEntryState(s, e.payload.meetingId, 'running'), meetingOpen: true };
    case 'case.discussionEnded':
      return { ...next, agenda: withEntryState(s, e.payload.meetingId, 'done'), meetingOpen: false };
    case 'doc.update':
      // Text, not the case: the document holds it (collab/), and nothing else moves.
      return next;
  }
}

function withEntryState(s: CaseState, meetingId: AgendaEntry['meetingId'], state: AgendaEntry['state']): AgendaEntry[] {
  if (!s.agenda.some((a) => a.meetingId === meetingId)) throw new Error('discussion of a slot the case does not have');
  return s.agenda.map((a) => (a.meetingId === meetingId ? { ...a, state } : a));
}

/** Closes the requests that match: they keep their answers but take no new ones. */
function closeWhere(s: CaseState, match: (r: ConsentRequest) => boolean): Map<ConsentRequest['id'], ConsentRequest> {
  const out = new Map(s.consents);
  for (const [id, r] of s.consents) if (!r.closed && match(r)) out.set(id, { ...r, closed: true });
  return out;
}

function decision(i: Informing, meta: EventMeta): InformingDecision {
  return { ...i, at: meta.at, byUserId: meta.actorUserId, byOrgId: meta.actorOrgId };
}

function newPerson(p: z.infer<typeof NewPersonSchema>, meta: EventMeta): Person {
  return {
    id: p.personId,
    name: p.name,
    birthDate: p.birthDate,
    bsn: p.bsn,
    informing: p.informing,
    informingHistory: [decision(p.informing, meta)],
    addedAt: meta.at,
  };
}

/** Rebuilds a case from its log, optionally only up to a version. */
export function replay(rows: StoredEvent[]): CaseState | null {
  let s: CaseState | null = null;
  for (const row of rows) s = applyEvent(s, parseStoredEvent(row), row, row.version);
  return s;
}

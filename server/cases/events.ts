import { z } from 'zod';
import type { CaseState, InformingDecision, Item } from '../../shared/domain.js';
import { CaseIdSchema, ItemIdSchema, OrgIdSchema, TableIdSchema, UserIdSchema } from '../../shared/ids.js';
import { CaseRoleSchema, PhaseSchema, VisibilitySchema } from '../../shared/schemas.js';
import type { StoredEvent } from '../store/types.js';

const ParticipantSchema = z.object({ orgId: OrgIdSchema, role: CaseRoleSchema, userIds: z.array(UserIdSchema) });
const InformingSchema = z.object({
  informerOrgId: OrgIdSchema,
  dueDate: z.string(),
  status: z.enum(['open', 'done', 'postponed']),
  ground: z.string().nullable(),
  reviewDate: z.string().nullable(),
  doneAt: z.string().nullable(),
});

/** The facts a case log is made of. Stored rows are parsed by these schemas when read back. */
export const CaseEventSchemas = {
  'case.created': z.object({
    caseId: CaseIdSchema,
    tableId: TableIdSchema,
    title: z.string(),
    subjectNote: z.string(),
    goal: z.string(),
    participants: z.array(ParticipantSchema),
    informing: InformingSchema,
  }),
  'case.participantSet': z.object({ participant: ParticipantSchema }),
  'case.participantRemoved': z.object({ orgId: OrgIdSchema }),
  'case.phaseSet': z.object({ phase: PhaseSchema }),
  'case.informingSet': z.object({ informing: InformingSchema }),
  'item.added': z.object({
    itemId: ItemIdSchema,
    orgId: OrgIdSchema,
    authorId: UserIdSchema,
    phase: PhaseSchema,
    text: z.string(),
    visibility: VisibilitySchema,
    goalVersion: z.number().int().positive(),
  }),
  'item.edited': z.object({ itemId: ItemIdSchema, text: z.string().optional(), phase: PhaseSchema.optional() }),
  'item.visibilitySet': z.object({ itemId: ItemIdSchema, visibility: VisibilitySchema }),
  'item.withdrawn': z.object({ itemId: ItemIdSchema }),
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
  const items = new Map(s.items);
  items.set(item.id, item);
  return { ...s, items };
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
      informing: p.informing,
      informingHistory: [decision(p.informing, meta)],
      items: new Map(),
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
    case 'case.informingSet':
      return {
        ...next,
        informing: e.payload.informing,
        informingHistory: [...s.informingHistory, decision(e.payload.informing, meta)],
      };
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
        createdAt: meta.at,
        updatedAt: meta.at,
        changedInVersion: version,
      });
    }
    case 'item.edited':
    case 'item.visibilitySet':
    case 'item.withdrawn': {
      const item = s.items.get(e.payload.itemId);
      if (!item) throw new Error(`${e.type} of an unknown item`);
      const changed: Item = { ...item, updatedAt: meta.at, changedInVersion: version };
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
  }
}

function decision(i: CaseState['informing'], meta: EventMeta): InformingDecision {
  return { ...i, at: meta.at, byUserId: meta.actorUserId, byOrgId: meta.actorOrgId };
}

/** Rebuilds a case from its log, optionally only up to a version. */
export function replay(rows: StoredEvent[]): CaseState | null {
  let s: CaseState | null = null;
  for (const row of rows) s = applyEvent(s, parseStoredEvent(row), row, row.version);
  return s;
}

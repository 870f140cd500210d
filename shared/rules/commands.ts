import type { CaseState, Meeting, Organisation, Table, User, Viewer } from '../domain.js';
import {
  CaseIdSchema,
  ConsentIdSchema,
  DecisionIdSchema,
  InterventionIdSchema,
  ItemIdSchema,
  type CaseId,
  type ConsentId,
  type DecisionId,
  type InterventionId,
  type ItemId,
  type MeetingId,
  type OrgId,
  type TableId,
  type UserId,
} from '../ids.js';
import { maySeeCase, maySeeDecision, maySeeIntervention, maySeeItem, requestItemsSeen } from './access.js';

// What every command's rules share: the directory they may consult, and P-EXIST (what a command
// names, judged before its own rules). The rules of each command are in its module
// (server/cases/commands/).

/** What the rules need to know of the house's directory. */
export interface DirectoryLookup {
  org(id: OrgId): Organisation | undefined;
  user(id: UserId): User | undefined;
  table(id: TableId): Table | undefined;
  meeting(id: MeetingId): Meeting | undefined;
  /** The house's day now (YYYY-MM-DD, its own time zone): a meeting is held on its day. */
  today(): string;
  /** Whether the house records the BSN of the persons of its cases (PERSON_BSN). */
  readonly recordsBsn: boolean;
  /** R-RETAIN: days a closed case is kept, counted from its closing day (RETENTION_DAYS). */
  readonly retentionDays: number;
}

/** What a command names in a case: the things whose visibility is judged before anything else. */
export interface NamedIds {
  caseId: CaseId | null;
  /** The item the command is about (its `itemId`): the one its access-log record names. */
  itemId: ItemId | null;
  /** Every item it names, that one included. */
  itemIds: ItemId[];
  /** Items named as the viewer's organisation's own, withdrawn ones too (`ownItemId`). */
  ownItemIds: ItemId[];
  requestId: ConsentId | null;
  interventionId: InterventionId | null;
  decisionId: DecisionId | null;
}

/**
 * P-EXIST: a field by which a command names a case or something in it. Organisations and tables
 * are not among them: the directory shows them all to every user. People are named only by
 * chair-only commands, and a chair is shown the people of the house.
 */
export type NamingField = 'caseId' | 'itemId' | 'ownItemId' | 'itemIds' | 'answers' | 'requestId' | 'interventionId' | 'decisionId';

const field = (input: unknown, key: string): unknown =>
  typeof input === 'object' && input !== null && Object.hasOwn(input, key) ? (input as Record<string, unknown>)[key] : undefined;
// Not cut to the schema's maximum: the commands' rules read every item a valid input names.
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const idOr = <T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, v: unknown): T | null => {
  const r = schema.safeParse(v);
  return r.success ? r.data : null;
};

/**
 * The ids a command's input names by these fields, read leniently so that input which failed its
 * schema is judged the same way: an id that is itself malformed names nothing and is left out.
 */
export function namedIds(fields: readonly NamingField[], input: unknown): NamedIds {
  const own = fields.includes('ownItemId') ? idOr(ItemIdSchema, field(input, 'itemId')) : null;
  const seen = fields.includes('itemId') ? idOr(ItemIdSchema, field(input, 'itemId')) : null;
  const itemId = seen ?? own;
  const items: unknown[] = [];
  if (seen !== null) items.push(seen);
  if (fields.includes('itemIds')) items.push(...list(field(input, 'itemIds')));
  if (fields.includes('answers')) items.push(...list(field(input, 'answers')).map((a) => field(a, 'itemId')));
  return {
    caseId: fields.includes('caseId') ? idOr(CaseIdSchema, field(input, 'caseId')) : null,
    itemId,
    itemIds: items.map((v) => idOr(ItemIdSchema, v)).filter((id): id is ItemId => id !== null),
    ownItemIds: own === null ? [] : [own],
    requestId: fields.includes('requestId') ? idOr(ConsentIdSchema, field(input, 'requestId')) : null,
    interventionId: fields.includes('interventionId') ? idOr(InterventionIdSchema, field(input, 'interventionId')) : null,
    decisionId: fields.includes('decisionId') ? idOr(DecisionIdSchema, field(input, 'decisionId')) : null,
  };
}

/**
 * P-EXIST: may the viewer see everything the command names? Judged first, for valid and invalid
 * input alike, so a refusal for a hidden thing is the refusal for an unknown one, whatever else
 * is wrong with the command.
 */
export function maySeeNamed(c: CaseState, named: NamedIds, viewer: Viewer): boolean {
  if (!maySeeCase(c, viewer)) return false;
  for (const id of named.itemIds) {
    const item = c.items.get(id);
    if (!item || !maySeeItem(c, item, viewer)) return false;
  }
  // Its own organisation's item, withdrawn too: nobody else's, whether or not it may see it.
  for (const id of named.ownItemIds) if (c.items.get(id)?.orgId !== viewer.orgId) return false;
  if (named.requestId !== null) {
    const r = c.consents.get(named.requestId);
    if (!r || requestItemsSeen(c, r, viewer).length === 0) return false;
  }
  if (named.interventionId !== null) {
    const i = c.interventions.find((x) => x.id === named.interventionId);
    if (!i || !maySeeIntervention(c, i, viewer)) return false;
  }
  if (named.decisionId !== null) {
    const d = c.decisions.find((x) => x.id === named.decisionId);
    if (!d || !maySeeDecision(c, d, viewer)) return false;
  }
  return true;
}

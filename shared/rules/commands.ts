import type { CaseState, Organisation, Table, User, Viewer, Visibility } from '../domain.js';
import { phaseIndex } from '../domain.js';
import { appError, type AppError } from '../errors.js';
import { CaseIdSchema, ConsentIdSchema, InterventionIdSchema, ItemIdSchema, type CaseId, type ConsentId, type InterventionId, type ItemId, type OrgId, type TableId, type UserId } from '../ids.js';
import { MAX_ITEMS_PER_CASE, MAX_PARTICIPANTS_PER_CASE } from '../limits.js';
import type { CommandInput, CommandName } from '../schemas.js';
import { chosenToSee, isChairOf, maySeeCase, maySeeIntervention, maySeeItem, requestItemsSeen } from './access.js';

/** What the rules need to know of the house's directory. */
export interface DirectoryLookup {
  org(id: OrgId): Organisation | undefined;
  user(id: UserId): User | undefined;
  table(id: TableId): Table | undefined;
}

type ParticipantInput = CommandInput<'case:setParticipant'>['participant'];

const bad = (message: string): AppError => appError('BAD_REQUEST', message);

/** R-PROTOCOL + R-ROLE: a participant is a signatory, and its people belong to it. */
function checkParticipant(p: ParticipantInput, dir: DirectoryLookup): AppError | null {
  const org = dir.org(p.orgId);
  if (!org) return bad('Onbekende organisatie.');
  if (!org.protocolSignedAt) return appError('NOT_SIGNED');
  if (new Set(p.userIds).size !== p.userIds.length) return bad('Een persoon staat dubbel in de lijst.');
  for (const id of p.userIds) {
    const u = dir.user(id);
    if (!u || !u.active || u.orgId !== p.orgId) return bad('Een gekozen persoon hoort niet bij deze organisatie.');
  }
  if (p.role === 'voorzitter' && org.kind !== 'zvh') return bad('Alleen het Zorg- en Veiligheidshuis zit voor.');
  return null;
}

/** R-NEED: an item can be restricted only to organisations at the table. */
function checkVisibility(c: CaseState, v: Visibility): AppError | null {
  if (v.kind === 'table') return null;
  const at = new Set(c.participants.map((p) => p.orgId));
  if (new Set(v.orgIds).size !== v.orgIds.length) return bad('Een organisatie staat dubbel in de lijst.');
  return v.orgIds.every((o) => at.has(o)) ? null : bad('Alleen deelnemende organisaties kunnen meelezen.');
}

/** Hidden and absent look the same: the error never says whether a case exists. */
const notFound = (): AppError => appError('NOT_FOUND');

/** What a command names in a case: the things whose visibility is judged before anything else. */
export interface NamedIds {
  caseId: CaseId | null;
  itemIds: ItemId[];
  requestId: ConsentId | null;
  interventionId: InterventionId | null;
}

type NamingField = 'caseId' | 'itemId' | 'itemIds' | 'answers' | 'requestId' | 'interventionId';

/**
 * P-EXIST: the fields by which each command names a case or something in it. Organisations and
 * tables are not listed: the directory shows them all to every user. People are named only by
 * chair-only commands, and a chair is shown the people of the house.
 */
const NAMING_FIELDS: Record<CommandName, readonly NamingField[]> = {
  'case:open': ['caseId'],
  'case:leave': ['caseId'],
  'case:create': [],
  'case:setParticipant': ['caseId'],
  'case:removeParticipant': ['caseId'],
  'case:setPhase': ['caseId'],
  'case:setInforming': ['caseId'],
  'item:add': ['caseId'],
  'item:edit': ['caseId', 'itemId'],
  'item:setVisibility': ['caseId', 'itemId'],
  'item:withdraw': ['caseId', 'itemId'],
  'goal:propose': ['caseId'],
  'goal:cancel': ['caseId'],
  'consent:request': ['caseId', 'itemIds'],
  'consent:answer': ['caseId', 'requestId', 'answers'],
  'decision:add': ['caseId'],
  'intervention:add': ['caseId', 'itemIds'],
  'intervention:remove': ['caseId', 'interventionId'],
  'meeting:open': ['caseId'],
  'meeting:close': ['caseId'],
};

const field = (input: unknown, key: string): unknown =>
  typeof input === 'object' && input !== null && Object.hasOwn(input, key) ? (input as Record<string, unknown>)[key] : undefined;
// Not cut to the schema's maximum: the rules below read every item a valid input names.
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const idOr = <T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, v: unknown): T | null => {
  const r = schema.safeParse(v);
  return r.success ? r.data : null;
};

/**
 * The ids a command's input names, read leniently so that input which failed its schema is judged
 * the same way: an id that is itself malformed names nothing and is left out.
 */
export function namedIds(name: CommandName, input: unknown): NamedIds {
  const fields = NAMING_FIELDS[name];
  const items: unknown[] = [];
  if (fields.includes('itemId')) items.push(field(input, 'itemId'));
  if (fields.includes('itemIds')) items.push(...list(field(input, 'itemIds')));
  if (fields.includes('answers')) items.push(...list(field(input, 'answers')).map((a) => field(a, 'itemId')));
  return {
    caseId: fields.includes('caseId') ? idOr(CaseIdSchema, field(input, 'caseId')) : null,
    itemIds: items.map((v) => idOr(ItemIdSchema, v)).filter((id): id is ItemId => id !== null),
    requestId: fields.includes('requestId') ? idOr(ConsentIdSchema, field(input, 'requestId')) : null,
    interventionId: fields.includes('interventionId') ? idOr(InterventionIdSchema, field(input, 'interventionId')) : null,
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
  if (named.requestId !== null) {
    const r = c.consents.get(named.requestId);
    if (!r || requestItemsSeen(c, r, viewer).length === 0) return false;
  }
  if (named.interventionId !== null) {
    const i = c.interventions.find((x) => x.id === named.interventionId);
    if (!i || !maySeeIntervention(c, i, viewer)) return false;
  }
  return true;
}

function chairOnly(c: CaseState, viewer: Viewer): AppError | null {
  return isChairOf(c, viewer) ? null : appError('FORBIDDEN', 'Alleen de voorzitter van deze casus kan dit.');
}

export function authorizeCreate(input: CommandInput<'case:create'>, viewer: Viewer, dir: DirectoryLookup): AppError | null {
  const me = dir.user(viewer.userId);
  if (!viewer.roles.includes('chair') || dir.org(viewer.orgId)?.kind !== 'zvh' || !me?.active) {
    return appError('FORBIDDEN', 'Alleen een procesregisseur van het Zorg- en Veiligheidshuis maakt casussen aan.');
  }
  if (!dir.table(input.tableId)) return bad('Onbekende overlegtafel.');
  const orgs = input.participants.map((p) => p.orgId);
  if (new Set(orgs).size !== orgs.length) return bad('Een organisatie staat dubbel in de lijst.');
  for (const p of input.participants) {
    const err = checkParticipant(p, dir);
    if (err) return err;
  }
  const chairs = input.participants.filter((p) => p.role === 'voorzitter');
  if (chairs.length !== 1 || chairs[0]!.orgId !== viewer.orgId || !chairs[0]!.userIds.includes(viewer.userId)) {
    return bad('U neemt zelf deel als voorzitter.');
  }
  if (input.participants.filter((p) => p.role === 'aanmelder').length > 1) return bad('Een casus heeft één aanmelder.');
  const informer = input.informerOrgId ?? input.participants.find((p) => p.role === 'aanmelder')?.orgId;
  if (!informer || !orgs.includes(informer)) return bad('Kies een deelnemende organisatie die de betrokkene informeert.');
  return null;
}

/**
 * R-ROLE, R-OWN, R-BOB, R-INFORM, R-PROTOCOL: may this viewer run this command on this case?
 * Returns the error to answer with, or null. Pure: the caller supplies state and directory.
 */
export function authorizeCaseCommand<N extends Exclude<CommandName, 'case:create'>>(
  name: N,
  input: CommandInput<N>,
  c: CaseState,
  viewer: Viewer,
  dir: DirectoryLookup,
): AppError | null {
  // P-EXIST: everything the command names must be visible before any other rule is applied.
  if (!maySeeNamed(c, namedIds(name, input), viewer)) return notFound();
  switch (name) {
    case 'case:open':
    case 'case:leave':
      return null;
    case 'case:setParticipant': {
      const err = chairOnly(c, viewer);
      if (err) return err;
      const { participant: p } = input as CommandInput<'case:setParticipant'>;
      const perr = checkParticipant(p, dir);
      if (perr) return perr;
      const current = c.participants.find((x) => x.orgId === p.orgId);
      if ((current?.role === 'voorzitter') !== (p.role === 'voorzitter')) {
        return bad('De rol van voorzitter gaat niet over naar een andere organisatie.');
      }
      if (p.role === 'voorzitter' && !p.userIds.includes(viewer.userId)) return bad('U blijft zelf voorzitter.');
      if (p.role === 'aanmelder' && c.participants.some((x) => x.role === 'aanmelder' && x.orgId !== p.orgId)) {
        return bad('Een casus heeft één aanmelder.');
      }
      if (!current && c.participants.length >= MAX_PARTICIPANTS_PER_CASE) return appError('TOO_LARGE');
      return null;
    }
    case 'case:removeParticipant': {
      const err = chairOnly(c, viewer);
      if (err) return err;
      const { orgId } = input as CommandInput<'case:removeParticipant'>;
      const current = c.participants.find((x) => x.orgId === orgId);
      if (!current) return bad('Deze organisatie neemt niet deel.');
      if (current.role === 'voorzitter') return bad('De voorzitter kan niet worden verwijderd.');
      if (c.informing.informerOrgId === orgId) return bad('Wijs eerst een andere organisatie aan die de betrokkene informeert.');
      return null;
    }
    case 'case:setPhase': {
      const err = chairOnly(c, viewer);
      if (err) return err;
      // R-BOB: through the phases one step at a time; a step back is allowed when the picture needs more.
      const step = phaseIndex((input as CommandInput<'case:setPhase'>).phase) - phaseIndex(c.phase);
      if (step === 0) return bad('De casus is al in deze fase.');
      return Math.abs(step) === 1 ? null : appError('WRONG_PHASE', 'De fasen worden één voor één doorlopen.');
    }
    case 'case:setInforming': {
      const { informing } = input as CommandInput<'case:setInforming'>;
      if (!c.participants.some((p) => p.orgId === informing.informerOrgId)) {
        return bad('Kies een deelnemende organisatie die de betrokkene informeert.');
      }
      if (isChairOf(c, viewer)) return null;
      // The informing organisation may record that it has informed the person, nothing more.
      // Not over a postponement: that is the chair's recorded decision.
      const onlyMarksDone =
        informing.status === 'done' &&
        c.informing.status === 'open' &&
        c.informing.informerOrgId === viewer.orgId &&
        informing.informerOrgId === c.informing.informerOrgId &&
        informing.dueDate === c.informing.dueDate;
      return onlyMarksDone ? null : appError('FORBIDDEN', 'Alleen de voorzitter legt dit besluit vast.');
    }
    case 'item:add': {
      const a = input as CommandInput<'item:add'>;
      if (phaseIndex(a.phase) > phaseIndex(c.phase)) return appError('WRONG_PHASE');
      if (c.items.size >= MAX_ITEMS_PER_CASE) return appError('TOO_LARGE');
      return checkVisibility(c, a.visibility);
    }
    case 'item:edit':
    case 'item:setVisibility':
    case 'item:withdraw': {
      const item = c.items.get((input as CommandInput<'item:withdraw'>).itemId)!;
      // R-OWN: only the contributing organisation changes, restricts or withdraws its item.
      if (item.orgId !== viewer.orgId) return appError('FORBIDDEN', 'Alleen de inbrengende organisatie kan dit wijzigen.');
      if (name === 'item:edit') {
        const e = input as CommandInput<'item:edit'>;
        if (e.phase && phaseIndex(e.phase) > phaseIndex(c.phase)) return appError('WRONG_PHASE');
      }
      if (name === 'item:setVisibility') return checkVisibility(c, (input as CommandInput<'item:setVisibility'>).visibility);
      return null;
    }
    case 'goal:propose': {
      const err = chairOnly(c, viewer);
      if (err) return err;
      if (c.goalProposal) return appError('GOAL_FROZEN', 'Er loopt al een doelwijziging.');
      return (input as CommandInput<'goal:propose'>).text === c.goal.text ? bad('Dit is het huidige doel.') : null;
    }
    case 'goal:cancel': {
      const err = chairOnly(c, viewer);
      if (err) return err;
      return c.goalProposal ? null : bad('Er loopt geen doelwijziging.');
    }
    case 'consent:request': {
      const own = (input as CommandInput<'consent:request'>).itemIds.some((id) => c.items.get(id)!.orgId === viewer.orgId);
      return own ? bad('Voor eigen inbreng is geen toestemming nodig.') : null;
    }
    case 'consent:answer':
      return authorizeAnswer(input as CommandInput<'consent:answer'>, c, viewer);
    case 'decision:add': {
      const err = chairOnly(c, viewer);
      return err ?? planOpen(c);
    }
    case 'intervention:add': {
      const a = input as CommandInput<'intervention:add'>;
      // The chair records any intervention; a partner records one its own organisation carries out.
      if (!isChairOf(c, viewer) && a.orgId !== viewer.orgId) return appError('FORBIDDEN', 'Alleen de voorzitter legt interventies van anderen vast.');
      if (!c.participants.some((p) => p.orgId === a.orgId)) return bad('De uitvoerder neemt niet deel aan de casus.');
      const perr = planOpen(c);
      if (perr) return perr;
      // R-NEED: an intervention cannot hand the executor an item its contributor kept from it.
      const kept = a.itemIds.some((id) => !chosenToSee(c.items.get(id)!, a.orgId));
      return kept ? bad('Deze inbreng is niet zichtbaar voor de uitvoerende organisatie.') : null;
    }
    case 'intervention:remove':
      return chairOnly(c, viewer);
    case 'meeting:open':
    case 'meeting:close': {
      const err = chairOnly(c, viewer);
      if (err) return err;
      const open = name === 'meeting:open';
      return c.meetingOpen === open ? bad(open ? 'Het overleg is al open.' : 'Het overleg is al gesloten.') : null;
    }
    default:
      return appError('UNKNOWN_COMMAND');
  }
}

/** R-BOB + R-GOAL: the plan of action is made in the decision phase, in an open meeting, never under a frozen goal. */
function planOpen(c: CaseState): AppError | null {
  if (c.phase !== 'besluiten') return appError('WRONG_PHASE', 'Besluiten en interventies horen in de fase Besluiten.');
  if (c.goalProposal) return appError('GOAL_FROZEN');
  if (!c.meetingOpen) return appError('MEETING_CLOSED');
  return null;
}

/** R-OWN: only the contributing organisation answers, item by item, on an open request. */
function authorizeAnswer(a: CommandInput<'consent:answer'>, c: CaseState, viewer: Viewer): AppError | null {
  // The request and the items are visible (maySeeNamed); an item it does not ask about is not found in it.
  const r = c.consents.get(a.requestId)!;
  if (a.answers.some((x) => !r.itemIds.includes(x.itemId))) return notFound();
  if (new Set(a.answers.map((x) => x.itemId)).size !== a.answers.length) return bad('Een inbreng staat dubbel in de antwoorden.');
  if (a.answers.some((x) => c.items.get(x.itemId)!.orgId !== viewer.orgId)) {
    return appError('FORBIDDEN', 'Alleen de inbrengende organisatie beantwoordt dit verzoek.');
  }
  if (r.closed) return bad('Dit verzoek is gesloten.');
  return null;
}

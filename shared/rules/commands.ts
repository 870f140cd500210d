import type { CaseState, Organisation, Table, User, Viewer, Visibility } from '../domain.js';
import { phaseIndex } from '../domain.js';
import { appError, type AppError } from '../errors.js';
import type { OrgId, TableId, UserId } from '../ids.js';
import { MAX_ITEMS_PER_CASE, MAX_PARTICIPANTS_PER_CASE } from '../limits.js';
import type { CommandInput, CommandName } from '../schemas.js';
import { chosenToSee, isChairOf, maySeeCase, maySeeItem } from './access.js';

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

function chairOnly(c: CaseState, viewer: Viewer): AppError | null {
  if (!maySeeCase(c, viewer)) return notFound();
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
  switch (name) {
    case 'case:open':
    case 'case:leave':
      return maySeeCase(c, viewer) ? null : notFound();
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
      if (!maySeeCase(c, viewer)) return notFound();
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
      if (!maySeeCase(c, viewer)) return notFound();
      const a = input as CommandInput<'item:add'>;
      if (phaseIndex(a.phase) > phaseIndex(c.phase)) return appError('WRONG_PHASE');
      if (c.items.size >= MAX_ITEMS_PER_CASE) return appError('TOO_LARGE');
      return checkVisibility(c, a.visibility);
    }
    case 'item:edit':
    case 'item:setVisibility':
    case 'item:withdraw': {
      const { itemId } = input as CommandInput<'item:withdraw'>;
      const item = c.items.get(itemId);
      if (!item || !maySeeItem(c, item, viewer)) return notFound();
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
      if (!maySeeCase(c, viewer)) return notFound();
      for (const id of (input as CommandInput<'consent:request'>).itemIds) {
        const item = c.items.get(id);
        if (!item || !maySeeItem(c, item, viewer)) return notFound();
        if (item.orgId === viewer.orgId) return bad('Voor eigen inbreng is geen toestemming nodig.');
      }
      return null;
    }
    case 'consent:answer':
      return authorizeAnswer(input as CommandInput<'consent:answer'>, c, viewer);
    case 'decision:add': {
      const err = chairOnly(c, viewer);
      return err ?? planOpen(c);
    }
    case 'intervention:add': {
      if (!maySeeCase(c, viewer)) return notFound();
      const a = input as CommandInput<'intervention:add'>;
      // The chair records any intervention; a partner records one its own organisation carries out.
      if (!isChairOf(c, viewer) && a.orgId !== viewer.orgId) return appError('FORBIDDEN', 'Alleen de voorzitter legt interventies van anderen vast.');
      if (!c.participants.some((p) => p.orgId === a.orgId)) return bad('De uitvoerder neemt niet deel aan de casus.');
      const perr = planOpen(c);
      if (perr) return perr;
      for (const id of a.itemIds) {
        const item = c.items.get(id);
        if (!item || !maySeeItem(c, item, viewer)) return notFound();
        // R-NEED: an intervention cannot hand the executor an item its contributor kept from it.
        if (!chosenToSee(item, a.orgId)) return bad('Deze inbreng is niet zichtbaar voor de uitvoerende organisatie.');
      }
      return null;
    }
    case 'intervention:remove': {
      const err = chairOnly(c, viewer);
      if (err) return err;
      const { interventionId } = input as CommandInput<'intervention:remove'>;
      return c.interventions.some((i) => i.id === interventionId) ? null : notFound();
    }
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
  if (!maySeeCase(c, viewer)) return notFound();
  const r = c.consents.get(a.requestId);
  if (!r) return notFound();
  if (new Set(a.answers.map((x) => x.itemId)).size !== a.answers.length) return bad('Een inbreng staat dubbel in de antwoorden.');
  for (const ans of a.answers) {
    const item = c.items.get(ans.itemId);
    if (!item || !r.itemIds.includes(ans.itemId) || !maySeeItem(c, item, viewer)) return notFound();
    if (item.orgId !== viewer.orgId) return appError('FORBIDDEN', 'Alleen de inbrengende organisatie beantwoordt dit verzoek.');
  }
  if (r.closed) return bad('Dit verzoek is gesloten.');
  return null;
}

import type { CaseState, Organisation, Table, User, Viewer, Visibility } from '../domain.js';
import { phaseIndex } from '../domain.js';
import { appError, type AppError } from '../errors.js';
import type { OrgId, TableId, UserId } from '../ids.js';
import { MAX_ITEMS_PER_CASE, MAX_PARTICIPANTS_PER_CASE } from '../limits.js';
import type { CommandInput, CommandName } from '../schemas.js';
import { isChairOf, maySeeCase, maySeeItem } from './access.js';

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
      return (input as CommandInput<'case:setPhase'>).phase === c.phase ? bad('De casus is al in deze fase.') : null;
    }
    case 'case:setInforming': {
      if (!maySeeCase(c, viewer)) return notFound();
      const { informing } = input as CommandInput<'case:setInforming'>;
      if (!c.participants.some((p) => p.orgId === informing.informerOrgId)) {
        return bad('Kies een deelnemende organisatie die de betrokkene informeert.');
      }
      if (isChairOf(c, viewer)) return null;
      // The informing organisation may record that it has informed the person, nothing more.
      const onlyMarksDone =
        informing.status === 'done' &&
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
    default:
      return appError('UNKNOWN_COMMAND');
  }
}

import { MAX_PARTICIPANTS_PER_CASE } from '../../../shared/limits.js';
import { appError, type AppError } from '../../../shared/errors.js';
import type { DirectoryLookup } from '../../../shared/rules/commands.js';
import type { CommandInput } from '../../../shared/schemas.js';
import { bad, chairOnly, defineCommand } from './define.js';

type ParticipantInput = CommandInput<'case:setParticipant'>['participant'];

/** R-PROTOCOL + R-ROLE: a participant is a signatory, and its people belong to it. */
export function checkParticipant(p: ParticipantInput, dir: DirectoryLookup): AppError | null {
  const org = dir.org(p.orgId);
  if (!org) return bad('Onbekende organisatie.');
  if (!org.protocolSignedAt) return appError('NOT_SIGNED');
  if (new Set(p.userIds).size !== p.userIds.length) return bad('Een persoon staat dubbel in de lijst.');
  for (const id of p.userIds) {
    const u = dir.user(id);
    if (!u || !u.active || u.orgId !== p.orgId) return bad('Een gekozen persoon hoort niet bij deze organisatie.');
    // R-ACCESS: the privacy officer supervises the processing and takes part in no case.
    if (u.roles.includes('privacy')) return bad('De privacyfunctionaris neemt niet deel aan casussen.');
  }
  if (p.role === 'voorzitter' && org.kind !== 'zvh') return bad('Alleen het Zorg- en Veiligheidshuis zit voor.');
  return null;
}

export const participantCommands = {
  'case:setParticipant': defineCommand('case:setParticipant', {
    names: ['caseId'],
    action: 'update',
    authorize({ participant: p }, c, viewer, dir) {
      const err = chairOnly(c, viewer);
      if (err) return err;
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
    },
    decide: ({ participant }) => ({ events: [{ type: 'case.participantSet', payload: { participant } }], data: null }),
  }),

  'case:removeParticipant': defineCommand('case:removeParticipant', {
    names: ['caseId'],
    action: 'delete',
    authorize({ orgId }, c, viewer) {
      const err = chairOnly(c, viewer);
      if (err) return err;
      const current = c.participants.find((x) => x.orgId === orgId);
      if (!current) return bad('Deze organisatie neemt niet deel.');
      if (current.role === 'voorzitter') return bad('De voorzitter kan niet worden verwijderd.');
      if (c.persons.some((p) => p.informing.informerOrgId === orgId)) return bad('Wijs eerst een andere organisatie aan die de betrokkenen informeert.');
      return null;
    },
    decide: ({ orgId }) => ({ events: [{ type: 'case.participantRemoved', payload: { orgId } }], data: null }),
  }),
};

import { phaseIndex } from '../../../shared/domain.js';
import { appError } from '../../../shared/errors.js';
import { newId, type PersonId } from '../../../shared/ids.js';
import { bad, chairOnly, defineCommand, defineCreate } from './define.js';
import { checkParticipant } from './participants.js';
import { checkPerson, openInforming, personFields } from './persons.js';

// The case itself: its making, with the persons it concerns, and its phase (R-BOB).

export const caseCommands = {
  'case:create': defineCreate({
    names: [],
    action: 'create',
    authorize(input, viewer, dir) {
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
      if (!informer || !orgs.includes(informer)) return bad('Kies een deelnemende organisatie die de betrokkenen informeert.');
      for (const p of input.persons) {
        const err = checkPerson(p, [], dir);
        if (err) return err;
      }
      return null;
    },
    decide(input, caseId) {
      const informer = input.informerOrgId ?? input.participants.find((p) => p.role === 'aanmelder')!.orgId;
      return [
        {
          type: 'case.created',
          payload: {
            caseId,
            tableId: input.tableId,
            title: input.title,
            subjectNote: input.subjectNote,
            goal: input.goal,
            participants: input.participants,
            persons: input.persons.map((p) => ({
              personId: newId<PersonId>('prs'),
              ...personFields(p),
              informing: openInforming(informer, input.informDueDate),
            })),
          },
        },
      ];
    },
  }),

  'case:setPhase': defineCommand('case:setPhase', {
    names: ['caseId'],
    action: 'update',
    authorize({ phase }, c, viewer) {
      const err = chairOnly(c, viewer);
      if (err) return err;
      // R-BOB: through the phases one step at a time; a step back is allowed when the picture needs more.
      const step = phaseIndex(phase) - phaseIndex(c.phase);
      if (step === 0) return bad('De casus is al in deze fase.');
      return Math.abs(step) === 1 ? null : appError('WRONG_PHASE', 'De fasen worden één voor één doorlopen.');
    },
    decide: ({ phase }) => ({ events: [{ type: 'case.phaseSet', payload: { phase } }], data: null }),
  }),
};

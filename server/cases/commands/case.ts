import type { Informing } from '../../../shared/domain.js';
import { phaseIndex } from '../../../shared/domain.js';
import { appError } from '../../../shared/errors.js';
import { isChairOf } from '../../../shared/rules/access.js';
import { bad, chairOnly, defineCommand, defineCreate } from './define.js';
import { checkParticipant } from './participants.js';

// The case itself: its making, its phase (R-BOB), and the informing of the person (R-INFORM).

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
      if (!informer || !orgs.includes(informer)) return bad('Kies een deelnemende organisatie die de betrokkene informeert.');
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
            informing: {
              informerOrgId: informer,
              dueDate: input.informDueDate,
              status: 'open',
              ground: null,
              groundVisibility: null,
              reviewDate: null,
              doneAt: null,
            },
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

  'case:setInforming': defineCommand('case:setInforming', {
    names: ['caseId'],
    action: 'update',
    authorize({ informing }, c, viewer) {
      if (!c.participants.some((p) => p.orgId === informing.informerOrgId)) {
        return bad('Kies een deelnemende organisatie die de betrokkene informeert.');
      }
      const named = informing.status === 'postponed' && informing.groundVisibility?.kind === 'orgs' ? informing.groundVisibility.orgIds : [];
      if (named.some((o) => !c.participants.some((p) => p.orgId === o))) return bad('De grond kan alleen zichtbaar zijn voor organisaties aan tafel.');
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
    },
    decide({ informing: i }, c, _viewer, now) {
      const informing: Informing = {
        informerOrgId: i.informerOrgId,
        dueDate: i.dueDate,
        status: i.status,
        ground: i.status === 'postponed' ? i.ground : null,
        groundVisibility: i.status === 'postponed' ? (i.groundVisibility ?? { kind: 'table' }) : null,
        reviewDate: i.status === 'postponed' ? i.reviewDate : null,
        doneAt: i.status === 'done' ? (c.informing.doneAt ?? now) : null,
      };
      return { events: [{ type: 'case.informingSet', payload: { informing } }], data: null };
    },
  }),
};

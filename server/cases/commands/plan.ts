import type { CaseState } from '../../../shared/domain.js';
import { appError, type AppError } from '../../../shared/errors.js';
import { newId, type ConsentId, type DecisionId, type InterventionId } from '../../../shared/ids.js';
import { chosenToSee, isChairOf } from '../../../shared/rules/access.js';
import type { CaseEvent } from '../events.js';
import { bad, chairOnly, defineCommand } from './define.js';
import { checkVisibility } from './items.js';

const TABLE = { kind: 'table' } as const;

// The plan of action (R-BOB): decisions and interventions; what an intervention needs of other
// organisations' items becomes a request to take them home (R-TAKEHOME).

/** R-BOB + R-GOAL: the plan of action is made in the decision phase, in an open meeting, never under a frozen goal. */
function planOpen(c: CaseState): AppError | null {
  if (c.phase !== 'besluiten') return appError('WRONG_PHASE', 'Besluiten en interventies horen in de fase Besluiten.');
  if (c.goalProposal) return appError('GOAL_FROZEN');
  if (!c.meetingOpen) return appError('MEETING_CLOSED');
  return null;
}

export const planCommands = {
  'decision:add': defineCommand('decision:add', {
    names: ['caseId'],
    action: 'create',
    authorize({ visibility }, c, viewer) {
      return chairOnly(c, viewer) ?? planOpen(c) ?? (visibility ? checkVisibility(c, visibility) : null);
    },
    decide: ({ text, visibility }) => ({
      events: [{ type: 'decision.added', payload: { decisionId: newId<DecisionId>('dc'), text, visibility: visibility ?? TABLE } }],
      data: null,
    }),
  }),

  // R-NEED: the chair narrows or widens who reads a decision, at any time (its author's organisation always does).
  'decision:setVisibility': defineCommand('decision:setVisibility', {
    names: ['caseId', 'decisionId'],
    action: 'update',
    authorize: ({ visibility }, c, viewer) => chairOnly(c, viewer) ?? checkVisibility(c, visibility),
    decide: ({ decisionId, visibility }) => ({ events: [{ type: 'decision.visibilitySet', payload: { decisionId, visibility } }], data: null }),
  }),

  'intervention:setVisibility': defineCommand('intervention:setVisibility', {
    names: ['caseId', 'interventionId'],
    action: 'update',
    authorize: ({ visibility }, c, viewer) => chairOnly(c, viewer) ?? checkVisibility(c, visibility),
    decide: ({ interventionId, visibility }) => ({ events: [{ type: 'intervention.visibilitySet', payload: { interventionId, visibility } }], data: null }),
  }),

  'intervention:add': defineCommand('intervention:add', {
    names: ['caseId', 'itemIds'],
    action: 'create',
    authorize(a, c, viewer) {
      // The chair records any intervention; a partner records one its own organisation carries out.
      if (!isChairOf(c, viewer) && a.orgId !== viewer.orgId) return appError('FORBIDDEN', 'Alleen de voorzitter legt interventies van anderen vast.');
      if (!c.participants.some((p) => p.orgId === a.orgId)) return bad('De uitvoerder neemt niet deel aan de casus.');
      const perr = planOpen(c) ?? (a.visibility ? checkVisibility(c, a.visibility) : null);
      if (perr) return perr;
      // R-NEED: an intervention cannot hand the executor an item its contributor kept from it.
      const kept = a.itemIds.some((id) => !chosenToSee(c.items.get(id)!, a.orgId));
      return kept ? bad('Deze inbreng is niet zichtbaar voor de uitvoerende organisatie.') : null;
    },
    // R-TAKEHOME: other organisations' items an intervention needs become a request to their contributors.
    decide(a, c) {
      const interventionId = newId<InterventionId>('iv');
      const events: CaseEvent[] = [
        {
          type: 'intervention.added',
          payload: { interventionId, what: a.what, orgId: a.orgId, dueDate: a.dueDate ?? null, itemIds: a.itemIds, visibility: a.visibility ?? TABLE },
        },
      ];
      const foreign = a.itemIds.filter((id) => c.items.get(id)!.orgId !== a.orgId);
      if (foreign.length > 0) {
        events.push({
          type: 'consent.requested',
          payload: {
            requestId: newId<ConsentId>('cr'),
            kind: 'takehome',
            forOrgId: a.orgId,
            purpose: a.what,
            itemIds: foreign,
            deadline: a.dueDate ?? null,
            interventionId,
            goalVersion: null,
          },
        });
      }
      return { events, data: null };
    },
  }),

  'intervention:remove': defineCommand('intervention:remove', {
    names: ['caseId', 'interventionId'],
    action: 'delete',
    authorize: (_input, c, viewer) => chairOnly(c, viewer),
    decide: ({ interventionId }) => ({ events: [{ type: 'intervention.removed', payload: { interventionId } }], data: null }),
  }),
};

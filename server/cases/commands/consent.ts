import { appError } from '../../../shared/errors.js';
import { newId, type ConsentId } from '../../../shared/ids.js';
import type { CaseEvent } from '../events.js';
import { bad, defineCommand, notFound } from './define.js';
import { settleGoal } from './goal.js';

// Consent for every further use of an item (R-REUSE), answered by its contributor only (R-OWN).

export const consentCommands = {
  'consent:request': defineCommand('consent:request', {
    names: ['caseId', 'itemIds'],
    action: 'create',
    authorize({ itemIds }, c, viewer) {
      const own = itemIds.some((id) => c.items.get(id)!.orgId === viewer.orgId);
      return own ? bad('Voor eigen inbreng is geen toestemming nodig.') : null;
    },
    decide(r, _c, viewer) {
      const requestId = newId<ConsentId>('cr');
      const requested: CaseEvent = {
        type: 'consent.requested',
        payload: {
          requestId,
          kind: 'reuse',
          forOrgId: viewer.orgId,
          purpose: r.purpose,
          itemIds: r.itemIds,
          deadline: r.deadline ?? null,
          interventionId: null,
          goalVersion: null,
        },
      };
      return { events: [requested], data: { requestId } };
    },
  }),

  // R-OWN: only the contributing organisation answers, item by item, on an open request.
  'consent:answer': defineCommand('consent:answer', {
    names: ['caseId', 'requestId', 'answers'],
    action: 'update',
    authorize(a, c, viewer) {
      // The request and the items are visible (P-EXIST); an item it does not ask about is not found in it.
      const r = c.consents.get(a.requestId)!;
      if (a.answers.some((x) => !r.itemIds.includes(x.itemId))) return notFound();
      if (new Set(a.answers.map((x) => x.itemId)).size !== a.answers.length) return bad('Een inbreng staat dubbel in de antwoorden.');
      if (a.answers.some((x) => c.items.get(x.itemId)!.orgId !== viewer.orgId)) {
        return appError('FORBIDDEN', 'Alleen de inbrengende organisatie beantwoordt dit verzoek.');
      }
      if (r.closed) return bad('Dit verzoek is gesloten.');
      return null;
    },
    decide(a, c, viewer, now) {
      const events: CaseEvent[] = [
        {
          type: 'consent.answered',
          payload: { requestId: a.requestId, answers: a.answers.map((x) => ({ itemId: x.itemId, answer: x.answer, reason: x.reason ?? null })) },
        },
      ];
      // R-GOAL: a contributor that finds an item no longer necessary withdraws it.
      if (c.consents.get(a.requestId)!.kind === 'goal') {
        for (const x of a.answers) if (x.answer === 'no') events.push({ type: 'item.withdrawn', payload: { itemId: x.itemId } });
      }
      return { events: settleGoal(c, viewer, now, events), data: null };
    },
  }),
};

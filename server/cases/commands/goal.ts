import type { CaseState, Viewer } from '../../../shared/domain.js';
import { appError } from '../../../shared/errors.js';
import { newId, type ConsentId, type ItemId, type OrgId } from '../../../shared/ids.js';
import { latestAnswer } from '../../../shared/rules/access.js';
import { applyEvent, type CaseEvent } from '../events.js';
import { bad, chairOnly, defineCommand } from './define.js';

// R-GOAL: a changed goal needs fresh consent for every item brought in under the old one.

/**
 * R-GOAL: after these events, is every item of the pending goal change reconfirmed or withdrawn?
 * Then the new goal comes into force in the same commit.
 */
export function settleGoal(c: CaseState, viewer: Viewer, now: string, events: CaseEvent[]): CaseEvent[] {
  let s = c;
  const meta = { at: now, actorUserId: viewer.userId, actorOrgId: viewer.orgId };
  for (const e of events) s = applyEvent(s, e, meta, s.version + 1);
  const p = s.goalProposal;
  if (!p) return events;
  for (const r of s.consents.values()) {
    if (r.kind !== 'goal' || r.goalVersion !== p.version || r.closed) continue;
    for (const id of r.itemIds) {
      if (s.items.get(id)?.status === 'active' && latestAnswer(r, id)?.answer !== 'yes') return events;
    }
  }
  return [...events, { type: 'goal.inForce', payload: { version: p.version } }];
}

/** R-GOAL: the proposal, and per contributing organisation one request to reconfirm its items. */
function proposeGoal(c: CaseState, viewer: Viewer, now: string, text: string): CaseEvent[] {
  const version = c.goal.version + 1;
  const events: CaseEvent[] = [{ type: 'goal.proposed', payload: { text, version } }];
  const byOrg = new Map<OrgId, ItemId[]>();
  for (const item of c.items.values()) {
    if (item.status !== 'active') continue;
    byOrg.set(item.orgId, [...(byOrg.get(item.orgId) ?? []), item.id]);
  }
  for (const [, itemIds] of byOrg) {
    events.push({
      type: 'consent.requested',
      payload: {
        requestId: newId<ConsentId>('cr'),
        kind: 'goal',
        forOrgId: viewer.orgId,
        purpose: text,
        itemIds,
        deadline: null,
        interventionId: null,
        goalVersion: version,
      },
    });
  }
  return settleGoal(c, viewer, now, events);
}

export const goalCommands = {
  'goal:propose': defineCommand('goal:propose', {
    names: ['caseId'],
    action: 'update',
    authorize({ text }, c, viewer) {
      const err = chairOnly(c, viewer);
      if (err) return err;
      if (c.goalProposal) return appError('GOAL_FROZEN', 'Er loopt al een doelwijziging.');
      return text === c.goal.text ? bad('Dit is het huidige doel.') : null;
    },
    decide: ({ text }, c, viewer, now) => ({ events: proposeGoal(c, viewer, now, text), data: null }),
  }),

  'goal:cancel': defineCommand('goal:cancel', {
    names: ['caseId'],
    action: 'update',
    authorize(_input, c, viewer) {
      const err = chairOnly(c, viewer);
      if (err) return err;
      return c.goalProposal ? null : bad('Er loopt geen doelwijziging.');
    },
    decide: (_input, c) => ({ events: [{ type: 'goal.cancelled', payload: { version: c.goalProposal!.version } }], data: null }),
  }),
};

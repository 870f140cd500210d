import type { CaseState, Informing, Viewer } from '../../shared/domain.js';
import { newId, type CaseId, type ConsentId, type DecisionId, type InterventionId, type ItemId, type OrgId } from '../../shared/ids.js';
import { latestAnswer } from '../../shared/rules/access.js';
import type { CommandInput, CommandName } from '../../shared/schemas.js';
import { applyEvent, type CaseEvent } from './events.js';

export type CaseCommandName = Exclude<CommandName, 'case:create' | 'case:open' | 'case:leave'>;

/** Turns an authorised command into the events that record it. */
export function decideCreate(input: CommandInput<'case:create'>, caseId: CaseId): CaseEvent[] {
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
        informing: { informerOrgId: informer, dueDate: input.informDueDate, status: 'open', ground: null, reviewDate: null, doneAt: null },
        minutesDocId: newId('doc'),
      },
    },
  ];
}

export interface Decided {
  events: CaseEvent[];
  itemId?: ItemId;
  requestId?: ConsentId;
}

export function decide<N extends CaseCommandName>(
  name: N,
  input: CommandInput<N>,
  c: CaseState,
  viewer: Viewer,
  now: string,
): Decided {
  switch (name) {
    case 'case:setParticipant': {
      const { participant } = input as CommandInput<'case:setParticipant'>;
      return { events: [{ type: 'case.participantSet', payload: { participant } }] };
    }
    case 'case:removeParticipant': {
      const { orgId } = input as CommandInput<'case:removeParticipant'>;
      return { events: [{ type: 'case.participantRemoved', payload: { orgId } }] };
    }
    case 'case:setPhase':
      return { events: [{ type: 'case.phaseSet', payload: { phase: (input as CommandInput<'case:setPhase'>).phase } }] };
    case 'case:setInforming': {
      const i = (input as CommandInput<'case:setInforming'>).informing;
      const informing: Informing = {
        informerOrgId: i.informerOrgId,
        dueDate: i.dueDate,
        status: i.status,
        ground: i.status === 'postponed' ? i.ground : null,
        reviewDate: i.status === 'postponed' ? i.reviewDate : null,
        doneAt: i.status === 'done' ? (c.informing.doneAt ?? now) : null,
      };
      return { events: [{ type: 'case.informingSet', payload: { informing } }] };
    }
    case 'item:add': {
      const a = input as CommandInput<'item:add'>;
      const itemId = newId<ItemId>('it');
      return {
        itemId,
        events: [
          {
            type: 'item.added',
            payload: {
              itemId,
              orgId: viewer.orgId,
              authorId: viewer.userId,
              phase: a.phase,
              text: a.text,
              visibility: normaliseVisibility(a.visibility, viewer),
              // Brought in during a goal change: under the proposed goal, so it needs no reconfirmation.
              goalVersion: c.goalProposal?.version ?? c.goal.version,
              textDocId: newId('doc'),
            },
          },
        ],
      };
    }
    case 'item:edit': {
      const e = input as CommandInput<'item:edit'>;
      return { events: [{ type: 'item.edited', payload: { itemId: e.itemId, text: e.text, phase: e.phase } }] };
    }
    case 'item:setVisibility': {
      const v = input as CommandInput<'item:setVisibility'>;
      return { events: [{ type: 'item.visibilitySet', payload: { itemId: v.itemId, visibility: normaliseVisibility(v.visibility, viewer) } }] };
    }
    case 'item:withdraw':
      return settleGoal(c, viewer, now, [{ type: 'item.withdrawn', payload: { itemId: (input as CommandInput<'item:withdraw'>).itemId } }]);
    case 'goal:propose':
      return proposeGoal(c, viewer, now, (input as CommandInput<'goal:propose'>).text);
    case 'goal:cancel':
      return { events: [{ type: 'goal.cancelled', payload: { version: c.goalProposal!.version } }] };
    case 'consent:request': {
      const r = input as CommandInput<'consent:request'>;
      const requestId = newId<ConsentId>('cr');
      return {
        requestId,
        events: [
          {
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
          },
        ],
      };
    }
    case 'consent:answer': {
      const a = input as CommandInput<'consent:answer'>;
      const events: CaseEvent[] = [
        { type: 'consent.answered', payload: { requestId: a.requestId, answers: a.answers.map((x) => ({ itemId: x.itemId, answer: x.answer, reason: x.reason ?? null })) } },
      ];
      // R-GOAL: a contributor that finds an item no longer necessary withdraws it.
      if (c.consents.get(a.requestId)!.kind === 'goal') {
        for (const x of a.answers) if (x.answer === 'no') events.push({ type: 'item.withdrawn', payload: { itemId: x.itemId } });
      }
      return settleGoal(c, viewer, now, events);
    }
    case 'decision:add':
      return { events: [{ type: 'decision.added', payload: { decisionId: newId<DecisionId>('dc'), text: (input as CommandInput<'decision:add'>).text } }] };
    case 'intervention:add':
      return addIntervention(c, input as CommandInput<'intervention:add'>);
    case 'intervention:remove':
      return { events: [{ type: 'intervention.removed', payload: { interventionId: (input as CommandInput<'intervention:remove'>).interventionId } }] };
    case 'meeting:open':
      return { events: [{ type: 'meeting.opened', payload: {} }] };
    case 'meeting:close':
      return { events: [{ type: 'meeting.closed', payload: {} }] };
  }
  throw new Error(`no decision for ${name}`);
}

/** R-GOAL: the proposal, and per contributing organisation one request to reconfirm its items. */
function proposeGoal(c: CaseState, viewer: Viewer, now: string, text: string): Decided {
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

/**
 * R-GOAL: after these events, is every item of the pending goal change reconfirmed or withdrawn?
 * Then the new goal comes into force in the same commit.
 */
function settleGoal(c: CaseState, viewer: Viewer, now: string, events: CaseEvent[]): Decided {
  let s = c;
  const meta = { at: now, actorUserId: viewer.userId, actorOrgId: viewer.orgId };
  for (const e of events) s = applyEvent(s, e, meta, s.version + 1);
  const p = s.goalProposal;
  if (!p) return { events };
  for (const r of s.consents.values()) {
    if (r.kind !== 'goal' || r.goalVersion !== p.version || r.closed) continue;
    for (const id of r.itemIds) {
      if (s.items.get(id)?.status === 'active' && latestAnswer(r, id)?.answer !== 'yes') return { events };
    }
  }
  return { events: [...events, { type: 'goal.inForce', payload: { version: p.version } }] };
}

/** R-TAKEHOME: other organisations' items an intervention needs become a request to their contributors. */
function addIntervention(c: CaseState, a: CommandInput<'intervention:add'>): Decided {
  const interventionId = newId<InterventionId>('iv');
  const events: CaseEvent[] = [
    { type: 'intervention.added', payload: { interventionId, what: a.what, orgId: a.orgId, dueDate: a.dueDate ?? null, itemIds: a.itemIds } },
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
  return { events };
}

/** The contributor always sees its own item, so it need not be listed. */
function normaliseVisibility(v: CommandInput<'item:add'>['visibility'], viewer: Viewer): CommandInput<'item:add'>['visibility'] {
  return v.kind === 'table' ? v : { kind: 'orgs', orgIds: v.orgIds.filter((o) => o !== viewer.orgId) };
}

import type { CaseState, Informing, Viewer } from '../../shared/domain.js';
import { newId, type CaseId, type ItemId } from '../../shared/ids.js';
import type { CommandInput, CommandName } from '../../shared/schemas.js';
import type { CaseEvent } from './events.js';

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
      },
    },
  ];
}

export interface Decided {
  events: CaseEvent[];
  itemId?: ItemId;
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
              goalVersion: c.goal.version,
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
      return { events: [{ type: 'item.withdrawn', payload: { itemId: (input as CommandInput<'item:withdraw'>).itemId } }] };
  }
  throw new Error(`no decision for ${name}`);
}

/** The contributor always sees its own item, so it need not be listed. */
function normaliseVisibility(v: CommandInput<'item:add'>['visibility'], viewer: Viewer): CommandInput<'item:add'>['visibility'] {
  return v.kind === 'table' ? v : { kind: 'orgs', orgIds: v.orgIds.filter((o) => o !== viewer.orgId) };
}

import type { CaseState, Viewer, Visibility } from '../../../shared/domain.js';
import { phaseIndex } from '../../../shared/domain.js';
import { appError, type AppError } from '../../../shared/errors.js';
import { newId, type ItemId } from '../../../shared/ids.js';
import { MAX_ITEMS_PER_CASE } from '../../../shared/limits.js';
import { bad, defineCommand } from './define.js';
import { settleGoal } from './goal.js';

// An organisation's items: only the contributing organisation changes, restricts or withdraws
// its own (R-OWN), and an item reaches only those it was meant for (R-NEED).

/** R-NEED: an item (a decision, an intervention) can be restricted only to organisations at the table. */
export function checkVisibility(c: CaseState, v: Visibility): AppError | null {
  if (v.kind === 'table') return null;
  const at = new Set(c.participants.map((p) => p.orgId));
  if (new Set(v.orgIds).size !== v.orgIds.length) return bad('Een organisatie staat dubbel in de lijst.');
  return v.orgIds.every((o) => at.has(o)) ? null : bad('Alleen deelnemende organisaties kunnen meelezen.');
}

/** R-OWN: only the contributing organisation changes, restricts or withdraws its item. */
function ownItem(c: CaseState, itemId: ItemId, viewer: Viewer): AppError | null {
  // The item is visible (P-EXIST), so it exists.
  const item = c.items.get(itemId)!;
  return item.orgId === viewer.orgId ? null : appError('FORBIDDEN', 'Alleen de inbrengende organisatie kan dit wijzigen.');
}

/** The contributor always sees its own item, so it need not be listed. */
function normaliseVisibility(v: Visibility, viewer: Viewer): Visibility {
  return v.kind === 'table' ? v : { kind: 'orgs', orgIds: v.orgIds.filter((o) => o !== viewer.orgId) };
}

export const itemCommands = {
  'item:add': defineCommand('item:add', {
    names: ['caseId'],
    action: 'create',
    authorize({ phase, visibility }, c) {
      if (phaseIndex(phase) > phaseIndex(c.phase)) return appError('WRONG_PHASE');
      if (c.items.size >= MAX_ITEMS_PER_CASE) return appError('TOO_LARGE');
      return checkVisibility(c, visibility);
    },
    decide(a, c, viewer) {
      const itemId = newId<ItemId>('it');
      const added = {
        itemId,
        orgId: viewer.orgId,
        authorId: viewer.userId,
        phase: a.phase,
        text: a.text,
        visibility: normaliseVisibility(a.visibility, viewer),
        // Brought in during a goal change: under the proposed goal, so it needs no reconfirmation.
        goalVersion: c.goalProposal?.version ?? c.goal.version,
        textDocId: newId('doc'),
      };
      return { itemId, events: [{ type: 'item.added', payload: added }], data: { itemId } };
    },
  }),

  'item:edit': defineCommand('item:edit', {
    names: ['caseId', 'itemId'],
    action: 'update',
    authorize({ itemId, phase }, c, viewer) {
      const err = ownItem(c, itemId, viewer);
      if (err) return err;
      return phase && phaseIndex(phase) > phaseIndex(c.phase) ? appError('WRONG_PHASE') : null;
    },
    decide: ({ itemId, text, phase }) => ({ events: [{ type: 'item.edited', payload: { itemId, text, phase } }], data: null }),
  }),

  'item:setVisibility': defineCommand('item:setVisibility', {
    names: ['caseId', 'itemId'],
    action: 'update',
    authorize: ({ itemId, visibility }, c, viewer) => ownItem(c, itemId, viewer) ?? checkVisibility(c, visibility),
    decide: ({ itemId, visibility }, _c, viewer) => ({
      events: [{ type: 'item.visibilitySet', payload: { itemId, visibility: normaliseVisibility(visibility, viewer) } }],
      data: null,
    }),
  }),

  'item:restrict': defineCommand('item:restrict', {
    // Also of a withdrawn item (the log still holds it, an art. 15 report names it); only its own
    // organisation's, another's refused as an unknown one (P-EXIST, `ownItemId`).
    names: ['caseId', 'ownItemId'],
    action: 'update',
    authorize: ({ itemId, ground }, c) => (ground === null && !c.items.get(itemId)!.restriction ? bad('Deze inbreng is niet beperkt.') : null),
    decide: ({ itemId, ground }) => ({ events: [{ type: 'item.restricted', payload: { itemId, ground } }], data: null }),
  }),

  'item:withdraw': defineCommand('item:withdraw', {
    names: ['caseId', 'itemId'],
    action: 'delete',
    authorize: ({ itemId }, c, viewer) => ownItem(c, itemId, viewer),
    decide: ({ itemId }, c, viewer, now) => ({ events: settleGoal(c, viewer, now, [{ type: 'item.withdrawn', payload: { itemId } }]), data: null }),
  }),
};

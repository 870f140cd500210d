import type { OrgId } from '../../../shared/ids.js';
import type { CaseMetaView, ItemView } from '../../../shared/protocol.js';

/**
 * R-BOB + R-GOAL + R-TAKEHOME: why the plan of action cannot be changed now, in the order the
 * server checks it; null when it can. The server decides; this only explains a disabled form.
 */
export function planBlocked(meta: CaseMetaView): string | null {
  if (meta.phase !== 'besluiten') return 'Besluiten en interventies worden vastgelegd in de fase Besluiten.';
  if (meta.goalProposal) return 'Tijdens een doelwijziging wordt niets besloten.';
  if (!meta.meetingOpen) return 'Deze casus wordt nu niet besproken. Het plan van aanpak wordt in een overleg gemaakt.';
  return null;
}

/**
 * R-NEED: an intervention can only hand its executor items the contributor let it see, or its
 * own. The same test the server makes (shared/rules/access.ts chosenToSee), for the form's choices.
 */
export function visibleTo(item: ItemView, orgId: OrgId): boolean {
  return item.orgId === orgId || item.visibility.kind === 'table' || item.visibility.orgIds.includes(orgId);
}

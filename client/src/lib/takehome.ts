import type { ConsentId, InterventionId, ItemId, OrgId } from '../../../shared/ids.js';
import type { CaseMetaView, ConsentView, ItemView } from '../../../shared/protocol.js';

/** Why an organisation may take an item home (R-TAKEHOME, R-REUSE). */
export type TakeHomeReason =
  { kind: 'own' } | { kind: 'takehome'; what: string; interventionId: InterventionId | null } | { kind: 'reuse'; purpose: string; requestId: ConsentId };

export interface TakeHomeEntry {
  itemId: ItemId;
  orgId: OrgId;
  /** Null when the server does not show the item now (e.g. during a goal change). */
  item: ItemView | null;
  reasons: TakeHomeReason[];
}

const openFor = (r: ConsentView, orgId: OrgId, kind: ConsentView['kind']) => !r.closed && r.kind === kind && r.forOrgId === orgId;

/**
 * R-TAKEHOME: what an organisation may take home, and why, from what the server sent: its own
 * items, and items whose contributor said yes for its intervention or its reuse request.
 */
export function takeHomeList(meta: CaseMetaView, items: Iterable<ItemView>, orgId: OrgId): TakeHomeEntry[] {
  const byId = new Map<ItemId, TakeHomeEntry>();
  const entry = (itemId: ItemId, owner: OrgId, item: ItemView | null): TakeHomeEntry => {
    let e = byId.get(itemId);
    if (!e) {
      e = { itemId, orgId: owner, item, reasons: [] };
      byId.set(itemId, e);
    }
    return e;
  };
  const seen = new Map<ItemId, ItemView>();
  for (const item of items) {
    seen.set(item.id, item);
    if (item.mine) entry(item.id, item.orgId, item).reasons.push({ kind: 'own' });
  }
  for (const r of meta.consents ?? []) {
    const kind = r.kind === 'takehome' || r.kind === 'reuse' ? r.kind : null;
    if (!kind || !openFor(r, orgId, kind)) continue;
    for (const i of r.items) {
      if (i.answer !== 'yes') continue;
      const e = entry(i.itemId, i.orgId, seen.get(i.itemId) ?? null);
      if (kind === 'reuse') e.reasons.push({ kind, purpose: r.purpose, requestId: r.id });
      else {
        const iv = meta.interventions.find((x) => x.id === r.interventionId);
        e.reasons.push({ kind, what: iv?.what ?? r.purpose, interventionId: r.interventionId });
      }
    }
  }
  // Own items first, then the others in the order of the board.
  return [...byId.values()].sort(
    (a, b) => Number(b.reasons[0]?.kind === 'own') - Number(a.reasons[0]?.kind === 'own') || (a.item?.createdAt ?? '').localeCompare(b.item?.createdAt ?? ''),
  );
}

import type { Visibility } from '../../../shared/domain.js';
import type { OrgId } from '../../../shared/ids.js';

/** Form state to the protocol's Visibility; only ids among the offered options survive. */
export function toVisibility(kind: 'table' | 'orgs', selected: readonly string[], options: readonly OrgId[]): Visibility {
  if (kind === 'table') return { kind: 'table' };
  return { kind: 'orgs', orgIds: options.filter((id) => selected.includes(id)) };
}

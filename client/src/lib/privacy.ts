/** The privacy officer's question: every field narrows it; empty fields ask nothing. */
export interface AccessFilters {
  caseId: string;
  userId: string;
  orgId: string;
  from: string;
  to: string;
}

export const NO_FILTERS: AccessFilters = { caseId: '', userId: '', orgId: '', from: '', to: '' };

/** The filters as a query string, without empty ones. */
export function accessQuery(f: AccessFilters, after?: string): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
  if (after) q.set('after', after);
  return q.toString();
}

import { SvelteMap } from 'svelte/reactivity';
import type { CaseId } from '../../../shared/ids.js';
import type { CaseSummary } from '../../../shared/protocol.js';

/** The cases this user takes part in (R-ROLE: the server sends no others). */
export class CaseList {
  #byId = new SvelteMap<CaseId, CaseSummary>();
  /** The first snapshot arrived: an empty list now means "no cases", not "still loading". */
  received = $state(false);

  all = $derived([...this.#byId.values()].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt)));

  replace(list: CaseSummary[]): void {
    this.#byId.clear();
    for (const c of list) this.#byId.set(c.id, c);
    this.received = true;
  }

  upsert(summary: CaseSummary): void {
    this.#byId.set(summary.id, summary);
  }

  remove(id: CaseId): void {
    this.#byId.delete(id);
  }

  get(id: CaseId): CaseSummary | undefined {
    return this.#byId.get(id);
  }

  reset(): void {
    this.#byId.clear();
    this.received = false;
  }
}

import type { InterventionId, ItemId } from '../../../shared/ids.js';
import type { ConsentItemView, ConsentView } from '../../../shared/protocol.js';
import type { Board } from './board.svelte.js';
import type { Session } from './session.svelte.js';
import { takeHomeList } from './takehome.js';

/** One request that asks the user's organisation about some of its own items (R-OWN). */
export interface RequestForMe {
  request: ConsentView;
  /** Items of the user's organisation still without an answer. */
  open: ConsentItemView[];
  /** Items of the user's organisation already answered; a new answer replaces the last. */
  answered: ConsentItemView[];
}

/** One of the user's organisation's own requests about one item, with its latest answer. */
export interface MyAsk {
  request: ConsentView;
  item: ConsentItemView;
}

/**
 * The consent requests of the open case as they concern this user: what its organisation must
 * answer, what it asked, what the chair follows. Only reads what the server sent.
 */
export class CaseConsents {
  constructor(
    private readonly board: Board,
    private readonly session: Session,
  ) {}

  // Thunks: the constructor's parameters are assigned after field initialisers run.
  #orgId = $derived.by(() => this.session.me?.orgId ?? null);
  #all = $derived.by(() => this.board.meta?.consents ?? []);

  /** Requests still open (not closed) that name items of the user's organisation. */
  forMe = $derived.by((): RequestForMe[] => {
    const orgId = this.#orgId;
    if (!orgId) return [];
    const out: RequestForMe[] = [];
    for (const request of this.#all) {
      if (request.closed) continue;
      const own = request.items.filter((i) => i.orgId === orgId);
      if (own.length === 0) continue;
      out.push({ request, open: own.filter((i) => i.answer === null), answered: own.filter((i) => i.answer !== null) });
    }
    return out.sort((a, b) => b.request.createdAt.localeCompare(a.request.createdAt));
  });

  /** Requests waiting for an answer from the user's organisation. */
  inbox = $derived(this.forMe.filter((r) => r.open.length > 0));
  /** Requests the user's organisation answered in full; it may still change an answer. */
  answered = $derived(this.forMe.filter((r) => r.open.length === 0));

  /** R-GOAL: the running goal change's request to the user's organisation, if it has items. */
  goalRequest = $derived.by((): RequestForMe | null => {
    const version = this.board.meta?.goalProposal?.version;
    if (version === undefined) return null;
    return this.forMe.find((r) => r.request.kind === 'goal' && r.request.goalVersion === version) ?? null;
  });

  /** For the chair: every request it can see that still waits for some answer. */
  openInCase = $derived(this.#all.filter((r) => !r.closed && r.items.some((i) => i.answer === null)).sort((a, b) => a.createdAt.localeCompare(b.createdAt)));

  /** R-REUSE: the user's organisation's own reuse requests, per item. */
  #reuseByItem = $derived.by(() => {
    const out: Partial<Record<ItemId, MyAsk[]>> = {};
    const orgId = this.#orgId;
    if (!orgId) return out;
    for (const request of this.#all) {
      if (request.kind !== 'reuse' || request.forOrgId !== orgId) continue;
      for (const item of request.items) (out[item.itemId] ??= []).push({ request, item });
    }
    return out;
  });

  /** R-TAKEHOME: the live list of what the user's organisation may take home. */
  takeHome = $derived.by(() => {
    const meta = this.board.meta;
    const orgId = this.#orgId;
    return meta && orgId ? takeHomeList(meta, this.board.items.values(), orgId) : [];
  });

  reuseOf(itemId: ItemId): MyAsk[] {
    return this.#reuseByItem[itemId] ?? [];
  }

  /** The take-home request an intervention made for other organisations' items. */
  takeHomeRequestOf(interventionId: InterventionId): ConsentView | undefined {
    return this.#all.find((r) => r.kind === 'takehome' && r.interventionId === interventionId && !r.closed);
  }
}

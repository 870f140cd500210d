import { SvelteMap, SvelteSet } from 'svelte/reactivity';
import { PHASES, type Phase } from '../../../shared/domain.js';
import type { CaseId, ConsentId, ItemId, OrgId } from '../../../shared/ids.js';
import type { CaseMetaView, CasePatch, CaseView, ConsentView, ItemView, PresenceEntry, PresenceUpdate } from '../../../shared/protocol.js';
import type { Connection } from './connection.svelte.js';
import { errorText } from './errors.js';
import { retryDelay } from './retry.js';

export type BoardStatus = 'leeg' | 'laden' | 'open' | 'fout';

/** Another organisation's item changed live: for a polite screen-reader announcement. */
export interface LiveChange {
  kind: 'toegevoegd' | 'gewijzigd' | 'ingetrokken';
  orgId: OrgId;
  phase: Phase;
  seq: number;
}

/**
 * R-OWN, R-REUSE: live consent news for this user's organisation: a new question about its own
 * items, or an answer to one of its own requests.
 */
export interface LiveConsent {
  news: 'gevraagd' | 'beantwoord';
  kind: ConsentView['kind'];
  askedByName: string;
  forOrgId: OrgId;
  /** For 'beantwoord': the new answer. */
  answer: 'yes' | 'no' | null;
  seq: number;
}

const byCreated = (a: ItemView, b: ItemView) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id);

/**
 * The one open case: what this user may see of it, kept current by patches. The server decides
 * what arrives (R-ROLE, R-NEED); this class only mirrors it and never adds anything of its own.
 */
export class Board {
  caseId = $state<CaseId | null>(null);
  status = $state<BoardStatus>('leeg');
  error = $state<string | null>(null);
  meta = $state.raw<CaseMetaView | null>(null);
  items = new SvelteMap<ItemId, ItemView>();
  present = $state.raw<PresenceEntry[]>([]);
  lastChange = $state.raw<LiveChange | null>(null);
  lastConsent = $state.raw<LiveConsent | null>(null);
  /** Requests that arrived live in this session: the inbox highlights them. */
  freshRequests = new SvelteSet<ConsentId>();

  /** Position of the last view or patch received; sent back as `since` after a reconnect. */
  #cursor: string | null = null;
  /** Patches that arrive while a case:open is in flight; see #sync. */
  #pending: CasePatch[] | null = null;
  /** A view or catch-up has been applied: live patches now apply on top of it. */
  #live = false;
  #openSeq = 0;
  /** A case:open answered UNAVAILABLE is tried again after this wait; `#unavailable` counts them. */
  #retry: ReturnType<typeof setTimeout> | undefined;
  #unavailable = 0;
  /** Unanswered case:leave per case: a reopen waits for it (see #sync). */
  #leaving: Partial<Record<CaseId, Promise<unknown>>> = {};

  byPhase = $derived.by(() => {
    const out = Object.fromEntries(PHASES.map((p) => [p, [] as ItemView[]])) as Record<Phase, ItemView[]>;
    for (const item of this.items.values()) out[item.phase]?.push(item);
    for (const p of PHASES) out[p].sort(byCreated);
    return out;
  });

  constructor(
    private readonly connection: Connection,
    /** The user no longer takes part in the case: everything of it is gone already. */
    private readonly onRevoked: (caseId: CaseId) => void,
    /** The user's organisation: the one that answers for its own items (R-OWN). */
    private readonly myOrgId: () => OrgId | null,
    /** Everything of the case was dropped (left, revoked, refused): close its co-edited texts too. */
    private readonly onCleared: () => void = () => {},
  ) {}

  get cursor(): string | null {
    return this.#cursor;
  }

  open(caseId: CaseId): void {
    if (this.caseId === caseId) return;
    if (this.caseId) this.close(this.caseId);
    this.caseId = caseId;
    this.status = 'laden';
    void this.#sync();
  }

  /** Leave the board; only when `caseId` is still the open one. */
  close(caseId: CaseId): void {
    if (this.caseId !== caseId) return;
    if (this.connection.connected) {
      const left = this.connection.send('case:leave', { caseId }).finally(() => {
        if (this.#leaving[caseId] === left) delete this.#leaving[caseId];
      });
      this.#leaving[caseId] = left;
    }
    this.reset();
  }

  reset(): void {
    clearTimeout(this.#retry);
    this.#unavailable = 0;
    this.#openSeq++;
    this.caseId = null;
    this.status = 'leeg';
    this.#clearData();
  }

  /** After every (re)connect: open again, from the cursor when there is one. */
  onConnect(): void {
    if (this.caseId) void this.#sync();
  }

  /** Presence is stale while offline; the server sends it again after case:open. */
  onDisconnect(): void {
    this.present = [];
  }

  /** The user opens the board again after an error. */
  retry(): void {
    if (!this.caseId) return;
    this.status = 'laden';
    this.error = null;
    void this.#sync();
  }

  receivePatch(patch: CasePatch): void {
    if (patch.caseId !== this.caseId) return;
    if (this.#pending) this.#pending.push(patch);
    else if (this.#live) this.#apply(patch, true);
    // Otherwise it belongs to an earlier opening of this case: the coming ack supersedes it.
  }

  receivePresence(update: PresenceUpdate): void {
    if (update.caseId !== this.caseId || !Array.isArray(update.present)) return;
    this.present = update.present;
  }

  /** The case disappeared from the user's list: the same as a revoke when it is the open one. */
  receiveRemoved(caseId: CaseId): void {
    if (caseId === this.caseId) this.#revoke();
  }

  /**
   * Open the case, or catch up from the cursor. Ordering on the one socket does the rest: the
   * server sends a socket patches only for versions after the one its open served, so a patch
   * that arrives between our case:open and its ack is newer than the ack and applies on top of
   * it. Patches of an earlier opening (before a case:leave) arrive before that leave's ack,
   * which is why a reopen first waits for it, and ignores anything until it sends case:open.
   */
  async #sync(): Promise<void> {
    const caseId = this.caseId;
    if (!caseId || !this.connection.connected) return; // onConnect will come
    const seq = ++this.#openSeq;
    this.#live = false;
    this.#pending = null;
    const leaving = this.#leaving[caseId];
    if (leaving) await leaving;
    if (seq !== this.#openSeq || this.caseId !== caseId) return;
    const since = this.#cursor;
    const pending: CasePatch[] = [];
    this.#pending = pending;
    const res = await this.connection.send('case:open', since ? { caseId, since } : { caseId });
    if (seq !== this.#openSeq || this.caseId !== caseId) return; // navigated away, or a newer open
    this.#pending = null;
    if (!res.ok) {
      // Offline or timed out: the next connect opens again. Otherwise the server said no.
      if (res.error.code === 'OFFLINE' || res.error.code === 'TIMEOUT') {
        if (this.status !== 'open') this.error = errorText(res.error);
        return;
      }
      // It cannot serve the board now: what is shown stays, and it is opened again later.
      if (res.error.code === 'UNAVAILABLE') {
        if (this.status !== 'open') this.error = errorText(res.error);
        clearTimeout(this.#retry);
        this.#retry = setTimeout(() => {
          if (seq === this.#openSeq && this.caseId === caseId) void this.#sync();
        }, retryDelay(this.#unavailable++));
        return;
      }
      this.#clearData();
      this.status = 'fout';
      this.error = errorText(res.error);
      return;
    }
    const data = res.data;
    let cursor: string;
    if ('view' in data) {
      this.#replace(data.view);
      cursor = data.view.cursor;
    } else {
      if (!this.#apply(data.patch)) return;
      cursor = data.patch.cursor;
    }
    this.error = null;
    this.#unavailable = 0;
    if (this.meta) this.status = 'open';
    this.#live = true;
    for (const p of pending) {
      if (p.cursor === cursor) continue; // already in the ack
      if (!this.#apply(p, true)) return;
    }
  }

  /** Apply one patch in order; false when it revoked the case. */
  #apply(patch: CasePatch, live = false): boolean {
    for (const op of patch.ops ?? []) {
      switch (op.op) {
        case 'snapshot':
          this.#replace(op.view);
          break;
        case 'meta':
          if (live) this.#noteConsents(this.meta, op.meta);
          this.meta = op.meta;
          break;
        case 'item': {
          const before = this.items.get(op.item.id);
          this.items.set(op.item.id, op.item);
          if (live && !op.item.mine) this.#note(before ? 'gewijzigd' : 'toegevoegd', op.item);
          break;
        }
        case 'itemRemoved': {
          const before = this.items.get(op.itemId);
          this.items.delete(op.itemId);
          if (live && before && !before.mine) this.#note('ingetrokken', before);
          break;
        }
        case 'revoked':
          this.#revoke();
          return false;
      }
    }
    if (typeof patch.cursor === 'string') this.#cursor = patch.cursor;
    return true;
  }

  #note(kind: LiveChange['kind'], item: ItemView): void {
    this.lastChange = { kind, orgId: item.orgId, phase: item.phase, seq: (this.lastChange?.seq ?? 0) + 1 };
  }

  /** Requests new in this meta for the user's organisation, and answers to its own requests. */
  #noteConsents(before: CaseMetaView | null, after: CaseMetaView): void {
    const orgId = this.myOrgId();
    if (!orgId || !before) return;
    const earlier = before.consents ?? [];
    for (const r of after.consents ?? []) {
      if (r.closed) continue;
      const then = earlier.find((x) => x.id === r.id);
      if (!then && r.items.some((i) => i.orgId === orgId && i.answer === null)) {
        this.freshRequests.add(r.id);
        this.#noteConsent('gevraagd', r, null);
      } else if (then && r.kind !== 'goal' && r.forOrgId === orgId) {
        const changed = r.items.find((i) => i.answer !== null && then.items.find((x) => x.itemId === i.itemId)?.at !== i.at);
        if (changed) this.#noteConsent('beantwoord', r, changed.answer);
      }
    }
  }

  #noteConsent(news: LiveConsent['news'], r: ConsentView, answer: LiveConsent['answer']): void {
    const seq = (this.lastConsent?.seq ?? 0) + 1;
    this.lastConsent = { news, kind: r.kind, askedByName: r.askedByName, forOrgId: r.forOrgId, answer, seq };
  }

  #replace(view: CaseView): void {
    this.meta = view.meta;
    this.items.clear();
    for (const item of view.items ?? []) this.items.set(item.id, item);
    this.#cursor = view.cursor;
    this.status = 'open';
    this.error = null;
  }

  #revoke(): void {
    const caseId = this.caseId;
    this.reset();
    if (caseId) this.onRevoked(caseId);
  }

  #clearData(): void {
    this.onCleared();
    this.meta = null;
    this.items.clear();
    this.present = [];
    this.lastChange = null;
    this.lastConsent = null;
    this.freshRequests.clear();
    this.#cursor = null;
    this.#pending = null;
    this.#live = false;
    this.error = null;
  }
}

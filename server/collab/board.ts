import type { Viewer } from '../../shared/domain.js';
import type { CaseId, ItemId } from '../../shared/ids.js';
import { EDIT_BURST_MS, MAX_ITEM_TEXT_CHARS, UNAVAILABLE_FIRST_RETRY_MS, UNAVAILABLE_RETRY_AFTER_MS } from '../../shared/limits.js';
import { accessRecord, type AccessLog, type Actor } from '../audit/accessLog.js';
import type { CaseService } from '../cases/service.js';
import type { Directory } from '../directory/directory.js';
import type { Logger } from '../log.js';
import { unavailability } from '../store/health.js';
import type { DocStore, EventLog } from '../store/types.js';
import type { CollabDoc } from './doc.js';
import { readStoredDoc, textOf } from './stored.js';

/** One writer's editing burst in one document: what its committed updates did, in characters. */
export interface Burst {
  timer: NodeJS.Timeout | null;
  inserted: number;
  deleted: number;
}

export const newBurst = (): Burst => ({ timer: null, inserted: 0, deleted: 0 });

/**
 * The link between a document and the board: a writer's editing burst ends after a pause and is
 * then one change in the access log (NEN 7513: who changed how much, never what) and, for an
 * item's text, the board copy through an ordinary `item:edit`.
 */
export class BoardLink {
  /** Board copies the store could not take (a full disk, Redis away), by document: tried again. */
  private readonly retries = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly d: { cases: CaseService; access: AccessLog; dir: Directory; store: DocStore & EventLog; log: Logger },
    private readonly burstMs = EDIT_BURST_MS,
  ) {}

  /** A committed change by this writer: counted, and its burst's end moved on. */
  changed(doc: CollabDoc, actor: Actor, burst: Burst, inserted: number, deleted: number): void {
    burst.inserted += inserted;
    burst.deleted += deleted;
    if (burst.timer) clearTimeout(burst.timer);
    burst.timer = setTimeout(() => void this.end(doc, actor, burst), this.burstMs);
    burst.timer.unref();
  }

  /** Ends the burst now (the writer left, lost its right, or the server stops). Never rejects. */
  async end(doc: CollabDoc, actor: Actor, burst: Burst): Promise<void> {
    if (burst.timer) clearTimeout(burst.timer);
    burst.timer = null;
    const { inserted, deleted } = burst;
    burst.inserted = burst.deleted = 0;
    try {
      const c = this.d.cases.get(doc.caseId);
      const itemId = doc.target.kind === 'item' ? doc.target.itemId : null;
      const operation = `${doc.target.kind === 'item' ? 'item:text' : 'minutes:edit'} +${inserted} -${deleted}`;
      if (c && inserted + deleted > 0) this.d.access.record(accessRecord(actor, c, { action: 'update', operation, itemId }));
      if (doc.target.kind === 'minutes' || doc.unloaded) return;
      const { caseId, docId } = doc;
      // Read in the case's queue: typing committed before the copy's turn is in it.
      const textNow = async (): Promise<string> =>
        doc.unloaded ? textOf((await readStoredDoc(this.d.store, this.d.cases, caseId, docId)).state) : doc.text.toString();
      const copied = await this.copy(caseId, doc.target.itemId, docId, textNow, actor);
      if (!copied) this.retry(doc.caseId, doc.target.itemId, doc.docId, actor);
    } catch (err) {
      this.d.log.error({ err, docId: doc.docId }, 'recording an editing burst failed');
      if (unavailability(err) && doc.target.kind === 'item') this.retry(doc.caseId, doc.target.itemId, doc.docId, actor);
    }
  }

  /**
   * The board's copy follows through the ordinary command: authorised, logged, delivered. False
   * when the store may not have taken it (OUTCOME_UNKNOWN); a store that failed throws.
   */
  private async copy(caseId: CaseId, itemId: ItemId, docId: string, textNow: () => Promise<string>, actor: Actor): Promise<boolean> {
    const r = await this.d.cases.runFrom(
      'item:edit',
      caseId,
      async (c) => {
        const text = (await textNow()).trim().slice(0, MAX_ITEM_TEXT_CHARS);
        const item = c?.items.get(itemId);
        return !item || !text || item.text === text ? null : { caseId, itemId, text };
      },
      actor,
      docId,
    );
    if (!r) return true;
    if (!r.ok) this.d.log.info({ code: r.error.code, docId }, 'editing burst not recorded');
    return r.ok || r.error.code !== 'OUTCOME_UNKNOWN';
  }

  /**
   * A board copy the store could not take is tried again, as a client tries an UNAVAILABLE answer
   * again, until it lands, from the document as stored then: a board left behind its document
   * would make the next board edit, computed on the board's text, delete what was typed.
   */
  private retry(caseId: CaseId, itemId: ItemId, docId: string, actor: Actor, attempt = 0): void {
    if (this.retries.has(docId)) return;
    const again = (): void => this.retry(caseId, itemId, docId, actor, attempt + 1);
    const timer = setTimeout(
      () => {
        this.retries.delete(docId);
        this.copyStored(caseId, itemId, docId, actor).then(
          (copied) => {
            if (!copied) again();
          },
          (err: unknown) => {
            this.d.log.warn({ err: (err as Error).message, docId, attempt }, 'board copy of an editing burst not stored yet');
            if (unavailability(err)) again();
          },
        );
      },
      Math.min(UNAVAILABLE_FIRST_RETRY_MS * 2 ** attempt, UNAVAILABLE_RETRY_AFTER_MS),
    );
    timer.unref();
    this.retries.set(docId, timer);
  }

  /** The board text brought up to the document as the store holds it now. */
  private copyStored(caseId: CaseId, itemId: ItemId, docId: string, actor: Actor): Promise<boolean> {
    return this.copy(caseId, itemId, docId, async () => textOf((await readStoredDoc(this.d.store, this.d.cases, caseId, docId)).state), actor);
  }

  /** Stops trying again (the server stops; the next start catches up: catchUpBoard). */
  stop(): void {
    for (const timer of this.retries.values()) clearTimeout(timer);
    this.retries.clear();
  }

  /**
   * At start: item texts typed before a crash whose burst was never recorded are copied to the
   * board before anyone is served, by their last writer, so no board edit is computed against a
   * text older than its document.
   */
  async catchUpBoard(): Promise<number> {
    let n = 0;
    for (const b of this.d.cases.boardCopiesBehind()) {
      const user = this.d.dir.user(b.writer.userId);
      if (!user) continue;
      const viewer: Viewer = { userId: user.id, orgId: b.writer.orgId, roles: user.roles };
      try {
        const before = this.d.cases.get(b.caseId)?.items.get(b.itemId)?.text;
        await this.copyStored(b.caseId, b.itemId, b.docId, { viewer, address: 'server' });
        if (this.d.cases.get(b.caseId)?.items.get(b.itemId)?.text !== before) n++;
      } catch (err) {
        this.d.log.error({ err, docId: b.docId }, 'bringing a board text up to its document failed');
      }
    }
    return n;
  }
}

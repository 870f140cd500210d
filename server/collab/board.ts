import type { Viewer } from '../../shared/domain.js';
import type { ItemId } from '../../shared/ids.js';
import { EDIT_BURST_MS, MAX_ITEM_TEXT_CHARS } from '../../shared/limits.js';
import { accessRecord, type AccessLog, type Actor } from '../audit/accessLog.js';
import type { CaseService } from '../cases/service.js';
import type { Directory } from '../directory/directory.js';
import type { Logger } from '../log.js';
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
      await this.copy(doc.caseId, doc.target.itemId, doc.docId, doc.text.toString(), actor);
    } catch (err) {
      this.d.log.error({ err, docId: doc.docId }, 'recording an editing burst failed');
    }
  }

  /** The board's copy follows through the ordinary command: authorised, logged, delivered. */
  private async copy(caseId: CollabDoc['caseId'], itemId: ItemId, docId: string, raw: string, actor: Actor): Promise<void> {
    const text = raw.trim().slice(0, MAX_ITEM_TEXT_CHARS);
    const item = this.d.cases.get(caseId)?.items.get(itemId);
    if (!item || !text || item.text === text) return;
    const r = await this.d.cases.run('item:edit', { caseId, itemId, text }, actor, docId);
    if (!r.ok) this.d.log.info({ code: r.error.code, docId }, 'editing burst not recorded');
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
        const stored = await this.d.cases.withCase(b.caseId, () => readStoredDoc(this.d.store, this.d.cases, b.caseId, b.docId));
        const text = textOf(stored.state);
        const before = this.d.cases.get(b.caseId)?.items.get(b.itemId)?.text;
        await this.copy(b.caseId, b.itemId, b.docId, text, { viewer, address: 'server' });
        if (this.d.cases.get(b.caseId)?.items.get(b.itemId)?.text !== before) n++;
      } catch (err) {
        this.d.log.error({ err, docId: b.docId }, 'bringing a board text up to its document failed');
      }
    }
    return n;
  }
}

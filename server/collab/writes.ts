import type { Viewer } from '../../shared/domain.js';
import type { CaseId } from '../../shared/ids.js';
import { docAccess } from '../../shared/rules/access.js';
import { MAX_DOC_BYTES_WAITING, MAX_DOC_UPDATES_WAITING } from '../../shared/limits.js';
import type { CaseService } from '../cases/service.js';
import type { CaseEvent, EventMeta } from '../cases/events.js';
import type { Logger } from '../log.js';
import { admit, Staged, type Admission } from './admit.js';
import type { CollabDoc } from './doc.js';

/** A connection that writes: told when its update is not kept. */
export interface DocWriter {
  readonly viewer: Viewer;
  /** `unstored`: the store failed, nothing of the batch was applied; the client resends it. */
  refused(doc: CollabDoc, why: Exclude<Admission, 'apply' | 'nothing'> | 'unstored'): void;
}

interface Pending {
  doc: CollabDoc;
  writer: DocWriter;
  update: Uint8Array;
  at: string;
}

/**
 * Writers' updates on their way into the case log (docs/DESIGN-ordering.md). Nothing is applied
 * when it arrives: it waits in its case's inbox, and what arrives during one append goes in the
 * next, in the case's queue, each update judged on the case and admitted on the document as they
 * stand at its position. Only the committed entries reach the documents (DocRegistry.follow).
 */
export class DocWrites {
  private readonly inbox = new Map<CaseId, Pending[] & { bytes?: number }>();
  private readonly flushing = new Set<Promise<void>>();

  constructor(
    private readonly d: { cases: CaseService; log: Logger },
    /** Keeps a document loaded while updates of it wait. */
    private readonly holds: { hold(doc: CollabDoc): void; release(doc: CollabDoc): void },
  ) {}

  submit(doc: CollabDoc, writer: DocWriter, update: Uint8Array): void {
    let queue = this.inbox.get(doc.caseId);
    // A case whose appends cannot keep up (a slow store, a flood): its writers come back later.
    if (queue && (queue.length >= MAX_DOC_UPDATES_WAITING || (queue.bytes ?? 0) + update.length > MAX_DOC_BYTES_WAITING)) {
      return writer.refused(doc, 'unstored');
    }
    if (!queue) {
      this.inbox.set(doc.caseId, (queue = []));
      const caseId = doc.caseId;
      const flush = this.d.cases
        .withCase(caseId, () => this.flush(caseId))
        .catch((err: unknown) => this.d.log.error({ err, caseId }, 'writing doc updates failed'))
        .finally(() => this.flushing.delete(flush));
      this.flushing.add(flush);
    }
    this.holds.hold(doc);
    queue.push({ doc, writer, update, at: new Date().toISOString() });
    queue.bytes = (queue.bytes ?? 0) + update.length;
  }

  /** Resolves once every update taken so far is stored (or refused). */
  async idle(): Promise<void> {
    while (this.flushing.size > 0) await Promise.all([...this.flushing]);
  }

  /** Every update waiting for the case, as one append. */
  private async flush(caseId: CaseId): Promise<void> {
    const batch = this.inbox.get(caseId) ?? [];
    this.inbox.delete(caseId);
    let kept: Pending[] = [];
    let refusals: [Pending, Exclude<Admission, 'apply' | 'nothing'>][] = [];
    try {
      await this.d.cases.appendEntries(caseId, (c) => {
        // Built again after a lost race: on the case and documents as they now stand.
        kept = [];
        refusals = [];
        for (const p of batch) p.doc.writers.clear();
        const refused = new Set<DocWriter>();
        const staged = new Map<CollabDoc, Staged>();
        const entries: { event: CaseEvent; meta: EventMeta }[] = [];
        for (const p of batch) {
          // R-OWN, R-NEED: the right to write at this position; one who lost it was revoked already.
          if (p.doc.unloaded || docAccess(c, p.doc.target, p.writer.viewer) !== 'write') continue;
          let st = staged.get(p.doc);
          if (!st) staged.set(p.doc, (st = new Staged()));
          const admission = admit(p.doc, p.update, st, p.writer.viewer.userId);
          if (admission === 'nothing') continue;
          if (admission !== 'apply') {
            // What a writer typed on top of its own refused update builds on what the server never
            // kept: refused with it (it is told once), not taken for a bad client.
            if (!refused.has(p.writer)) refusals.push([p, admission]);
            refused.add(p.writer);
            continue;
          }
          if (refused.has(p.writer)) continue;
          const update = Buffer.from(p.update).toString('base64');
          p.doc.writers.set(c.version + entries.length + 1, { conn: p.writer, update });
          kept.push(p);
          const meta = { at: p.at, actorUserId: p.writer.viewer.userId, actorOrgId: p.writer.viewer.orgId };
          entries.push({ event: { type: 'doc.update', payload: { docId: p.doc.docId, update } }, meta });
        }
        return entries;
      });
    } catch (err) {
      // Nothing of the batch was applied (or, its outcome unknown, it is found in the log later):
      // its writers resend what they have once they are connected again.
      this.d.log.warn({ err: (err as Error).message, caseId, updates: kept.length }, 'doc updates not stored');
      for (const p of kept) {
        p.doc.writers.clear();
        p.writer.refused(p.doc, 'unstored');
      }
    } finally {
      for (const [p, why] of refusals) p.writer.refused(p.doc, why);
      for (const p of batch) this.holds.release(p.doc);
    }
  }
}

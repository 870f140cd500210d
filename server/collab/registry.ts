import { EventEmitter } from 'node:events';
import * as Y from 'yjs';
import type { CaseState } from '../../shared/domain.js';
import type { CaseId, UserId } from '../../shared/ids.js';
import { DOC_COMPACT_AFTER_UPDATES, MAX_DOC_BYTES } from '../../shared/limits.js';
import type { DocTarget } from '../../shared/rules/access.js';
import type { CaseService, Committed } from '../cases/service.js';
import type { DocRelay } from '../cluster/cluster.js';
import type { Logger } from '../log.js';
import type { DocStore, EventLog, PurgeStore } from '../store/types.js';
import { CollabDoc, type TextOrigin } from './doc.js';
import { readStoredDoc, textOf } from './stored.js';
import { mergeBoardEdit, textUpdate } from './text.js';

/** A load that read this many entries of the case log leaves a snapshot, so the next reads fewer. */
const SNAPSHOT_AFTER_LOAD_ENTRIES = 500;

/** What the connections layer does with a document the registry holds. */
export interface RegistryHooks {
  /** A document was loaded: its observers go on now, before any entry is applied to it. */
  loaded(doc: CollabDoc): void;
  /** A cursor message from the same document on another process, at that process's case version. */
  relayed(doc: CollabDoc, caseVersion: number, message: Uint8Array): void;
  /** After every commit of a case with documents loaded here, once they have followed it. */
  applied(c: Committed, docs: Iterable<CollabDoc>): void;
}

/**
 * The documents of this process: each is loaded as "snapshot + the case log's entries after it"
 * inside its case's queue, follows the log in the same step as the case state moves on, and is
 * let go once nobody holds it (docs/DESIGN-ordering.md).
 */
export class DocRegistry {
  private readonly loading = new Map<string, Promise<CollabDoc>>();
  private readonly docs = new Map<string, CollabDoc>();
  private readonly byCase = new Map<CaseId, Set<CollabDoc>>();
  private readonly snapshotting = new Set<CollabDoc>();
  /** 'unloaded' (docId) when a document leaves memory. */
  readonly events = new EventEmitter<{ unloaded: [string] }>();

  constructor(
    private readonly d: { store: DocStore & EventLog & Pick<PurgeStore, 'purgeCase'>; cases: CaseService; cluster: DocRelay; log: Logger },
    private readonly hooks: RegistryHooks,
  ) {
    d.cases.onApplied((c) => this.follow(c));
    d.cases.setDocTextWriter((c, docId, edit) => this.textUpdate(c, docId, edit));
  }

  locate(docId: string): { caseId: CaseId; target: DocTarget } | undefined {
    return this.d.cases.doc(docId);
  }

  /** A document already loaded here, without waiting for one that is loading. */
  get(docId: string): CollabDoc | undefined {
    return this.docs.get(docId);
  }

  get size(): number {
    return this.loading.size;
  }

  all(): IterableIterator<CollabDoc> {
    return this.docs.values();
  }

  /** The document, held in memory for the caller until `release`; one let go while loading is loaded again. */
  async hold(docId: string): Promise<CollabDoc> {
    for (;;) {
      const doc = await this.load(docId);
      if (!doc.unloaded) {
        doc.holds++;
        return doc;
      }
    }
  }

  release(doc: CollabDoc): void {
    if (--doc.holds > 0 || doc.unloaded) return;
    doc.unloaded = true;
    this.loading.delete(doc.docId);
    this.docs.delete(doc.docId);
    const set = this.byCase.get(doc.caseId);
    set?.delete(doc);
    if (set?.size === 0) this.byCase.delete(doc.caseId);
    void this.snapshot(doc);
    doc.unsubscribe().catch((err: unknown) => this.d.log.warn({ err: (err as Error).message, docId: doc.docId }, 'leaving a document relay failed'));
    doc.destroy();
    this.events.emit('unloaded', doc.docId);
  }

  private load(docId: string): Promise<CollabDoc> {
    let p = this.loading.get(docId);
    if (p) return p;
    const where = this.locate(docId);
    if (!where) return Promise.reject(new Error(`unknown document ${docId}`));
    p = this.d.cases.withCase(where.caseId, () => this.read(docId, where.caseId, where.target));
    this.loading.set(docId, p);
    // A load that failed is not kept: the next open tries again.
    p.catch(() => {
      if (this.loading.get(docId) === p) this.loading.delete(docId);
    });
    return p;
  }

  /** In the case's queue: nothing of the case is applied between the reads and the registration. */
  private async read(docId: string, caseId: CaseId, target: DocTarget): Promise<CollabDoc> {
    const doc = new CollabDoc(docId, caseId, target);
    const unsubscribe = await this.d.cluster.subscribeDoc(docId, (v, m) => {
      if (!doc.unloaded && this.docs.get(docId) === doc) this.hooks.relayed(doc, v, m);
    });
    try {
      const { state, snapshotVersion, entries, position, writers } = await readStoredDoc(this.d.store, this.d.cases, caseId, docId);
      for (const [client, userId] of writers) doc.textWriters.set(client, userId);
      if (state) Y.applyUpdate(doc.ydoc, state, { kind: 'snapshot' } satisfies TextOrigin);
      doc.position = position;
      doc.snapshotVersion = snapshotVersion;
      doc.entriesSinceSnapshot = entries;
      doc.approxBytes = doc.snapshotBytes = state?.length ?? 0;
    } catch (err) {
      await unsubscribe().catch((e: unknown) => this.d.log.warn({ err: (e as Error).message, docId }, 'leaving a document relay failed'));
      doc.destroy();
      throw err;
    }
    doc.unsubscribe = unsubscribe;
    this.docs.set(docId, doc);
    let set = this.byCase.get(caseId);
    if (!set) this.byCase.set(caseId, (set = new Set()));
    set.add(doc);
    this.hooks.loaded(doc);
    if (doc.entriesSinceSnapshot > SNAPSHOT_AFTER_LOAD_ENTRIES) void this.snapshot(doc);
    return doc;
  }

  /** Inside the case's queue (a commit): the update that makes the document's text `text` at this position. */
  private async textUpdate(c: CaseState, docId: string, edit: { from: string; to: string }): Promise<Uint8Array | null> {
    const doc = this.docs.get(docId);
    const state = doc ? Y.encodeStateAsUpdate(doc.ydoc) : (await readStoredDoc(this.d.store, this.d.cases, c.id, docId)).state;
    const current = doc ? doc.text.toString() : textOf(state);
    // The board edit changed the board's text; typing not yet on the board stays where it does not clash.
    return textUpdate(state, mergeBoardEdit(edit.from, current, edit.to));
  }

  /** The loaded documents of the case follow its log, entry by entry, in the step the case moves on. */
  private follow(c: Committed): void {
    const set = this.byCase.get(c.caseId);
    if (!set) return;
    for (const e of c.docs) {
      const doc = this.docs.get(e.docId);
      if (!doc || doc.caseId !== c.caseId || e.version <= doc.position) continue;
      const mine = doc.writers.get(e.version);
      const from = mine?.update === e.update ? mine.conn : null;
      doc.writers.delete(e.version);
      if (!e.accepted) continue;
      const update = Buffer.from(e.update, 'base64');
      doc.position = e.version;
      doc.entriesSinceSnapshot++;
      doc.approxBytes += update.length;
      bindWriters(doc, update, e.writer.userId);
      try {
        Y.applyUpdate(doc.ydoc, update, { kind: 'log', version: e.version, from } satisfies TextOrigin);
      } catch (err) {
        this.d.log.error({ err, docId: doc.docId, version: e.version }, 'applying a doc entry failed');
      }
    }
    for (const doc of set) {
      doc.position = c.after.version;
      for (const v of doc.writers.keys()) if (v <= doc.position) doc.writers.delete(v);
      const bySize = doc.approxBytes > Math.max(MAX_DOC_BYTES / 2, 2 * doc.snapshotBytes);
      if (doc.entriesSinceSnapshot > DOC_COMPACT_AFTER_UPDATES || bySize) void this.snapshot(doc);
    }
    this.hooks.applied(c, set);
  }

  /** Stores the document's state at its position, at most one at a time per document. */
  private async snapshot(doc: CollabDoc): Promise<void> {
    // R-RETAIN: the text of a purged case is not written back.
    if (this.d.cases.isPurged(doc.caseId)) return;
    if (doc.position <= doc.snapshotVersion || doc.entriesSinceSnapshot === 0 || this.snapshotting.has(doc)) return;
    this.snapshotting.add(doc);
    const version = doc.position;
    const counted = doc.entriesSinceSnapshot;
    const state = Y.encodeStateAsUpdate(doc.ydoc);
    const bytesBefore = doc.approxBytes;
    try {
      await this.d.store.putDocSnapshot(doc.docId, { version, state });
      // Purged while this one was being written: it goes as well (the case's first marker stays).
      if (this.d.cases.isPurged(doc.caseId)) await this.d.store.purgeCase(doc.caseId, 0, [doc.docId], '{}');
      doc.snapshotVersion = Math.max(doc.snapshotVersion, version);
      doc.entriesSinceSnapshot -= counted;
      // Deletions add bytes to updates, not text: a snapshot of the collected document gives them back.
      doc.approxBytes = state.length + (doc.approxBytes - bytesBefore);
      doc.snapshotBytes = state.length;
    } catch (err) {
      this.d.log.error({ err, docId: doc.docId }, 'storing a document snapshot failed');
    } finally {
      this.snapshotting.delete(doc);
    }
  }

  /** Stores a snapshot of every loaded document that has entries since its last one (on stop). */
  async snapshotAll(): Promise<void> {
    await Promise.all([...this.docs.values()].map((doc) => this.snapshot(doc)));
  }
}

/** The client ids an entry wrote new content under become its writer's, if nobody's yet. */
function bindWriters(doc: CollabDoc, update: Uint8Array, userId: UserId): void {
  for (const client of Y.parseUpdateMeta(update).to.keys()) if (!doc.textWriters.has(client)) doc.textWriters.set(client, userId);
}

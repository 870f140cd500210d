import * as awarenessProtocol from 'y-protocols/awareness';
import * as Y from 'yjs';
import type { CaseId, UserId } from '../../shared/ids.js';
import type { DocTarget } from '../../shared/rules/access.js';
import type { Store } from '../store/types.js';

/** The server's copy of one collaborative text: garbage-collected, so deleted text is gone from it. */
export class CollabDoc {
  readonly ydoc = new Y.Doc({ gc: true });
  readonly awareness = new awarenessProtocol.Awareness(this.ydoc);
  /** Stored updates since the last compaction, and an upper bound of the document's size. */
  storedUpdates = 0;
  approxBytes = 0;
  /** Stops relaying this document between processes. */
  unsubscribe: () => Promise<void> = async () => undefined;
  /** Let go from memory (Collab.maybeUnload): never loaded again as this object. */
  unloaded = false;
  /** Updates on their way to the store. */
  storing = 0;
  /** Kept in memory while above 0, with or without connections (Collab.held). */
  holds = 0;
  /** Which user each awareness client id belongs to: the first to speak for it. */
  readonly clientOwners = new Map<number, UserId>();
  /** Size of the document as last loaded or compacted; compaction by size waits until it has doubled. */
  compactedBytes = 0;
  private stored: (() => void)[] = [];
  /** The append of the update last sent to the store: settled once it is stored (or failed). */
  appending: Promise<void> = Promise.resolve();

  /** Counts an update on its way to the store until `done` settles. */
  track(done: Promise<unknown>): void {
    this.storing++;
    // Settled either way: a failed store write is logged where it failed.
    void done.catch(() => undefined).finally(() => {
      if (--this.storing > 0) return;
      for (const fn of this.stored.splice(0)) fn();
    });
  }

  /** Resolves once every update sent to the store so far has been stored (or failed). */
  whenStored(): Promise<void> {
    if (this.storing === 0) return Promise.resolve();
    return new Promise((resolve) => this.stored.push(resolve));
  }

  private constructor(
    readonly docId: string,
    readonly caseId: CaseId,
    readonly target: DocTarget,
  ) {
    // The server has no cursor of its own.
    this.awareness.setLocalState(null);
  }

  static async load(store: Store, docId: string, caseId: CaseId, target: DocTarget, initialText: string): Promise<CollabDoc> {
    const d = new CollabDoc(docId, caseId, target);
    const updates = await store.readDocUpdates(docId);
    if (updates.length === 0 && initialText) {
      // An item written before co-editing starts from its text on the board: stored by whichever
      // process opens it first; one that comes second takes that one's.
      const scratch = new Y.Doc();
      scratch.getText('text').insert(0, initialText);
      const first = Y.encodeStateAsUpdate(scratch);
      scratch.destroy();
      if (await store.startDoc(docId, first)) updates.push(first);
      else updates.push(...(await store.readDocUpdates(docId)));
    }
    d.ydoc.transact(() => {
      for (const u of updates) Y.applyUpdate(d.ydoc, u);
    }, 'store');
    d.storedUpdates = updates.length;
    d.approxBytes = d.compactedBytes = Y.encodeStateAsUpdate(d.ydoc).length;
    return d;
  }

  get text(): Y.Text {
    return this.ydoc.getText('text');
  }

  /**
   * Merges the stored updates into one update of a garbage-collected document, built from what
   * the store holds (another process may have stored updates this one has not applied yet). One
   * at a time here; one overtaken by another process's replaces nothing (Store.compactDoc).
   */
  compact(store: Store): Promise<void> {
    this.compacting ??= this.compactOnce(store).finally(() => (this.compacting = null));
    return this.compacting;
  }

  private compacting: Promise<void> | null = null;

  private async compactOnce(store: Store): Promise<void> {
    const updates = await store.readDocUpdates(this.docId);
    if (updates.length < 2) return;
    const scratch = new Y.Doc({ gc: true });
    for (const u of updates) Y.applyUpdate(scratch, u);
    const merged = Y.encodeStateAsUpdate(scratch);
    scratch.destroy();
    if (!(await store.compactDoc(this.docId, merged, updates))) return;
    this.storedUpdates = 1;
    this.approxBytes = this.compactedBytes = merged.length;
  }

  destroy(): void {
    this.awareness.destroy();
    this.ydoc.destroy();
  }
}

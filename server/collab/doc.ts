import * as awarenessProtocol from 'y-protocols/awareness';
import * as Y from 'yjs';
import type { CaseId, UserId } from '../../shared/ids.js';
import type { DocTarget } from '../../shared/rules/access.js';

/**
 * Where a change of a server document came from (the transaction's origin). Text comes only
 * from the case log: `log` for an entry at its position (`from`: the connection here that wrote
 * it, which is not sent its own update back), `snapshot` while loading.
 */
export type TextOrigin = { kind: 'log'; version: number; from: object | null } | { kind: 'snapshot' };

export const isTextOrigin = (o: unknown): o is TextOrigin => typeof o === 'object' && o !== null && 'kind' in o && (o.kind === 'log' || o.kind === 'snapshot');

/** The server's copy of one collaborative text: garbage-collected, so deleted text is gone from it. */
export class CollabDoc {
  readonly ydoc = new Y.Doc({ gc: true });
  readonly awareness = new awarenessProtocol.Awareness(this.ydoc);
  /** The case log position this copy reflects: every entry of it up to here is applied. */
  position = 0;
  /** Position of the stored snapshot, and entries of this document applied since. */
  snapshotVersion = 0;
  entriesSinceSnapshot = 0;
  /** An upper bound of the document's size in bytes (the byte cap counts it), and its size as last snapshotted or loaded. */
  approxBytes = 0;
  snapshotBytes = 0;
  /** Stops relaying cursors of this document between processes. */
  unsubscribe: () => Promise<void> = async () => undefined;
  /** Let go from memory: never used again as this object. */
  unloaded = false;
  /** Kept in memory while above 0, with or without connections. */
  holds = 0;
  /**
   * Which user each Yjs client id wrote text for, from the entries applied here (an id met only
   * in a snapshot is bound by its next writer).
   */
  readonly textWriters = new Map<number, UserId>();
  /** Which user each awareness client id belongs to: the first to speak for it. */
  readonly clientOwners = new Map<number, UserId>();
  /**
   * The connection here that wrote the entry about to take each version, with that entry's update
   * (DocWrites): an append that lost its race leaves its guesses behind, and the entry another
   * process put at that version is not this connection's.
   */
  readonly writers = new Map<number, { conn: object; update: string }>();

  constructor(
    readonly docId: string,
    readonly caseId: CaseId,
    readonly target: DocTarget,
  ) {
    // The server has no cursor of its own.
    this.awareness.setLocalState(null);
  }

  get text(): Y.Text {
    return this.ydoc.getText('text');
  }

  destroy(): void {
    this.awareness.destroy();
    this.ydoc.destroy();
  }
}

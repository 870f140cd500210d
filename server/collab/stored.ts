import * as Y from 'yjs';
import type { CaseId, UserId } from '../../shared/ids.js';
import { CaseEventSchemas } from '../cases/events.js';
import type { CaseService } from '../cases/service.js';
import type { DocStore, EventLog } from '../store/types.js';
import { genesisUpdate, GENESIS_CLIENT, scratchDoc } from './text.js';

/** A document as the store holds it at its case's current position. */
export interface StoredDoc {
  /** One Yjs update holding it all; null for a document nothing was written into. */
  state: Uint8Array | null;
  position: number;
  snapshotVersion: number;
  /** Entries of it after the snapshot. */
  entries: number;
  /** Whose each Yjs client id is, by the first of those entries to write under it. */
  writers: Map<number, UserId>;
}

/**
 * Reads a document: its snapshot (or its first text, from its item's `item.added`) and the
 * accepted entries of it after that, up to the case's position here. Only inside the case's queue, so the position does not move meanwhile.
 */
export async function readStoredDoc(store: DocStore & EventLog, cases: CaseService, caseId: CaseId, docId: string): Promise<StoredDoc> {
  const position = cases.get(caseId)?.version ?? 0;
  // A snapshot another process wrote past the position held here holds text this process has not
  // judged yet (it may follow a narrowing not applied here): read the log instead.
  const stored = await store.readDocSnapshot(docId);
  const snap = stored && stored.version <= position ? stored : undefined;
  const from = snap?.version ?? 0;
  const updates: Uint8Array[] = snap ? [snap.state] : [];
  let entries = 0;
  const writers = new Map<number, UserId>();
  if (position > from) {
    for (const row of await store.readEvents(caseId, from, position)) {
      if (row.type === 'item.added') {
        // Its first text, derived as every process derives it (a snapshot past it holds it already).
        const p = CaseEventSchemas['item.added'].parse(row.payload);
        const first = p.textDocId === docId ? genesisUpdate(p.text) : null;
        if (first) {
          updates.push(first);
          writers.set(GENESIS_CLIENT, row.actorUserId);
        }
        continue;
      }
      if (row.type !== 'doc.update' || cases.isDropped(caseId, row.version)) continue;
      const p = CaseEventSchemas['doc.update'].parse(row.payload);
      if (p.docId !== docId) continue;
      const update = Buffer.from(p.update, 'base64');
      updates.push(update);
      entries++;
      for (const client of Y.parseUpdateMeta(update).to.keys()) if (!writers.has(client)) writers.set(client, row.actorUserId);
    }
  }
  const state = updates.length === 0 ? null : updates.length === 1 ? updates[0]! : Y.mergeUpdates(updates);
  return { state, position, snapshotVersion: snap?.version ?? 0, entries, writers };
}

/** The text of a document's state. */
export function textOf(state: Uint8Array | null): string {
  const doc = scratchDoc();
  try {
    if (state) Y.applyUpdate(doc, state);
    return doc.getText('text').toString();
  } finally {
    doc.destroy();
  }
}

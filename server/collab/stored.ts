import * as Y from 'yjs';
import type { CaseId } from '../../shared/ids.js';
import { CaseEventSchemas } from '../cases/events.js';
import type { CaseService } from '../cases/service.js';
import type { DocStore, EventLog } from '../store/types.js';
import { scratchDoc } from './text.js';

/** A document as the store holds it at its case's current position. */
export interface StoredDoc {
  /** One Yjs update holding it all; null for a document nothing was written into. */
  state: Uint8Array | null;
  position: number;
  snapshotVersion: number;
  /** Entries of it after the snapshot. */
  entries: number;
}

/**
 * Reads a document: its snapshot and the accepted entries of it after the snapshot, up to the
 * case's position here. Only inside the case's queue, so the position does not move meanwhile.
 */
export async function readStoredDoc(store: DocStore & EventLog, cases: CaseService, caseId: CaseId, docId: string): Promise<StoredDoc> {
  const position = cases.get(caseId)?.version ?? 0;
  const snap = await store.readDocSnapshot(docId);
  const from = Math.min(snap?.version ?? 0, position);
  const updates: Uint8Array[] = snap ? [snap.state] : [];
  let entries = 0;
  if (position > from) {
    for (const row of await store.readEvents(caseId, from, position)) {
      if (row.type !== 'doc.update' || cases.isDropped(caseId, row.version)) continue;
      const p = CaseEventSchemas['doc.update'].parse(row.payload);
      if (p.docId !== docId) continue;
      updates.push(Buffer.from(p.update, 'base64'));
      entries++;
    }
  }
  const state = updates.length === 0 ? null : updates.length === 1 ? updates[0]! : Y.mergeUpdates(updates);
  return { state, position, snapshotVersion: snap?.version ?? 0, entries };
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

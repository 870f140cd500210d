import * as Y from 'yjs';
import { MAX_DOC_BYTES, MAX_DOC_UPDATE_BYTES, MAX_ITEM_TEXT_CHARS, MAX_MINUTES_CHARS } from '../../shared/limits.js';
import type { CollabDoc } from './doc.js';

/**
 * What the server does with a writer's update: apply it; refuse it as growth past a cap (the
 * writer is told); or refuse it as something no honest client sends (the connection closes).
 */
export type Admission = 'apply' | 'too-long' | 'bad';

/**
 * Judges a writer's update before it is applied. An honest client's update holds plain text of
 * the document's one `Y.Text` named `text`, and builds only on what this server sent it, so it
 * applies in full at once. Anything else is refused: content elsewhere in the document (nobody
 * sees or deletes it, yet it fills the byte budget), other content kinds, and an update Yjs would
 * park as pending (a clock gap, an unknown origin, a deletion of the unknown), whose parked
 * content no cap would ever have counted and which a later update would let in all at once.
 * Only growth is limited: deletions and content the document already holds never overflow.
 */
export function admit(doc: CollabDoc, update: Uint8Array): Admission {
  if (update.length > MAX_DOC_UPDATE_BYTES) return 'too-long';
  let decoded: ReturnType<typeof Y.decodeUpdate>;
  try {
    decoded = Y.decodeUpdate(update);
  } catch {
    return 'bad';
  }
  const store = doc.ydoc.store;
  // Per client, the clock up to which the document plus this update hold everything.
  const upTo = new Map<number, number>();
  const stateOf = (client: number): number => upTo.get(client) ?? Y.getState(store, client);
  let chars = 0;
  let fresh = false;
  for (const s of decoded.structs) {
    if (s instanceof Y.Skip) return 'bad';
    const at = stateOf(s.id.client);
    if (s.id.clock > at) return 'bad';
    const added = s.id.clock + s.length - at;
    if (added > 0) upTo.set(s.id.client, at + added);
    if (!(s instanceof Y.Item)) continue;
    // In a decoded update the parent is the root's name, or null where the origin implies it.
    const parent = s.parent as unknown;
    if (s.parentSub !== null || (parent !== null && parent !== 'text')) return 'bad';
    if (!(s.content instanceof Y.ContentString || s.content instanceof Y.ContentDeleted)) return 'bad';
    if (added > 0) {
      fresh = true;
      if (s.content instanceof Y.ContentString) chars += Math.min(added, s.length);
    }
  }
  const known = (id: Y.ID | null): boolean => id === null || id.clock < stateOf(id.client);
  for (const s of decoded.structs) {
    if (s instanceof Y.Item && (!known(s.origin) || !known(s.rightOrigin))) return 'bad';
  }
  for (const [client, ranges] of decoded.ds.clients) {
    for (const r of ranges) if (r.clock + r.len > stateOf(client)) return 'bad';
  }
  if (!fresh) return 'apply';
  const cap = doc.target.kind === 'item' ? MAX_ITEM_TEXT_CHARS : MAX_MINUTES_CHARS;
  if (doc.text.length + chars > cap || doc.approxBytes + update.length > MAX_DOC_BYTES) return 'too-long';
  return 'apply';
}

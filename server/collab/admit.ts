import * as Y from 'yjs';
import { MAX_DOC_BYTES, MAX_DOC_UPDATE_BYTES, MAX_ITEM_TEXT_CHARS, MAX_MINUTES_CHARS } from '../../shared/limits.js';
import type { UserId } from '../../shared/ids.js';
import type { CollabDoc } from './doc.js';

/**
 * What the server does with a writer's update: append it; refuse it as growth past a cap (the
 * writer is told); or refuse it as something no honest client sends (the connection closes).
 */
export type Admission = 'apply' | 'nothing' | 'too-long' | 'bad';

/** Updates admitted in one batch, not yet in the document: the next one is judged on top of them. */
export class Staged {
  readonly clocks = new Map<number, number>();
  /** Yjs client ids the staged updates wrote new content under, and whose they are. */
  readonly writers = new Map<number, UserId>();
  /** Per client, the ranges of the document's content the staged updates delete: credited once. */
  readonly deleted = new Map<number, [clock: number, len: number][]>();
  chars = 0;
  bytes = 0;
}

/**
 * Judges a writer's update against the document plus what is staged before it. An honest
 * client's update holds plain text of the document's one `Y.Text` named `text`, and builds only on
 * what the server holds, so it applies in full at once. Anything else is refused: content
 * elsewhere in the document (nobody sees or deletes it, yet it fills the byte budget), other
 * content kinds, and an update Yjs would park as pending (a clock gap, an unknown origin, a
 * deletion of the unknown), whose parked content no cap would ever have counted. Only growth is
 * limited: deletions and content the document already holds never overflow. An admitted update
 * is added to `staged`; one that adds nothing is 'nothing'.
 */
export function admit(doc: CollabDoc, update: Uint8Array, staged: Staged, writer: UserId): Admission {
  if (update.length > MAX_DOC_UPDATE_BYTES) return 'too-long';
  let decoded: ReturnType<typeof Y.decodeUpdate>;
  try {
    decoded = Y.decodeUpdate(update);
  } catch {
    return 'bad';
  }
  const store = doc.ydoc.store;
  // Per client, the clock up to which the document, the staged updates and this one hold everything.
  const upTo = new Map<number, number>();
  const stateOf = (client: number): number => upTo.get(client) ?? staged.clocks.get(client) ?? Y.getState(store, client);
  let chars = 0;
  let fresh = false;
  for (const s of decoded.structs) {
    if (s instanceof Y.Skip) return 'bad';
    const at = stateOf(s.id.client);
    if (s.id.clock > at) return 'bad';
    const added = s.id.clock + s.length - at;
    if (added > 0) {
      // A client id writes for the user who first wrote under it: nobody takes the clocks another
      // writer's next typing needs (which would make that typing add nothing, and vanish).
      const owner = staged.writers.get(s.id.client) ?? doc.textWriters.get(s.id.client);
      if (owner !== undefined && owner !== writer) return 'bad';
      upTo.set(s.id.client, at + added);
    }
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
  // Characters this update deletes from the document (deleting staged text counts as none: a bound).
  let deleted = 0;
  let deletesStaged = false;
  const deletes: [number, number, number][] = [];
  for (const [client, ranges] of decoded.ds.clients) {
    // Yjs writes each client's ranges sorted and merged; ranges that repeat or overlap would be
    // counted (and walked) once each: a frame of them costs seconds and buys room past the cap.
    let end = -1;
    for (const r of ranges) {
      if (r.clock < end) return 'bad';
      end = r.clock + r.len;
      if (r.clock + r.len > stateOf(client)) return 'bad';
      if (r.clock + r.len > Y.getState(store, client)) deletesStaged = true;
      else {
        deleted += liveChars(store, client, r.clock, r.len, staged.deleted.get(client) ?? []);
        deletes.push([client, r.clock, r.len]);
      }
    }
  }
  // A sync step that brings nothing new (the usual answer of a client that has nothing to add).
  if (!fresh && deleted === 0 && !deletesStaged) return 'nothing';
  if (fresh) {
    const cap = doc.target.kind === 'item' ? MAX_ITEM_TEXT_CHARS : MAX_MINUTES_CHARS;
    if (doc.text.length + staged.chars + chars - deleted > cap || doc.approxBytes + staged.bytes + update.length > MAX_DOC_BYTES) return 'too-long';
  }
  for (const [client, clock] of upTo) {
    staged.clocks.set(client, clock);
    staged.writers.set(client, writer);
  }
  for (const [client, clock, len] of deletes) {
    const list = staged.deleted.get(client);
    if (list) list.push([clock, len]);
    else staged.deleted.set(client, [[clock, len]]);
  }
  staged.chars += chars - deleted;
  staged.bytes += update.length;
  return 'apply';
}

/**
 * How many characters of the range the document still shows and no staged update deletes
 * already: what deleting it removes.
 */
function liveChars(store: Y.Doc['store'], client: number, clock: number, len: number, staged: [number, number][]): number {
  let n = 0;
  for (let at = clock; at < clock + len;) {
    const s = Y.getItem(store, Y.createID(client, at));
    const end = Math.min(clock + len, s.id.clock + s.length);
    if (!s.deleted && s instanceof Y.Item && s.content instanceof Y.ContentString) {
      n += end - at;
      for (const [c, l] of staged) n -= Math.max(0, Math.min(end, c + l) - Math.max(at, c));
    }
    at = end;
  }
  return n;
}

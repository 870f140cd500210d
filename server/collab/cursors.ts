import * as awarenessProtocol from 'y-protocols/awareness';
import type { UserId } from '../../shared/ids.js';
import { MAX_CURSOR_IDS_PER_CONNECTION } from '../../shared/limits.js';
import type { CollabDoc } from './doc.js';
import { encodeAwareness, pickCursor, readAwareness, type AwarenessEntry } from './wire.js';

/** Who a connection's cursors are shown as: taken from the directory, never from the client. */
export interface CursorOwner {
  userId: UserId;
  name: string;
  orgId: string;
  colour: string;
  /** The awareness client ids this connection speaks for. */
  clientIds: Set<number>;
}

/**
 * A connection's own cursors, rewritten to its authenticated user: a name or colour cannot be
 * faked. A client id belongs to the user who first spoke for it, here or on another process, for
 * as long as the document is loaded: a peer that reconnects gets its own id back, and nobody else
 * can take it over meanwhile (and so hide or move that peer's cursor). Throws past
 * MAX_CURSOR_IDS_PER_CONNECTION.
 */
export function applyOwnCursors(doc: CollabDoc, owner: CursorOwner, update: Uint8Array, origin: object): void {
  const entries: AwarenessEntry[] = [];
  for (const { clientId, clock, state } of readAwareness(update)) {
    const known = doc.clientOwners.get(clientId);
    if (known !== undefined && known !== owner.userId) continue;
    if (!owner.clientIds.has(clientId) && owner.clientIds.size >= MAX_CURSOR_IDS_PER_CONNECTION) throw new Error('too many cursor ids');
    doc.clientOwners.set(clientId, owner.userId);
    owner.clientIds.add(clientId);
    const bound = state === null ? null : { ...pickCursor(state), user: { id: owner.userId, name: owner.name, orgId: owner.orgId, colour: owner.colour } };
    entries.push([clientId, clock, JSON.stringify(bound)]);
  }
  awarenessProtocol.applyAwarenessUpdate(doc.awareness, encodeAwareness(entries), origin);
}

/**
 * Cursors relayed from the same document on another process. The sender bound each state to its
 * user. An id known here as another user's is not taken over from afar, and a cursor held by a
 * connection here is not removed from afar; an id new here becomes its user's.
 */
export function applyRelayedCursors(doc: CollabDoc, update: Uint8Array, heldHere: (clientId: number) => boolean): void {
  const kept: AwarenessEntry[] = [];
  for (const { clientId, clock, state } of readAwareness(update)) {
    const owner = doc.clientOwners.get(clientId);
    if (state === null) {
      if (!heldHere(clientId)) kept.push([clientId, clock, 'null']);
      continue;
    }
    const userId = (state as { user?: { id?: unknown } }).user?.id;
    if (typeof userId !== 'string' || (owner !== undefined && owner !== userId)) continue;
    doc.clientOwners.set(clientId, userId as UserId);
    kept.push([clientId, clock, JSON.stringify(state)]);
  }
  if (kept.length > 0) awarenessProtocol.applyAwarenessUpdate(doc.awareness, encodeAwareness(kept), 'relay');
}

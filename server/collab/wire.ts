import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import type * as Y from 'yjs';
import { COLLAB_MESSAGE_REFUSED } from '../../shared/protocol.js';

/** The y-websocket wire: message types and their encodings, nothing else. */
export const MESSAGE_SYNC = 0;
export const MESSAGE_AWARENESS = 1;
/** An awareness update of no client: y-websocket applies it as nothing, but counts it as heard. */
export const KEEPALIVE_MESSAGE = Uint8Array.of(MESSAGE_AWARENESS, 1, 0);

export function syncStep1Message(doc: Y.Doc): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, MESSAGE_SYNC);
  syncProtocol.writeSyncStep1(enc, doc);
  return encoding.toUint8Array(enc);
}

export function syncStep2Message(doc: Y.Doc): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, MESSAGE_SYNC);
  syncProtocol.writeSyncStep2(enc, doc);
  return encoding.toUint8Array(enc);
}

export function updateMessage(update: Uint8Array): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, MESSAGE_SYNC);
  syncProtocol.writeUpdate(enc, update);
  return encoding.toUint8Array(enc);
}

export function awarenessMessage(awareness: awarenessProtocol.Awareness, clientIds: number[]): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, MESSAGE_AWARENESS);
  encoding.writeVarUint8Array(enc, awarenessProtocol.encodeAwarenessUpdate(awareness, clientIds));
  return encoding.toUint8Array(enc);
}

export function refusedMessage(reason: number): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, COLLAB_MESSAGE_REFUSED);
  encoding.writeVarUint(enc, reason);
  return encoding.toUint8Array(enc);
}

/** The answer to a client's sync step 1: what the server holds that the client lacks. */
export function syncStep2For(decoder: decoding.Decoder, doc: Y.Doc): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, MESSAGE_SYNC);
  syncProtocol.readSyncStep1(decoder, enc, doc);
  return encoding.toUint8Array(enc);
}

/** One awareness entry as encoded: client id, clock, state as JSON. */
export type AwarenessEntry = [number, number, string];

export function encodeAwareness(entries: AwarenessEntry[]): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, entries.length);
  for (const [id, clock, json] of entries) {
    encoding.writeVarUint(enc, id);
    encoding.writeVarUint(enc, clock);
    encoding.writeVarString(enc, json);
  }
  return encoding.toUint8Array(enc);
}

/** The entries of an awareness update; throws on one that does not parse. */
export function readAwareness(update: Uint8Array): { clientId: number; clock: number; state: Record<string, unknown> | null }[] {
  const decoder = decoding.createDecoder(update);
  const n = decoding.readVarUint(decoder);
  const out = [];
  for (let i = 0; i < n; i++) {
    const clientId = decoding.readVarUint(decoder);
    const clock = decoding.readVarUint(decoder);
    const state = JSON.parse(decoding.readVarString(decoder)) as unknown;
    out.push({ clientId, clock, state: state !== null && typeof state === 'object' ? (state as Record<string, unknown>) : null });
  }
  return out;
}

/** What a client may say about itself in awareness: where its cursor is, nothing about who it is. */
export function pickCursor(state: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if ('cursor' in state) out.cursor = state.cursor;
  return out;
}

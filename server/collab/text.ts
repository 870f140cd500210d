import * as Y from 'yjs';

/**
 * A document to compute in and throw away. Its guid is fixed: Yjs draws a fresh one from the
 * crypto RNG 31 times over (lib0's uuidv4), which was 9 in 10 of the cost of each text update
 * (83 µs against 9): 12 % of each process's busy time in a profile of many cases over Redis.
 */
export const scratchDoc = (): Y.Doc => new Y.Doc({ gc: true, guid: 'scratch' });

/**
 * The Yjs client id of every document's first text: an item's text as `item:add` gave it. Every
 * process derives the same update from the `item.added` event, so it is not stored a second time.
 */
export const GENESIS_CLIENT = 0;

/** The update that writes an item's first text into its empty document; null for no text. */
export function genesisUpdate(text: string): Uint8Array | null {
  if (text === '') return null;
  const doc = scratchDoc();
  try {
    doc.clientID = GENESIS_CLIENT;
    doc.getText('text').insert(0, text);
    return Y.encodeStateAsUpdate(doc);
  } finally {
    doc.destroy();
  }
}

/**
 * Makes the text `to` by replacing only what lies between the parts it shares with the present
 * text at either end, so cursors outside the change are kept. Surrogate pairs are never split.
 */
export function replaceText(t: Y.Text, to: string): void {
  const { at, removed, inserted } = splice(t.toString(), to);
  if (removed > 0) t.delete(at, removed);
  if (inserted.length > 0) t.insert(at, inserted);
}

/** The one change that turns `from` into `to`: what lies between the parts they share at either end. */
export function splice(from: string, to: string): { at: number; removed: number; inserted: string } {
  const max = Math.min(from.length, to.length);
  let start = 0;
  while (start < max && from.charCodeAt(start) === to.charCodeAt(start)) start++;
  if (start > 0 && isHighSurrogate(from.charCodeAt(start - 1))) start--;
  let end = 0;
  while (end < max - start && from.charCodeAt(from.length - 1 - end) === to.charCodeAt(to.length - 1 - end)) end++;
  if (end > 0 && isLowSurrogate(from.charCodeAt(from.length - end))) end--;
  return { at: start, removed: from.length - start - end, inserted: to.slice(start, to.length - end) };
}

/**
 * A board edit of `base` into `edited`, made while the document had moved on from `base` to
 * `current` (an editing burst not yet copied to the board): both changes when they touch different
 * parts of the text, so the edit does not remove what was typed meanwhile; the board edit alone
 * where they overlap (its author chose that text), or where it was made on the document's text.
 */
export function mergeBoardEdit(base: string, current: string, edited: string): string {
  if (current === base) return edited;
  const typed = splice(base, current);
  const board = splice(base, edited);
  // An edit closer to the document than to the board was made on the live text (which the board
  // shows while a burst is open): it already holds the typing.
  const fromLive = splice(current, edited);
  if (fromLive.removed + fromLive.inserted.length <= board.removed + board.inserted.length) return edited;
  if (!(typed.at + typed.removed <= board.at || board.at + board.removed <= typed.at)) return edited;
  // Applied from the back, so the earlier one's positions still hold.
  const [first, second] = typed.at <= board.at ? [typed, board] : [board, typed];
  const once = base.slice(0, second.at) + second.inserted + base.slice(second.at + second.removed);
  return once.slice(0, first.at) + first.inserted + once.slice(first.at + first.removed);
}

/**
 * The Yjs update that turns the text of `base` (a document's state, or none for a new one) into
 * `to`, without changing `base`; null when it already says that.
 */
export function textUpdate(base: Uint8Array | null, to: string): Uint8Array | null {
  const scratch = scratchDoc();
  try {
    if (base) Y.applyUpdate(scratch, base);
    const text = scratch.getText('text');
    if (text.toString() === to) return null;
    let update: Uint8Array | null = null;
    scratch.on('update', (u: Uint8Array) => (update = update ? Y.mergeUpdates([update, u]) : u));
    scratch.transact(() => replaceText(text, to));
    return update;
  } finally {
    scratch.destroy();
  }
}

const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isLowSurrogate = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;

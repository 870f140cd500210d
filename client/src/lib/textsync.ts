// Plain-text helpers for co-editing: the one changed range between two strings, and where an
// index ends up after a Yjs text delta. Pure, so the editor's behaviour is easy to reason about.

/** One change to a string: at `index`, `remove` characters replaced by `insert`. */
export interface Splice {
  index: number;
  remove: number;
  insert: string;
}

/** A Y.Text delta (Y.YTextEvent#delta): retain, insert and delete in document order. */
export type TextDelta = readonly { insert?: unknown; retain?: number; delete?: number }[];

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;

/**
 * The smallest splice that turns `before` into `after`, or null when they are equal. `caret`
 * (the caret after the change) decides where a change lands in a run of equal characters: typing
 * "a" into "aa" at the start is an insert at 0, not at 2. Never splits a surrogate pair.
 */
export function diff(before: string, after: string, caret?: number): Splice | null {
  if (before === after) return null;
  let endB = before.length;
  let endA = after.length;
  const maxSuffix = caret === undefined ? Infinity : Math.max(0, after.length - caret);
  while (endB > 0 && endA > 0 && after.length - endA < maxSuffix && before.charCodeAt(endB - 1) === after.charCodeAt(endA - 1)) {
    endB--;
    endA--;
  }
  let start = 0;
  while (start < endB && start < endA && before.charCodeAt(start) === after.charCodeAt(start)) start++;
  if (start > 0 && isHigh(before.charCodeAt(start - 1))) start--;
  if (endB < before.length && endA < after.length && isLow(before.charCodeAt(endB))) {
    endB++;
    endA++;
  }
  return { index: start, remove: endB - start, insert: after.slice(start, endA) };
}

/** The delta of one splice, in Yjs's shape. */
export function spliceDelta(s: Splice): TextDelta {
  const out: { insert?: string; retain?: number; delete?: number }[] = [];
  if (s.index > 0) out.push({ retain: s.index });
  if (s.remove > 0) out.push({ delete: s.remove });
  if (s.insert) out.push({ insert: s.insert });
  return out;
}

/**
 * Where `index` of the text before `delta` is in the text after it. An insert exactly at the
 * index goes after it (`'left'`: the index keeps to the character before it) or before it
 * (`'right'`); an index inside deleted text lands where the deletion was.
 */
export function mapIndex(delta: TextDelta, index: number, stick: 'left' | 'right'): number {
  let oldPos = 0;
  let newPos = 0;
  for (const op of delta) {
    if (op.retain !== undefined) {
      const end = oldPos + op.retain;
      if (index < end || (index === end && stick === 'left')) return newPos + (index - oldPos);
      oldPos += op.retain;
      newPos += op.retain;
    } else if (op.insert !== undefined) {
      const len = typeof op.insert === 'string' ? op.insert.length : 1;
      if (index === oldPos && stick === 'left') return newPos;
      newPos += len;
    } else if (op.delete !== undefined) {
      if (index < oldPos + op.delete) return newPos;
      oldPos += op.delete;
    }
  }
  return newPos + (index - oldPos);
}

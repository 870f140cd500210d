/** A remote caret and selection to draw over a text field. */
export interface CursorMark {
  id: number;
  colour: string;
  label: string;
  anchor: number;
  head: number;
}

/** A run of the text between two cursor boundaries: carets before it, one selection colour over it. */
export interface CursorPart {
  /** Index of its first character: unique, a stable key. */
  at: number;
  text: string;
  colour: string | null;
  carets: CursorMark[];
}

/**
 * The text cut at every caret and selection edge, for a mirror of the field that draws the
 * cursors in place. The last part is empty and holds the carets at the very end.
 */
export function cursorParts(text: string, marks: readonly CursorMark[]): CursorPart[] {
  const clamp = (i: number) => Math.max(0, Math.min(i, text.length));
  const cuts = new Set([0, text.length]);
  for (const m of marks) {
    cuts.add(clamp(m.anchor));
    cuts.add(clamp(m.head));
  }
  const sorted = [...cuts].sort((a, b) => a - b);
  return sorted.map((from, i) => {
    const to = sorted[i + 1] ?? from;
    const cover = marks.find((m) => from < to && Math.min(clamp(m.anchor), clamp(m.head)) <= from && to <= Math.max(clamp(m.anchor), clamp(m.head)));
    return {
      at: from,
      text: text.slice(from, to),
      colour: cover?.colour ?? null,
      carets: marks.filter((m) => clamp(m.head) === from),
    };
  });
}

import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { GENESIS_CLIENT, genesisUpdate, mergeBoardEdit, replaceText } from '../../server/collab/text.js';

const docWith = (text: string): Y.Doc => {
  const d = new Y.Doc();
  d.getText('text').insert(0, text);
  return d;
};
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** The text as Yjs stores it: one string per run inserted at once. */
const textPieces = (d: Y.Doc): string[] => {
  const out: string[] = [];
  for (let item = d.getText('text')._start; item; item = item.right) {
    if (!item.deleted && item.content instanceof Y.ContentString) out.push(item.content.str);
  }
  return out;
};
const copyOf = (d: Y.Doc): Y.Doc => {
  const c = new Y.Doc();
  Y.applyUpdate(c, Y.encodeStateAsUpdate(d));
  return c;
};

// A text changed on the board is written into its document as the smallest replacement, so what
// others type at the same moment elsewhere in the text is kept (R-OWN: their words stay theirs).
describe('R-OWN: a board edit replaces only what changed', () => {
  it('R-OWN: gives exactly the new text, whatever the old one', () => {
    const cases: [string, string][] = [
      ['', 'Nieuw.'],
      ['Oud.', ''],
      ['Hallo wereld.', 'Hallo aarde.'],
      ['abc', 'abc'],
      ['aaa', 'aaaa'],
      ['aaaa', 'aa'],
      ['Voor. Na.', 'Voor. Tussen. Na.'],
      ['a😀b', 'a😁b'],
      ['😀', '😀😀'],
      ['x😀', 'x'],
    ];
    for (const [from, to] of cases) {
      const d = docWith(from);
      replaceText(d.getText('text'), to);
      expect(d.getText('text').toString()).toBe(to);
      // No lone surrogate anywhere: every stored piece is valid text on its own.
      for (const piece of textPieces(d)) expect(piece).not.toMatch(LONE_SURROGATE);
    }
  });

  it('R-OWN: typing elsewhere in the text at the same moment survives the board edit', () => {
    const board = docWith('Hallo wereld, tot ziens.');
    const writer = copyOf(board);
    replaceText(board.getText('text'), 'Hallo aarde, tot ziens.');
    writer.getText('text').insert(24, ' Groet.');
    Y.applyUpdate(board, Y.encodeStateAsUpdate(writer));
    Y.applyUpdate(writer, Y.encodeStateAsUpdate(board));
    expect(board.getText('text').toString()).toBe('Hallo aarde, tot ziens. Groet.');
    expect(writer.getText('text').toString()).toBe('Hallo aarde, tot ziens. Groet.');
  });
});

// A board edit made while typing in the document was not yet on the board (an open editing burst)
// keeps that typing where the two touch different parts of the text (R-OWN: their words stay).
describe('R-OWN: a board edit keeps what was typed meanwhile elsewhere in the text', () => {
  it('R-OWN: both changes when they are apart, the board edit alone where they clash', () => {
    const cases: [base: string, current: string, edited: string, merged: string][] = [
      ['Eerst.', 'Eerst.', 'Anders.', 'Anders.'],
      ['Begin. Einde.', 'Begin. Midden. Einde.', 'Begin. Einde!', 'Begin. Midden. Einde!'],
      ['Begin. Einde.', 'Begin. Einde. Later.', 'Start. Einde.', 'Start. Einde. Later.'],
      ['Begin. Einde.', 'Xegin. Einde.', 'Begin. Einde!', 'Xegin. Einde!'],
      // The same words changed on both sides: the board's choice.
      ['Begin. Einde.', 'Begin. Slot.', 'Begin. Eind.', 'Begin. Eind.'],
      ['abc', 'abXc', 'abYc', 'abXYc'],
      ['', 'getypt', 'bord', 'getyptbord'],
      // Made on the live text, which already shows the typing: taken as it is.
      ['Open.', 'GEHEIM Open.', 'GEHEIM Open. Nieuw.', 'GEHEIM Open. Nieuw.'],
    ];
    for (const [base, current, edited, merged] of cases) expect(mergeBoardEdit(base, current, edited), `${base} | ${current} | ${edited}`).toBe(merged);
  });
});

describe('P-ORDER: an item document starts from its item.added', () => {
  it('every process derives the same first update, under the genesis client id', () => {
    const a = genesisUpdate('Gezin met drie kinderen 👪');
    const b = genesisUpdate('Gezin met drie kinderen 👪');
    expect(a).not.toBeNull();
    expect(Buffer.from(a!).equals(Buffer.from(b!))).toBe(true);
    expect([...Y.parseUpdateMeta(a!).to.keys()]).toEqual([GENESIS_CLIENT]);
    const d = new Y.Doc();
    Y.applyUpdate(d, a!);
    expect(d.getText('text').toString()).toBe('Gezin met drie kinderen 👪');
    expect(genesisUpdate('')).toBeNull();
  });
});

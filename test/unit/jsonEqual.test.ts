import { describe, expect, it } from 'vitest';
import { jsonEqual } from '../../server/realtime/jsonEqual.js';

// Viewers share one encoded patch when their patches are jsonEqual: equal must mean the same
// bytes on the wire, or one viewer would receive what was built for another.
describe('R-NEED: a shared packet only for equal patches', () => {
  const item = (mine: boolean, text = 'x') => ({ op: 'item', item: { id: 'it_1', text, visibility: { kind: 'orgs', orgIds: ['o1', 'o2'] }, mine } });

  it('R-NEED: patches that differ anywhere are not equal', () => {
    expect(jsonEqual([item(true)], [item(false)])).toBe(false);
    expect(jsonEqual([item(true, 'a')], [item(true, 'b')])).toBe(false);
    expect(jsonEqual([item(true)], [item(true), item(true)])).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(jsonEqual([1], { 0: 1 })).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
    expect(jsonEqual(0, '0')).toBe(false);
    expect(jsonEqual(new Date(0), new Date(0))).toBe(false);
  });

  it('R-NEED: equal patches built separately are equal', () => {
    expect(jsonEqual([item(false)], [item(false)])).toBe(true);
    // The same members in another order carry the same data.
    expect(jsonEqual({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(true);
    expect(jsonEqual([{ op: 'revoked' }], [{ op: 'revoked' }])).toBe(true);
  });

  it('R-NEED: equal only where the decoded JSON is the same (random values)', () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const gen = (depth: number): unknown => {
      const k = rnd(depth > 2 ? 4 : 7);
      if (k === 0) return rnd(3);
      if (k === 1) return ['a', 'b', ''][rnd(3)];
      if (k === 2) return [null, true, false][rnd(3)];
      if (k === 3) return undefined;
      if (k === 4) return Array.from({ length: rnd(3) }, () => gen(depth + 1));
      return Object.fromEntries(Array.from({ length: rnd(3) }, () => [['p', 'q', 'r'][rnd(3)]!, gen(depth + 1)]));
    };
    let equal = 0;
    for (let i = 0; i < 20_000; i++) {
      const a = gen(0);
      const b = gen(0);
      if (jsonEqual(a, b)) {
        equal++;
        expect(JSON.parse(JSON.stringify(a) ?? 'null')).toEqual(JSON.parse(JSON.stringify(b) ?? 'null'));
      }
      expect(jsonEqual(a, structuredClone(a))).toBe(true);
    }
    expect(equal).toBeGreaterThan(100);
  });
});

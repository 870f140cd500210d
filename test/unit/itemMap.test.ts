import { describe, expect, it } from 'vitest';
import { ItemMap } from '../../shared/itemMap.js';

interface V {
  readonly id: string;
  readonly n: number;
}

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const same = (m: ItemMap<string, V>, model: Map<string, V>): void => {
  expect(m.size).toBe(model.size);
  expect([...m.entries()]).toEqual([...model.entries()]);
  expect([...m.keys()]).toEqual([...model.keys()]);
  for (const [k, v] of model) {
    expect(m.get(k)).toBe(v);
    expect(m.has(k)).toBe(true);
  }
};

// The delivery step compares a case before and after a commit: every version must keep exactly
// its own items, however many versions share their parts (R-NEED rests on that comparison).
describe('R-NEED: every version of a case keeps its own items', () => {
  it('R-NEED: behaves as a copied Map, in insertion order, across many versions and chunks', () => {
    const next = random(20261129);
    let m = ItemMap.empty<string, V>();
    let model = new Map<string, V>();
    const kept: [ItemMap<string, V>, Map<string, V>][] = [];
    for (let step = 0; step < 600; step++) {
      const ids = [...model.keys()];
      const batch: V[] = [];
      for (let j = 0, n = 1 + Math.floor(next() * 3); j < n; j++) {
        const old = ids.length > 0 && next() < 0.5;
        batch.push({ id: old ? ids[Math.floor(next() * ids.length)]! : `it_${step}_${j}`, n: step });
      }
      m = batch.length === 1 ? m.with(batch[0]!) : m.withAll(batch);
      model = new Map(model);
      for (const v of batch) model.set(v.id, v);
      if (step % 37 === 0) kept.push([m, model]);
    }
    same(m, model);
    // Older versions are untouched by everything built on them since.
    for (const [old, oldModel] of kept) same(old, oldModel);
  });

  it('R-NEED: a key added by a version that was then discarded is absent from the others', () => {
    const base = ItemMap.empty<string, V>().withAll([
      { id: 'a', n: 1 },
      { id: 'b', n: 1 },
    ]);
    const lost = base.with({ id: 'verloren', n: 2 });
    const won = base.with({ id: 'gewonnen', n: 2 });
    expect(lost.get('verloren')).toEqual({ id: 'verloren', n: 2 });
    expect(won.get('verloren')).toBeUndefined();
    expect(won.has('verloren')).toBe(false);
    expect(base.get('gewonnen')).toBeUndefined();
    expect([...won.keys()]).toEqual(['a', 'b', 'gewonnen']);
    expect([...lost.keys()]).toEqual(['a', 'b', 'verloren']);
  });

  it('R-NEED: two versions that add the same key at different places keep it each in its own place', () => {
    const base = ItemMap.empty<string, V>().with({ id: 'a', n: 1 });
    const one = base.with({ id: 'k', n: 1 });
    const two = base.with({ id: 'j', n: 2 }).with({ id: 'k', n: 2 });
    expect(one.get('k')).toEqual({ id: 'k', n: 1 });
    expect(two.get('k')).toEqual({ id: 'k', n: 2 });
    expect([...one.with({ id: 'k', n: 3 }).keys()]).toEqual(['a', 'k']);
    // And the other way round: an older version adding a key that a newer chain already holds.
    const chain = base.with({ id: 'j', n: 1 }).with({ id: 'x', n: 1 });
    const older = base.with({ id: 'x', n: 9 });
    expect(chain.get('x')).toEqual({ id: 'x', n: 1 });
    expect(older.get('x')).toEqual({ id: 'x', n: 9 });
    expect([...chain.keys()]).toEqual(['a', 'j', 'x']);
  });

  it('R-NEED: a batch that adds one key twice holds it once, with the last value', () => {
    const m = ItemMap.empty<string, V>().withAll([
      { id: 'a', n: 1 },
      { id: 'b', n: 1 },
      { id: 'a', n: 2 },
    ]);
    expect(m.size).toBe(2);
    expect([...m.values()]).toEqual([
      { id: 'a', n: 2 },
      { id: 'b', n: 1 },
    ]);
    expect(JSON.stringify(m)).toBe(JSON.stringify([...m.values()]));
  });

  it('R-NEED: a plain Map becomes the same entries in the same order', () => {
    const plain = new Map<string, V>([
      ['x', { id: 'x', n: 1 }],
      ['y', { id: 'y', n: 2 }],
    ]);
    const m = ItemMap.from(plain);
    same(m, plain);
    expect(ItemMap.from(m)).toBe(m);
    const seen: string[] = [];
    m.forEach((v, k) => seen.push(`${k}:${v.n}`));
    expect(seen).toEqual(['x:1', 'y:2']);
  });
});

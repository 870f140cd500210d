/**
 * The items of a case, as each version of the case holds them: a map in insertion order that a
 * change copies only in part. A case keeps every item it ever had (a withdrawn one included), and
 * every change of one item made a new version of the whole map: with hundreds of items that was a
 * copy of hundreds of entries per command, on every process. Here a change copies one chunk of
 * CHUNK entries and the list of chunks; versions share the rest.
 *
 * Positions never change once given. The key → position index is shared by every version built
 * from one map and only grows; a version ignores positions at or past its own size, and checks the
 * key of the value it finds, so a key that a discarded version added (a commit that lost its race)
 * reads as absent. A version that adds a key the index already places elsewhere takes a copy of
 * the index, so two versions never move each other's keys.
 */
const BITS = 5;
const CHUNK = 1 << BITS;
const MASK = CHUNK - 1;

export class ItemMap<K, V extends { readonly id: K }> implements ReadonlyMap<K, V> {
  private constructor(
    private readonly index: Map<K, number>,
    private readonly chunks: readonly (readonly V[])[],
    readonly size: number,
  ) {}

  static empty<K, V extends { readonly id: K }>(): ItemMap<K, V> {
    return new ItemMap<K, V>(new Map(), [], 0);
  }

  /** The same entries, in the same order, from any map (a test's fixture, say). */
  static from<K, V extends { readonly id: K }>(m: ReadonlyMap<K, V>): ItemMap<K, V> {
    return m instanceof ItemMap ? (m as ItemMap<K, V>) : ItemMap.empty<K, V>().withAll([...m.values()]);
  }

  private at(i: number): V {
    return this.chunks[i >> BITS]![i & MASK]!;
  }

  private positionOf(key: K): number | undefined {
    const i = this.index.get(key);
    return i !== undefined && i < this.size && this.at(i).id === key ? i : undefined;
  }

  get(key: K): V | undefined {
    const i = this.positionOf(key);
    return i === undefined ? undefined : this.at(i);
  }

  has(key: K): boolean {
    return this.positionOf(key) !== undefined;
  }

  /** A new version with `value` under its id: in its place if present, else at the end. */
  with(value: V): ItemMap<K, V> {
    return this.withAll([value]);
  }

  /** A new version with each value under its id, as `with` one after the other. */
  withAll(values: readonly V[]): ItemMap<K, V> {
    if (values.length === 0) return this;
    const chunks = [...this.chunks];
    const copied = new Set<number>();
    let size = this.size;
    const write = (i: number, v: V): void => {
      const c = i >> BITS;
      if (!copied.has(c)) {
        chunks[c] = c < chunks.length ? [...chunks[c]!] : [];
        copied.add(c);
      }
      (chunks[c] as V[])[i & MASK] = v;
    };
    const placed = new Map<K, number>();
    let index = this.index;
    for (const v of values) {
      const i = placed.get(v.id) ?? this.positionOf(v.id);
      if (i !== undefined) {
        write(i, v);
        continue;
      }
      // A key the index knows at a place this version does not hold: another version has it (or
      // had it). That one keeps the shared index; this one and those built on it get a copy.
      if (index === this.index && index.has(v.id)) index = new Map(index);
      index.set(v.id, size);
      placed.set(v.id, size);
      write(size++, v);
    }
    return new ItemMap(index, chunks, size);
  }

  /** As JSON, the values in order (the index and chunks are this class's business). */
  toJSON(): V[] {
    return [...this.values()];
  }

  *values(): MapIterator<V> {
    for (let i = 0; i < this.size; i++) yield this.at(i);
  }

  *keys(): MapIterator<K> {
    for (let i = 0; i < this.size; i++) yield this.at(i).id;
  }

  *entries(): MapIterator<[K, V]> {
    for (let i = 0; i < this.size; i++) {
      const v = this.at(i);
      yield [v.id, v];
    }
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  forEach(fn: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (let i = 0; i < this.size; i++) {
      const v = this.at(i);
      fn.call(thisArg, v, v.id, this);
    }
  }
}

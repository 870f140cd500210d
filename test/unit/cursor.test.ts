import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CaseId } from '../../shared/ids.js';
import { Cursors } from '../../server/realtime/cursor.js';

const A = 'cs_a' as CaseId;
const B = 'cs_b' as CaseId;

describe('R-NEED: cursors count nothing', () => {
  const cursors = new Cursors(randomBytes(32));

  it('R-NEED: two cursors of one version look unrelated, and each decodes to it', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const c = cursors.encode(A, 7);
      expect(seen.has(c)).toBe(false);
      seen.add(c);
      expect(cursors.decode(A, c)).toBe(7);
    }
    expect(cursors.decode(A, cursors.encode(A, 0))).toBe(0);
    expect(cursors.decode(A, cursors.encode(A, 0xffff_ffff))).toBe(0xffff_ffff);
  });

  it('R-NEED: a cursor of another case, of another key, forged or damaged decodes to nothing', () => {
    const c = cursors.encode(A, 12);
    expect(cursors.decode(B, c)).toBeNull();
    expect(new Cursors(randomBytes(32)).decode(A, c)).toBeNull();
    const flipped = Buffer.from(c, 'base64url');
    flipped[3] = flipped[3]! ^ 1;
    expect(cursors.decode(A, flipped.toString('base64url'))).toBeNull();
    for (const bad of ['', '12', c.slice(0, -1), `${c}A`, '!'.repeat(22), 'A'.repeat(22)]) expect(cursors.decode(A, bad)).toBeNull();
  });

  it('refuses to encode a version it could not carry', () => {
    expect(() => cursors.encode(A, -1)).toThrow();
    expect(() => cursors.encode(A, 2 ** 32)).toThrow();
    expect(() => cursors.encode(A, 1.5)).toThrow();
  });
});

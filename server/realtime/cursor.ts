import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomFillSync } from 'node:crypto';
import type { CaseId } from '../../shared/ids.js';

const BLOCK = 16;
const SALT_POOL = 6 * 4096;
const MAX_VERSION = 0xffff_ffff;

/**
 * Cursors tell the server where a client is in a case log without telling the client anything:
 * a bare version number would count the events it was not allowed to see (R-NEED).
 *
 * A cursor is one AES-256 block: version (32 bits) | random salt (48 bits) | tag of the case
 * (48 bits, HMAC). The salt makes two cursors of one version look unrelated; the tag binds the
 * cursor to its case, so a forged or foreign block decodes to nothing (2^-48). One block through
 * a long-lived cipher costs about a microsecond, where a fresh AES-GCM context cost forty: a
 * connect lists every case of the user, each with a cursor.
 */
export class Cursors {
  private readonly enc: ReturnType<typeof createCipheriv>;
  private readonly dec: ReturnType<typeof createDecipheriv>;
  private readonly tags = new Map<CaseId, Buffer>();
  private readonly salts = Buffer.alloc(SALT_POOL);
  private saltAt = SALT_POOL;

  private readonly tagKey: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('cursor key must be 32 bytes');
    // One key for the cipher, another for the tags, both derived from the configured one.
    const cipherKey = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'casusbord cursor cipher', 32));
    this.tagKey = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'casusbord cursor tag', 32));
    // ECB over exactly one block: each block is encrypted on its own, so the context is reusable.
    this.enc = createCipheriv('aes-256-ecb', cipherKey, null).setAutoPadding(false);
    this.dec = createDecipheriv('aes-256-ecb', cipherKey, null).setAutoPadding(false);
  }

  private tag(caseId: CaseId): Buffer {
    let t = this.tags.get(caseId);
    if (!t) {
      if (this.tags.size > 100_000) this.tags.clear();
      t = createHmac('sha256', this.tagKey).update(caseId).digest().subarray(0, 6);
      this.tags.set(caseId, t);
    }
    return t;
  }

  encode(caseId: CaseId, version: number): string {
    if (!Number.isSafeInteger(version) || version < 0 || version > MAX_VERSION) throw new Error(`version out of range: ${version}`);
    if (this.saltAt === SALT_POOL) {
      randomFillSync(this.salts);
      this.saltAt = 0;
    }
    const block = Buffer.allocUnsafe(BLOCK);
    block.writeUInt32BE(version, 0);
    this.salts.copy(block, 4, this.saltAt, this.saltAt + 6);
    this.saltAt += 6;
    this.tag(caseId).copy(block, 10);
    return this.enc.update(block).toString('base64url');
  }

  /** The version behind a cursor of this case, or null for anything forged, foreign or damaged. */
  decode(caseId: CaseId, cursor: string): number | null {
    if (cursor.length !== 22) return null;
    const raw = Buffer.from(cursor, 'base64url');
    if (raw.length !== BLOCK) return null;
    const block = this.dec.update(raw);
    if (block.length !== BLOCK || !block.subarray(10).equals(this.tag(caseId))) return null;
    return block.readUInt32BE(0);
  }
}

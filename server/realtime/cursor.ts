import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { CaseId } from '../../shared/ids.js';

/**
 * Cursors tell the server where a client is in a case log without telling the client anything:
 * a bare version number would count the events it was not allowed to see (R-NEED).
 */
export class Cursors {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('cursor key must be 32 bytes');
  }

  encode(caseId: CaseId, version: number): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([c.update(`${caseId}:${version}`, 'utf8'), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64url');
  }

  /** The version behind a cursor of this case, or null for anything forged, foreign or damaged. */
  decode(caseId: CaseId, cursor: string): number | null {
    try {
      const raw = Buffer.from(cursor, 'base64url');
      if (raw.length < 29) return null;
      const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      d.setAuthTag(raw.subarray(12, 28));
      const text = Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
      const sep = text.lastIndexOf(':');
      if (text.slice(0, sep) !== caseId) return null;
      const v = Number(text.slice(sep + 1));
      return Number.isSafeInteger(v) && v >= 0 ? v : null;
    } catch {
      return null;
    }
  }
}

import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import type { CaseId } from '../../shared/ids.js';
import { MAX_DOC_UPDATE_BYTES } from '../../shared/limits.js';
import { admit, Staged } from '../../server/collab/admit.js';
import { CollabDoc } from '../../server/collab/doc.js';

describe('review: the cost of judging a delete set', () => {
  it('P-FRAME: one update of MAX_DOC_UPDATE_BYTES is judged in bounded time, whatever its delete set repeats', () => {
    const doc = new CollabDoc('d', 'cs_x' as CaseId, { kind: 'minutes' });
    // Minutes typed backwards: every character its own struct (legal, within every cap).
    const src = new Y.Doc();
    const N = 20_000;
    src.transact(() => {
      for (let i = 0; i < N; i++) src.getText('text').insert(0, 'a');
    });
    Y.applyUpdate(doc.ydoc, Y.encodeStateAsUpdate(src));
    // A delete set naming the whole of it, again and again, as many times as fit into one frame.
    const enc = encoding.createEncoder();
    encoding.writeVarUint(enc, 0); // no structs
    encoding.writeVarUint(enc, 1);
    encoding.writeVarUint(enc, src.clientID);
    const R = Math.floor((MAX_DOC_UPDATE_BYTES - 16) / 4);
    encoding.writeVarUint(enc, R);
    for (let i = 0; i < R; i++) {
      encoding.writeVarUint(enc, 0);
      encoding.writeVarUint(enc, N);
    }
    const update = encoding.toUint8Array(enc);
    expect(update.length).toBeLessThanOrEqual(MAX_DOC_UPDATE_BYTES);
    const t0 = performance.now();
    admit(doc, update, new Staged());
    const ms = performance.now() - t0;
    console.log(`ranges per frame ${R}, judging time of one frame ${Math.round(ms)} ms`);
    expect(ms).toBeLessThan(1_000);
  });
});

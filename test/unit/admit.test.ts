import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import type { CaseId, ItemId, MeetingId, UserId } from '../../shared/ids.js';
import { MAX_DOC_UPDATE_BYTES, MAX_ITEM_TEXT_CHARS } from '../../shared/limits.js';
import { admit, Staged } from '../../server/collab/admit.js';
import { CollabDoc } from '../../server/collab/doc.js';

const WRITER = 'usr_writer' as UserId;
/** The update `inner` (v1 structs, no delete set) with a delete set of `ranges` for one client, as a modified client writes it. */
function withDeletes(structs: Uint8Array, client: number, ranges: [number, number][]): Uint8Array {
  // A v1 update is: structs, then the delete set. Y.encodeStateAsUpdate of a doc with no deletions ends in an empty delete set (one 0 byte).
  const enc = encoding.createEncoder();
  encoding.writeUint8Array(enc, structs.subarray(0, structs.length - 1));
  encoding.writeVarUint(enc, 1);
  encoding.writeVarUint(enc, client);
  encoding.writeVarUint(enc, ranges.length);
  for (const [clock, len] of ranges) {
    encoding.writeVarUint(enc, clock);
    encoding.writeVarUint(enc, len);
  }
  return encoding.toUint8Array(enc);
}

function itemDoc(text: string): { doc: CollabDoc; client: number } {
  const doc = new CollabDoc('d', 'cs_x' as CaseId, { kind: 'item', itemId: 'it_x' as ItemId });
  const src = new Y.Doc();
  src.getText('text').insert(0, text);
  Y.applyUpdate(doc.ydoc, Y.encodeStateAsUpdate(src));
  return { doc, client: src.clientID };
}

describe("P-PEER: admitting a writer's update", () => {
  it('P-PEER: a delete set that names the same live character many times does not buy room past the cap', () => {
    const { doc, client } = itemDoc('x'.repeat(MAX_ITEM_TEXT_CHARS));
    // The attacker's own client appends 4000 characters past the cap, and deletes the first character 4000 times over.
    const attacker = new Y.Doc();
    Y.applyUpdate(attacker, Y.encodeStateAsUpdate(doc.ydoc));
    const sv = Y.encodeStateVector(attacker);
    attacker.getText('text').insert(MAX_ITEM_TEXT_CHARS, 'y'.repeat(4000));
    const inserts = Y.encodeStateAsUpdate(attacker, sv);
    const update = withDeletes(
      inserts,
      client,
      Array.from({ length: 4001 }, () => [0, 1] as [number, number]),
    );
    expect(update.length).toBeLessThan(MAX_DOC_UPDATE_BYTES);
    const verdict = admit(doc, update, new Staged(), WRITER);
    // Applied, the document would hold MAX_ITEM_TEXT_CHARS - 1 + 4000 characters.
    Y.applyUpdate(doc.ydoc, update);
    expect(doc.text.length).toBe(MAX_ITEM_TEXT_CHARS - 1 + 4000);
    expect(verdict).not.toBe('apply');
  });

  it('P-FRAME: a delete set that repeats its ranges is refused before any of them is walked', () => {
    const doc = new CollabDoc('d', 'cs_x' as CaseId, { kind: 'minutes', meetingId: 'mt_x' as MeetingId });
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
    // Walking each range over every struct would cost seconds of one core per frame.
    expect(admit(doc, update, new Staged(), WRITER)).toBe('bad');
  });

  it('P-PEER: updates of one batch that each delete the same text do not each buy room past the cap', () => {
    const doc = new CollabDoc('d', 'cs_x' as CaseId, { kind: 'item', itemId: 'it_x' as ItemId });
    const src = new Y.Doc();
    src.getText('text').insert(0, 'x'.repeat(MAX_ITEM_TEXT_CHARS));
    Y.applyUpdate(doc.ydoc, Y.encodeStateAsUpdate(src));
    const staged = new Staged();
    const verdicts: string[] = [];
    // Each built on the server's document alone, as one batch admits them: delete it all, write as much anew.
    for (let i = 0; i < 3; i++) {
      const w = new Y.Doc();
      Y.applyUpdate(w, Y.encodeStateAsUpdate(doc.ydoc));
      const sv = Y.encodeStateVector(w);
      w.getText('text').delete(0, MAX_ITEM_TEXT_CHARS);
      w.getText('text').insert(0, String(i).repeat(MAX_ITEM_TEXT_CHARS));
      verdicts.push(admit(doc, Y.encodeStateAsUpdate(w, sv), staged, WRITER));
    }
    // Applied together the three would hold three times the cap: only the first fits.
    expect(verdicts).toEqual(['apply', 'too-long', 'too-long']);
  });

  it("P-PEER: nobody writes under the Yjs client id of another writer, and so makes that writer's next typing vanish", () => {
    const server = new CollabDoc('d', 'cs_x' as CaseId, { kind: 'minutes', meetingId: 'mt_x' as MeetingId });
    const victim = new Y.Doc();
    const sent: Uint8Array[] = [];
    victim.on('update', (u: Uint8Array) => sent.push(u));
    victim.getText('text').insert(0, 'Notulen.');
    expect(admit(server, sent.shift()!, new Staged(), 'usr_victim' as UserId)).toBe('apply');
    Y.applyUpdate(server.ydoc, Y.encodeStateAsUpdate(victim));
    server.textWriters.set(victim.clientID, 'usr_victim' as UserId);
    victim.getText('text').insert(8, ' Besluit: de woning blijft.');
    const inFlight = sent.shift()!;
    // A modified client takes the victim's id (seen in any update) at the clocks it is about to use.
    const forger = new Y.Doc();
    Y.applyUpdate(forger, Y.encodeStateAsUpdate(server.ydoc));
    forger.clientID = victim.clientID;
    const sv = Y.encodeStateVector(forger);
    forger.getText('text').insert(8, 'x'.repeat(1000));
    forger.getText('text').delete(8, 1000);
    expect(admit(server, Y.encodeStateAsUpdate(forger, sv), new Staged(), WRITER)).toBe('bad');
    expect(admit(server, inFlight, new Staged(), 'usr_victim' as UserId)).toBe('apply');
  });

  it("P-PEER: within one batch, a client id is its first writer's", () => {
    const server = new CollabDoc('d', 'cs_x' as CaseId, { kind: 'minutes', meetingId: 'mt_x' as MeetingId });
    const a = new Y.Doc();
    a.getText('text').insert(0, 'Eerst.');
    const staged = new Staged();
    expect(admit(server, Y.encodeStateAsUpdate(a), staged, 'usr_a' as UserId)).toBe('apply');
    const sv = Y.encodeStateVector(a);
    a.getText('text').insert(6, ' Meer.');
    expect(admit(server, Y.encodeStateAsUpdate(a, sv), staged, 'usr_b' as UserId)).toBe('bad');
  });
});

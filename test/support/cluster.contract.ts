import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CaseId, OrgId, UserId } from '../../shared/ids.js';
import { SESSION_END_ACK_MS, type Cluster } from '../../server/cluster/cluster.js';
import type { NewEvent, StoredEvent } from '../../server/store/types.js';

/** One form of the cluster link, as a test gets it. */
export interface ClusterForm {
  /** `count` links of one cluster, as that many processes hold them; the one-process form makes one, whatever is asked. */
  links(count: number): Promise<Cluster[]>;
  /** Cuts every link off from the others and lets it come back (the bus restarted); absent where there is nothing to lose. */
  breakLinks?: () => Promise<void>;
  cleanup?: () => Promise<void>;
}

/** How long a test waits for something a link promised, so a broken promise fails by name. */
const WAIT_MS = 10_000;

const MARKER = 'cs_marker' as CaseId;

/** `p`, or a failure naming `what` once WAIT_MS have passed without it. */
export function within<T>(what: string, p: Promise<T>, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Everything one link hears, in order, with a bounded wait for what is expected. */
class Ears {
  readonly cases: { caseId: CaseId; version: number; events: StoredEvent[] }[] = [];
  readonly sessions: string[][] = [];
  readonly presence: { from: string; body: unknown }[] = [];
  readonly docs = new Map<string, { caseVersion: number; message: number[] }[]>();
  directory = 0;
  resyncs = 0;
  private readonly waiters = new Set<() => void>();

  constructor(readonly link: Cluster) {
    link.onCase((caseId, version, events) => this.heard(() => this.cases.push({ caseId, version, events })));
    link.onSessionsEnded((ids) => this.heard(() => this.sessions.push(ids)));
    link.onDirectory(() => this.heard(() => this.directory++));
    link.onPresence((from, body) => this.heard(() => this.presence.push({ from, body })));
    link.onResync(() => this.heard(() => this.resyncs++));
  }

  async subscribe(docId: string): Promise<() => Promise<void>> {
    this.docs.set(docId, []);
    const unsubscribe = await within(
      `subscribing to ${docId}`,
      this.link.subscribeDoc(docId, (caseVersion, message) => this.heard(() => this.docs.get(docId)!.push({ caseVersion, message: [...message] }))),
    );
    return () => within(`unsubscribing from ${docId}`, unsubscribe());
  }

  /** Case notices other than markers. */
  notices(): { caseId: CaseId; version: number; events: StoredEvent[] }[] {
    return this.cases.filter((c) => c.caseId !== MARKER);
  }

  private heard(record: () => void): void {
    record();
    for (const w of [...this.waiters]) w();
  }

  until(what: string, done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!done()) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`not heard within ${WAIT_MS} ms: ${what}`));
      }, WAIT_MS);
      this.waiters.add(check);
    });
  }
}

/**
 * The one contract every form of the cluster link runs (one process alone, Redis pub/sub): the
 * promises written on the Cluster interface. A promise about "every other link" holds for the
 * one-process form too, which has none; what it must show is that nothing comes back.
 */
export function runClusterContract(name: string, make: () => Promise<ClusterForm>): void {
  describe(`cluster contract: ${name}`, () => {
    let form: ClusterForm;
    const opened: Cluster[] = [];
    beforeEach(async () => {
      form = await make();
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((l) => l.close()));
      await form.cleanup?.();
    });

    /** The sender first, then the others. */
    const links = async (count: number): Promise<[Ears, Ears[]]> => {
      const made = await form.links(count);
      opened.push(...made);
      const ears = made.map((l) => new Ears(l));
      return [ears[0]!, ears.slice(1)];
    };

    /**
     * Called once the others have heard what `sender` sent: `sender` then waits for a marker from
     * one of them, which travels behind its own messages, so any of those that would come back to
     * it has come by the time the marker does.
     */
    let markers = 0;
    const echoesSettled = async (sender: Ears, others: Ears[]): Promise<void> => {
      const [other] = others;
      if (!other) return;
      const v = ++markers;
      other.link.caseCommitted(MARKER, v, []);
      await sender.until(`marker ${v}`, () => sender.cases.some((c) => c.caseId === MARKER && c.version === v));
    };

    const ev = (n: number): NewEvent => ({
      type: 'test.event',
      payload: { n },
      at: '2026-11-29T10:00:00.000Z',
      actorUserId: 'usr_a' as UserId,
      actorOrgId: 'org_a' as OrgId,
    });
    const A = 'cs_a' as CaseId;
    const B = 'cs_b' as CaseId;
    /** Session ids as sessions hash them (43 characters of base64url). */
    const hash = (n: number): string => `s${String(n).padStart(42, '0')}`;

    it('a case notice reaches every other link once, with its events numbered as the log holds them, and never its sender', async () => {
      const [a, others] = await links(3);
      a.link.caseCommitted(A, 5, [ev(1), ev(2)]);
      a.link.caseCommitted(B, 1, [ev(3)]);
      const expected = [
        {
          caseId: A,
          version: 5,
          events: [
            { caseId: A, version: 4, ...ev(1) },
            { caseId: A, version: 5, ...ev(2) },
          ],
        },
        { caseId: B, version: 1, events: [{ caseId: B, version: 1, ...ev(3) }] },
      ];
      for (const o of others) {
        await o.until('both notices', () => o.notices().length >= 2);
        expect(o.notices()).toEqual(expected);
      }
      await echoesSettled(a, others);
      expect(a.notices()).toEqual([]);
    });

    it('notices from one link reach each other link in the order sent, whoever else sends', async () => {
      const [a, others] = await links(3);
      const senders = [a, ...others].slice(0, 2);
      const N = 60;
      // Two senders at once, each over three cases; no order between them is promised.
      for (let i = 1; i <= N; i++) for (const [k, s] of senders.entries()) s.link.caseCommitted(`cs_${k}_${i % 3}` as CaseId, i, []);
      const sentBy =
        (k: number) =>
        (c: { caseId: CaseId }): boolean =>
          c.caseId.startsWith(`cs_${k}_`);
      for (const [j, l] of [a, ...others].entries()) {
        for (const k of senders.keys()) {
          if (k === j) continue;
          await l.until(`${N} notices of link ${k}`, () => l.notices().filter(sentBy(k)).length >= N);
          expect(
            l
              .notices()
              .filter(sentBy(k))
              .map((c) => c.version),
          ).toEqual(Array.from({ length: N }, (_, i) => i + 1));
        }
      }
    });

    it('a directory notice reaches every other link once, and never its sender', async () => {
      const [a, others] = await links(3);
      a.link.directoryChanged();
      a.link.caseCommitted(A, 1, []);
      for (const o of others) {
        // The case notice was sent after it: once it is here, so is the directory notice.
        await o.until('the notice behind it', () => o.notices().length === 1);
        expect(o.directory).toBe(1);
      }
      await echoesSettled(a, others);
      expect(a.directory).toBe(0);
    });

    it('a presence message reaches every other link once, as sent, with one sender name per link; never its sender', async () => {
      const [a, others] = await links(3);
      a.link.publishPresence({ what: 'case', caseId: A, viewers: [] });
      a.link.publishPresence({ what: 'hello' });
      a.link.caseCommitted(A, 1, []);
      for (const o of others) {
        // The case notice was sent after them: once it is here, so are they.
        await o.until('the notice behind them', () => o.notices().length === 1);
        expect(o.presence.map((p) => p.body)).toEqual([{ what: 'case', caseId: A, viewers: [] }, { what: 'hello' }]);
        expect(new Set(o.presence.map((p) => p.from)).size).toBe(1);
      }
      await echoesSettled(a, others);
      expect(a.presence).toEqual([]);
    });

    it('P-SESSION: a session end resolves only once every other link has run its listeners with it; the sender hears none', async () => {
      const [a, others] = await links(3);
      const ids = [hash(1), hash(2)];
      await within('the session end', a.link.sessionsEnded(ids));
      for (const o of others) expect(o.sessions).toEqual([ids]);
      expect(a.sessions).toEqual([]);
    });

    it('a session end that every link answers resolves within SESSION_END_ACK_MS, also when every link ends one at once', async () => {
      const [a, others] = await links(3);
      const t0 = performance.now();
      await within('the session end', a.link.sessionsEnded([hash(3)]));
      expect(performance.now() - t0).toBeLessThan(SESSION_END_ACK_MS);
      const all = [a, ...others];
      const before = all.map((l) => l.sessions.length);
      const t1 = performance.now();
      await within('the session ends', Promise.all(all.map((l, i) => l.link.sessionsEnded([hash(10 + i)]))));
      expect(performance.now() - t1).toBeLessThan(SESSION_END_ACK_MS);
      // Each link has run every other link's end, and none of its own.
      for (const [j, l] of all.entries()) {
        expect(l.sessions.slice(before[j]).flat().sort()).toEqual(all.map((_, i) => hash(10 + i)).filter((_, i) => i !== j));
      }
    });

    it('a document message reaches every other link subscribed to it, byte for byte with its case version; not the sender, not another document', async () => {
      const [a, others] = await links(3);
      await a.subscribe('doc_1');
      const [b, c] = others;
      if (b) await b.subscribe('doc_1');
      if (c) await c.subscribe('doc_2');
      const message = Uint8Array.from([0, 1, 2, 255, 128, 7]);
      a.link.publishDoc('doc_1', 7, message);
      a.link.publishDoc('doc_2', 0, Uint8Array.from([9]));
      if (b) {
        await b.until('the message', () => b.docs.get('doc_1')!.length === 1);
        expect(b.docs.get('doc_1')).toEqual([{ caseVersion: 7, message: [...message] }]);
      }
      if (c) {
        // Sent after the first: once it is here, the first would have been too.
        await c.until('the second document', () => c.docs.get('doc_2')!.length === 1);
        expect(c.docs.get('doc_2')).toEqual([{ caseVersion: 0, message: [9] }]);
      }
      await echoesSettled(a, others);
      expect(a.docs.get('doc_1')).toEqual([]);
    });

    it('the messages of one document from one link arrive in the order sent', async () => {
      const [a, others] = await links(2);
      for (const o of others) await o.subscribe('doc_1');
      const N = 60;
      for (let i = 1; i <= N; i++) a.link.publishDoc('doc_1', i, Uint8Array.from([i]));
      for (const o of others) {
        await o.until(`${N} messages`, () => o.docs.get('doc_1')!.length >= N);
        expect(o.docs.get('doc_1')!.map((m) => [m.caseVersion, m.message[0]])).toEqual(Array.from({ length: N }, (_, i) => [i + 1, i + 1]));
      }
    });

    it('once subscribeDoc resolves nothing relayed is missed; once its unsubscribe resolves nothing more arrives', async () => {
      const [a, others] = await links(2);
      for (const o of others) {
        const unsubscribe = await o.subscribe('doc_1');
        await o.subscribe('doc_2');
        a.link.publishDoc('doc_1', 1, Uint8Array.from([1]));
        await o.until('the first message', () => o.docs.get('doc_1')!.length === 1);
        await unsubscribe();
        a.link.publishDoc('doc_1', 2, Uint8Array.from([2]));
        a.link.publishDoc('doc_2', 3, Uint8Array.from([3]));
        // Sent after the second message of doc_1: once it is here, that one would have been too.
        await o.until('the other document', () => o.docs.get('doc_2')!.length === 1);
        expect(o.docs.get('doc_1')).toEqual([{ caseVersion: 1, message: [1] }]);
      }
      // Alone: a subscription and its end resolve all the same.
      if (others.length === 0) await (await a.subscribe('doc_1'))();
    });

    it('after the link to the others is lost and back, every link resyncs and hears again', async () => {
      const [a, others] = await links(3);
      if (!form.breakLinks) {
        // Nothing to lose: the one-process form, which has no other link, never resyncs.
        expect(others).toEqual([]);
        return;
      }
      for (const o of others) await o.subscribe('doc_1');
      await within('the break', form.breakLinks());
      for (const l of [a, ...others]) await l.until('a resync', () => l.resyncs > 0);
      a.link.caseCommitted(A, 1, []);
      a.link.publishDoc('doc_1', 1, Uint8Array.from([1]));
      for (const o of others) {
        await o.until('a notice after the break', () => o.notices().length === 1);
        await o.until('a document message after the break', () => o.docs.get('doc_1')!.length === 1);
      }
      await within('a session end after the break', a.link.sessionsEnded([hash(4)]));
      for (const o of others) expect(o.sessions).toEqual([[hash(4)]]);
    });
  });
}

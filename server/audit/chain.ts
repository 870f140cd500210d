import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { CaseId } from '../../shared/ids.js';
import type { ChainBreak, ChainVerification } from '../../shared/protocol.js';
import type { Logger } from '../log.js';
import { ACCESS_PURGE_META, type ChainStore, type EventLog, type MetaStore, type PurgeStore, type StoredEvent } from '../store/types.js';

/**
 * R-ACCESS, tamper evidence. The access log (in its stored order) and each case's log (in version
 * order) are hash chains: each link is sha256(previous link, the entry as stored). At intervals a
 * seal records the chains' heads, numbered and linked to the seal before it, under an HMAC with a
 * key that is configuration (SEAL_KEY), never in the store. Verifying recomputes every chain from
 * its start and checks it against every seal: a record changed, deleted, inserted or moved before
 * the last seal breaks the chain at the first seal after it, and rewriting the chains to hide that
 * needs the key. What was written after the last seal is protected from the next one on.
 */

export interface Seal {
  n: number;
  at: string;
  /** The access log's head: its last position and the link there. */
  access: { pos: number; hash: string };
  /** The case logs that moved since the seal before: [case, version, link at that version]. */
  cases: [CaseId, number, string][];
  /** The previous seal's MAC ('' for the first). */
  prev: string;
  mac: string;
}

export type Broken = ChainBreak;
export type Verification = ChainVerification;

/** The store key of the last verification's result, for the privacy officer's screen. */
export const VERIFICATION_META = 'chain-verification';

type Store = ChainStore & Pick<EventLog, 'readEvents' | 'caseIds'> & MetaStore & Pick<PurgeStore, 'listPurges'>;

/**
 * R-RETAIN: what a purge leaves of a case: which log went (up to which version, with its chain
 * link there, as the seal numbered `seal` recorded it), when and why; under the seal key, so the
 * purge of a case is told apart from a log deleted to hide something.
 */
export interface PurgeMarker {
  caseId: CaseId;
  version: number;
  hash: string;
  /** The seal that covered the log up to `version` (0 where the house seals nothing). */
  seal: number;
  closedOn: string;
  retainUntil: string;
  reason: string;
  at: string;
  mac: string;
}

const markerMac = (key: Buffer, m: Omit<PurgeMarker, 'mac'>): string =>
  createHmac('sha256', key)
    .update('purge\0')
    .update(JSON.stringify([m.caseId, m.version, m.hash, m.seal, m.closedOn, m.retainUntil, m.reason, m.at]))
    .digest('hex');

export function purgeMarker(key: Buffer | null, m: Omit<PurgeMarker, 'mac'>): PurgeMarker {
  return { ...m, mac: key ? markerMac(key, m) : '' };
}

/**
 * R-RETAIN: what the purge of the oldest access records leaves: up to which position they went,
 * the seal that covered the log up to there (its chain link is where verification now starts),
 * when and why; under the seal key.
 */
export interface AccessPurgeMarker {
  upTo: number;
  hash: string;
  seal: number;
  /** Records of moments before this went (their own term had passed). */
  before: string;
  reason: string;
  at: string;
  mac: string;
}

const accessMarkerMac = (key: Buffer, m: Omit<AccessPurgeMarker, 'mac'>): string =>
  createHmac('sha256', key)
    .update('access-purge\0')
    .update(JSON.stringify([m.upTo, m.hash, m.seal, m.before, m.reason, m.at]))
    .digest('hex');

export function accessPurgeMarker(key: Buffer, m: Omit<AccessPurgeMarker, 'mac'>): AccessPurgeMarker {
  return { ...m, mac: accessMarkerMac(key, m) };
}

/** The last seal made before `moment`: the oldest access records up to its position may go. */
export async function sealBefore(store: Pick<ChainStore, 'listSeals'>, moment: string): Promise<Seal | null> {
  let found: Seal | null = null;
  for (const json of await store.listSeals()) {
    const s = JSON.parse(json) as Seal;
    if (s.at < moment) found = s;
  }
  return found;
}

/** The chain link of a case log up to its end, as a seal would record it. */
export async function caseHead(store: Pick<EventLog, 'readEvents'>, caseId: CaseId): Promise<{ version: number; hash: string }> {
  let hash = '';
  let version = 0;
  for (const e of await store.readEvents(caseId)) {
    hash = link(hash, eventText(e));
    version = e.version;
  }
  return { version, hash };
}

export const link = (prev: string, data: string): string => createHash('sha256').update(prev).update('\n').update(data).digest('hex');

/** A case event as the chain covers it: every stored field. */
export const eventText = (e: StoredEvent): string => JSON.stringify([e.caseId, e.version, e.type, e.payload, e.at, e.actorUserId, e.actorOrgId]);

function macOf(key: Buffer, s: Omit<Seal, 'mac'>): string {
  return createHmac('sha256', key)
    .update(JSON.stringify([s.n, s.at, s.access.pos, s.access.hash, s.cases, s.prev]))
    .digest('hex');
}

function macHolds(key: Buffer, s: Seal): boolean {
  const want = Buffer.from(macOf(key, s), 'hex');
  const got = Buffer.from(typeof s.mac === 'string' ? s.mac : '', 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}

const PAGE = 5000;
/** Before every position, so a record numbered 0 or less is in the chain too (SQLite lets one be written). */
const START = Number.MIN_SAFE_INTEGER;

/**
 * Seals the logs at intervals. Several processes may run one: a seal's number is written once,
 * and a process that finds its number taken reads the seals again and tries at the next interval.
 */
export class Sealer {
  private head: { n: number; mac: string; access: { pos: number; hash: string }; cases: Map<CaseId, { version: number; hash: string }> } | null = null;

  constructor(
    private readonly store: Store,
    private readonly key: Buffer,
    /** The cases and their versions now (the process's own, applied state). */
    private readonly versions: () => Iterable<[CaseId, number]>,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The chains' heads as the seals so far left them. */
  private async load(): Promise<NonNullable<Sealer['head']>> {
    const head = { n: 0, mac: '', access: { pos: START, hash: '' }, cases: new Map<CaseId, { version: number; hash: string }>() };
    for (const json of await this.store.listSeals()) {
      const s = JSON.parse(json) as Seal;
      head.n = s.n;
      head.mac = s.mac;
      head.access = s.access;
      for (const [caseId, version, hash] of s.cases) head.cases.set(caseId, { version, hash });
    }
    return head;
  }

  /** Seals what was written since the last seal; null when nothing was (or another process sealed first). */
  async seal(): Promise<Seal | null> {
    const head = (this.head ??= await this.load());
    let { pos, hash } = head.access;
    for (;;) {
      const page = await this.store.accessChain(pos, PAGE);
      for (const e of page) {
        hash = link(hash, e.data);
        pos = e.pos;
      }
      if (page.length < PAGE) break;
    }
    const cases: Seal['cases'] = [];
    for (const [caseId, version] of this.versions()) {
      const sealed = head.cases.get(caseId) ?? { version: 0, hash: '' };
      if (version <= sealed.version) continue;
      let h = sealed.hash;
      let v = sealed.version;
      for (const e of await this.store.readEvents(caseId, sealed.version, version)) {
        h = link(h, eventText(e));
        v = e.version;
      }
      if (v > sealed.version) cases.push([caseId, v, h]);
    }
    if (pos === head.access.pos && cases.length === 0) return null;
    const body: Omit<Seal, 'mac'> = { n: head.n + 1, at: this.now().toISOString(), access: { pos, hash }, cases, prev: head.mac };
    const seal: Seal = { ...body, mac: macOf(this.key, body) };
    if (!(await this.store.putSeal(seal.n, JSON.stringify(seal)))) {
      this.head = null;
      return null;
    }
    // The log outside the store is the seals' anchor: removing the newest seals from the store
    // (and changing what they covered) shows against it.
    this.log.info({ seal: seal.n, mac: seal.mac, accessPos: seal.access.pos, cases: cases.length }, 'logs sealed');
    head.n = seal.n;
    head.mac = seal.mac;
    head.access = seal.access;
    for (const [caseId, version, h] of cases) head.cases.set(caseId, { version, hash: h });
    return seal;
  }

  /**
   * R-RETAIN, before a purge: seals what is unsealed, and tells how far the seals cover this case
   * (the seal's number, the version and the link there); null when the seal could not be made now.
   */
  async sealedThrough(caseId: CaseId): Promise<{ seal: number; version: number; hash: string } | null> {
    await this.seal();
    // Another process sealed first: read the seals again.
    const head = (this.head ??= await this.load());
    const c = head.cases.get(caseId);
    if (!c) return null;
    let seal = 0;
    for (const json of await this.store.listSeals()) {
      const s = JSON.parse(json) as Seal;
      if (s.cases.some(([id, v]) => id === caseId && v === c.version)) seal = s.n;
    }
    return seal === 0 ? null : { seal, version: c.version, hash: c.hash };
  }

  /** Seals every `everyMs`; a failure is logged and the next interval tries again. */
  start(everyMs: number): () => void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      this.seal()
        .catch((err: unknown) => {
          this.head = null;
          this.log.warn({ err: (err as Error).message }, 'sealing the logs failed; tried again at the next interval');
        })
        .finally(() => (running = false));
    }, everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}

/**
 * Recomputes every chain from its start and checks it against every seal, in order; reports the
 * first seal that does not hold and where. Writes the result where the privacy officer's screen reads it.
 */
const lastSeal = (seals: Seal[]): number => seals.at(-1)?.n ?? 0;

export async function verifyChains(store: Store, key: Buffer, now: () => Date = () => new Date()): Promise<Verification> {
  const result: Verification = { at: now().toISOString(), ok: true, seals: 0, accessEntries: 0, events: 0, sealedUpTo: null, broken: null };
  const seals = (await store.listSeals()).map((j) => JSON.parse(j) as Seal);
  const fail = (b: Broken): Verification => {
    result.ok = false;
    result.broken = b;
    return result;
  };
  // The seals themselves: numbered from 1, each under the key, each naming the one before.
  let prev = '';
  for (const [i, s] of seals.entries()) {
    if (s.n !== i + 1) return fail({ what: 'seal', seal: i + 1, reason: `seal ${i + 1} is missing or out of order` });
    if (!macHolds(key, s)) return fail({ what: 'seal', seal: s.n, reason: 'its MAC does not hold: it was changed, or sealed with another key' });
    if (s.prev !== prev) return fail({ what: 'seal', seal: s.n, reason: 'it does not follow on from the seal before' });
    prev = s.mac;
  }
  // The access log, folded up to each seal's position; from the purge marker on, once its oldest
  // records went (R-RETAIN): the seals before it are not recomputed, the marker names the last of them.
  let pos = START;
  let hash = '';
  let purgedThrough = 0;
  const accessMarker = await store.getMeta(ACCESS_PURGE_META);
  if (accessMarker) {
    let m: AccessPurgeMarker | null = null;
    try {
      m = JSON.parse(accessMarker) as AccessPurgeMarker;
    } catch {
      m = null;
    }
    const { mac, ...body } = m ?? ({ mac: '' } as AccessPurgeMarker);
    if (!m || typeof mac !== 'string' || mac !== accessMarkerMac(key, body))
      return fail({ what: 'access', seal: lastSeal(seals), reason: 'the access log’s purge marker was altered, or written without the key' });
    const named = seals.find((s) => s.n === m.seal);
    if (!named || named.access.pos !== m.upTo || named.access.hash !== m.hash)
      return fail({ what: 'access', seal: m.seal, reason: 'the access log’s purge marker does not match the seal it names' });
    pos = m.upTo;
    hash = m.hash;
    purgedThrough = m.seal;
  }
  let buffered: { pos: number; data: string }[] = [];
  for (const s of seals) {
    if (s.n <= purgedThrough) {
      result.seals = s.n;
      result.sealedUpTo = s.at;
      continue;
    }
    const from = pos === START ? 1 : pos + 1;
    for (;;) {
      if (buffered.length === 0) buffered = await store.accessChain(pos, PAGE);
      const next = buffered[0];
      if (!next || next.pos > s.access.pos) break;
      buffered.shift();
      hash = link(hash, next.data);
      pos = next.pos;
      result.accessEntries++;
    }
    if (pos !== s.access.pos || hash !== s.access.hash)
      return fail({ what: 'access', seal: s.n, from, to: s.access.pos, reason: 'the access log differs from what was sealed between these positions' });
    result.seals = s.n;
    result.sealedUpTo = s.at;
  }
  // Each case's log, checked at every version a seal recorded.
  const checks = new Map<CaseId, { seal: number; version: number; hash: string }[]>();
  for (const s of seals)
    for (const [caseId, version, h] of s.cases) (checks.get(caseId) ?? checks.set(caseId, []).get(caseId)!).push({ seal: s.n, version, hash: h });
  // R-RETAIN: a purged case's log is gone; its marker, under the key, says what went and matches what was sealed.
  const purged = new Map<CaseId, PurgeMarker>();
  for (const { caseId, marker } of await store.listPurges()) {
    let m: PurgeMarker | null = null;
    try {
      m = JSON.parse(marker) as PurgeMarker;
    } catch {
      m = null;
    }
    const { mac, ...body } = m ?? ({ mac: '' } as PurgeMarker);
    if (!m || m.caseId !== caseId || typeof mac !== 'string' || mac !== markerMac(key, body))
      return fail({ what: 'case', seal: lastSeal(seals), caseId, reason: 'the purge marker of this case was altered, or written without the key' });
    purged.set(caseId, m);
  }
  let firstCase: Broken | null = null;
  for (const [caseId, want] of checks) {
    const marker = purged.get(caseId);
    if (marker) {
      const sealed = want.at(-1)!;
      if ((await store.readEvents(caseId, 0, 1)).length > 0)
        return fail({ what: 'case', seal: sealed.seal, caseId, reason: 'the case was purged, yet its log holds entries' });
      if (sealed.version !== marker.version || sealed.hash !== marker.hash || sealed.seal !== marker.seal)
        return fail({ what: 'case', seal: sealed.seal, caseId, to: sealed.version, reason: 'the purge marker does not match what was sealed of the case' });
      continue;
    }
    let h = '';
    let v = 0;
    const events = await store.readEvents(caseId);
    let i = 0;
    for (const w of want) {
      while (i < events.length && events[i]!.version <= w.version) {
        h = link(h, eventText(events[i]!));
        v = events[i]!.version;
        i++;
        result.events++;
      }
      if (v !== w.version || h !== w.hash) {
        if (!firstCase || w.seal < firstCase.seal)
          firstCase = { what: 'case', seal: w.seal, caseId, to: w.version, reason: 'the case log differs from what was sealed up to this version' };
        break;
      }
    }
  }
  if (firstCase) return fail(firstCase);
  // A case log no seal knows, though it began before the last seal: slipped in.
  const last = seals.at(-1);
  if (last) {
    for (const caseId of await store.caseIds()) {
      if (checks.has(caseId)) continue;
      const first = (await store.readEvents(caseId, 0, 1))[0];
      if (first && first.at <= last.at)
        return fail({ what: 'case', seal: last.n, caseId, reason: 'a case log that no seal knows, begun before the last seal' });
    }
  }
  return result;
}

const resultMac = (key: Buffer, v: Verification): string => createHmac('sha256', key).update('verification\0').update(JSON.stringify(v)).digest('hex');

/** Verifies and keeps the result, under the key, for the privacy officer's screen. */
export async function verifyAndRecord(store: Store, key: Buffer): Promise<Verification> {
  const v = await verifyChains(store, key);
  await store.putMeta(VERIFICATION_META, JSON.stringify({ result: v, mac: resultMac(key, v) }));
  return v;
}

/**
 * The last verification's result as kept, when its MAC holds under the key; a kept result that was
 * altered (or written without the key) is reported as a break of its own.
 */
export function keptVerification(stored: string | undefined, key: Buffer | null): Verification | null {
  if (!stored) return null;
  let kept: { result: Verification; mac: string };
  try {
    kept = JSON.parse(stored) as { result: Verification; mac: string };
  } catch {
    kept = { result: null as unknown as Verification, mac: '' };
  }
  const holds = key !== null && kept.result !== null && typeof kept.mac === 'string' && kept.mac === resultMac(key, kept.result);
  if (holds) return kept.result;
  return {
    at: kept.result?.at ?? new Date(0).toISOString(),
    ok: false,
    seals: 0,
    accessEntries: 0,
    events: 0,
    sealedUpTo: null,
    broken: { what: 'seal', seal: 0, reason: key ? 'the kept result of the last verification was altered' : 'no key to check the kept result with' },
  };
}

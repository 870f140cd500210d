import type { CaseState } from '../../shared/domain.js';
import type { CaseId } from '../../shared/ids.js';
import type { AccessLog } from '../audit/accessLog.js';
import { accessPurgeMarker, caseHead, purgeMarker, sealBefore, type AccessPurgeMarker, type Sealer } from '../audit/chain.js';
import type { CaseService } from '../cases/service.js';
import type { CaseNotices } from '../cluster/cluster.js';
import type { Directory } from '../directory/directory.js';
import type { Logger } from '../log.js';
import { ACCESS_PURGE_META, VersionConflictError, type ChainStore, type EventLog, type MetaStore, type PurgeStore } from '../store/types.js';

/** What a purge's access record gives as its purpose. */
export const PURPOSE_RETENTION = 'bewaartermijn verstreken';
/** What the purge of the oldest access records gives as its purpose. */
export const PURPOSE_ACCESS_RETENTION = 'bewaartermijn toegangslog verstreken';

export interface RetentionDeps {
  cases: CaseService;
  store: PurgeStore & Pick<EventLog, 'readEvents'> & Pick<ChainStore, 'listSeals'> & Pick<MetaStore, 'getMeta'>;
  /** Days an access record is kept (ACCESS_RETENTION_DAYS): NEN 7513 asks at least five years. */
  accessDays: number;
  now?: () => Date;
  dir: Directory;
  access: AccessLog;
  cluster: Pick<CaseNotices, 'casePurged'>;
  /** Seals before every purge, when the house seals its logs (SEAL_KEY). */
  sealer: Sealer | null;
  sealKey: Buffer | null;
  log: Logger;
}

/** The documents of a case: its items' texts and the minutes of each of its discussions. */
const docsOf = (c: CaseState): string[] => [...[...c.items.values()].map((i) => i.textDocId), ...c.agenda.map((a) => a.minutesDocId)];

/**
 * R-RETAIN: a closed case whose retention has passed is purged for real: sealed first, then its
 * log, texts and documents deleted from the store in one step that leaves its purge marker; every
 * process forgets it. Access records stay (they hold no content). Runs at start and every
 * `everyMs`; each process may run it, a purge done elsewhere is simply found done.
 */
export class Retention {
  constructor(private readonly d: RetentionDeps) {}

  /** The closed cases whose purge day has come (the house's day). */
  due(): CaseState[] {
    const today = this.d.dir.today();
    return [...this.d.cases.all()].filter((c) => c.closure !== null && c.closure.retainUntil <= today);
  }

  /**
   * R-RETAIN: the access records whose own term has passed go, up to the last seal made before
   * that moment, leaving a marker under the seal key from which verification starts. Only where
   * the house seals its logs: without a seal the purge could not be told from tampering. The
   * records deleted (0: nothing was due).
   */
  async purgeAccessLog(): Promise<number> {
    const { sealer, sealKey, store } = this.d;
    if (!sealer || !sealKey) return 0;
    const now = (this.d.now ?? (() => new Date()))();
    const before = new Date(now.getTime() - this.d.accessDays * 86_400_000).toISOString();
    const seal = await sealBefore(store, before);
    const kept = await store.getMeta(ACCESS_PURGE_META);
    const done = kept ? (JSON.parse(kept) as AccessPurgeMarker).upTo : Number.MIN_SAFE_INTEGER;
    if (!seal || seal.access.pos <= done) return 0;
    const at = now.toISOString();
    const marker = accessPurgeMarker(sealKey, { upTo: seal.access.pos, hash: seal.access.hash, seal: seal.n, before, reason: PURPOSE_ACCESS_RETENTION, at });
    const deleted = await store.purgeAccess(marker.upTo, JSON.stringify(marker));
    await store.flushPurged().catch((err: unknown) => this.d.log.error({ err }, "the store's files still hold purged access records until their next rewrite"));
    this.d.access.record({
      at,
      action: 'delete',
      operation: `access:purge ${marker.upTo}`,
      caseId: null,
      itemId: null,
      userId: null,
      orgId: null,
      role: 'none',
      purpose: PURPOSE_ACCESS_RETENTION,
      address: 'server',
      outcome: 'ok',
    });
    this.d.log.info({ upTo: marker.upTo, deleted, seal: seal.n }, 'access records purged: their own term had passed');
    return deleted;
  }

  /** Purges every case that is due, then the access records whose term passed; the cases purged. A failure is logged, and tried at the next sweep. */
  async sweep(): Promise<CaseId[]> {
    try {
      await this.purgeAccessLog();
    } catch (err) {
      this.d.log.error({ err }, 'purging old access records failed; tried again at the next sweep');
    }
    const done: CaseId[] = [];
    for (const c of this.due()) {
      try {
        if (await this.purge(c.id)) done.push(c.id);
      } catch (err) {
        this.d.log.error({ err, caseId: c.id }, 'purging a case failed; tried again at the next sweep');
      }
    }
    return done;
  }

  /** Purges one case once it is due, in its queue (nothing of it commits meanwhile). Whether it was purged now. */
  purge(caseId: CaseId): Promise<boolean> {
    return this.d.cases.withCase(caseId, async () => {
      const c = this.d.cases.get(caseId);
      if (!c?.closure || c.closure.retainUntil > this.d.dir.today()) return false;
      // Sealed first: what goes is in a seal, and the marker names that seal.
      const sealed = this.d.sealer ? await this.d.sealer.sealedThrough(caseId) : { seal: 0, ...(await caseHead(this.d.store, caseId)) };
      if (!sealed || sealed.version !== c.version) {
        this.d.log.warn({ caseId }, 'a case due for purging is not sealed up to its end yet; tried again at the next sweep');
        return false;
      }
      const at = new Date().toISOString();
      const reason = `${PURPOSE_RETENTION} (bewaren tot ${c.closure.retainUntil})`;
      const marker = purgeMarker(this.d.sealKey, { caseId, ...sealed, closedOn: c.closure.closedOn, retainUntil: c.closure.retainUntil, reason, at });
      // Only the log as sealed: a commit made since on another process (a later purge day) stops it.
      let events: number;
      try {
        events = await this.d.store.purgeCase(caseId, c.version, docsOf(c), JSON.stringify(marker));
      } catch (err) {
        if (!(err instanceof VersionConflictError)) throw err;
        this.d.log.warn({ caseId }, 'a case due for purging changed meanwhile elsewhere; it is judged again at the next sweep');
        await this.d.cases.catchUp(caseId);
        return false;
      }
      this.d.cases.forget(caseId);
      this.d.cluster.casePurged(caseId);
      await this.d.store
        .flushPurged()
        .catch((err: unknown) =>
          this.d.log.error({ err, caseId }, "the store's files still hold the purged case until their next rewrite (Redis: BGREWRITEAOF)"),
        );
      this.d.access.record({
        at,
        action: 'delete',
        operation: 'case:purge',
        caseId,
        itemId: null,
        userId: null,
        orgId: null,
        role: 'none',
        purpose: PURPOSE_RETENTION,
        address: 'server',
        outcome: 'ok',
      });
      this.d.log.info({ caseId, events, version: c.version }, 'case purged: its retention had passed');
      return true;
    });
  }

  /** Sweeps now and every `everyMs`. */
  start(everyMs: number): () => void {
    let running = false;
    const run = (): void => {
      if (running) return;
      running = true;
      void this.sweep().finally(() => (running = false));
    };
    run();
    const timer = setInterval(run, everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}

import type { CaseState } from '../../shared/domain.js';
import type { CaseId } from '../../shared/ids.js';
import type { AccessLog } from '../audit/accessLog.js';
import { caseHead, purgeMarker, type Sealer } from '../audit/chain.js';
import type { CaseService } from '../cases/service.js';
import type { CaseNotices } from '../cluster/cluster.js';
import type { Directory } from '../directory/directory.js';
import type { Logger } from '../log.js';
import type { EventLog, PurgeStore } from '../store/types.js';

/** What a purge's access record gives as its purpose. */
export const PURPOSE_RETENTION = 'bewaartermijn verstreken';

export interface RetentionDeps {
  cases: CaseService;
  store: PurgeStore & Pick<EventLog, 'readEvents'>;
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

  /** Purges every case that is due; the ones purged. A failure is logged, and tried at the next sweep. */
  async sweep(): Promise<CaseId[]> {
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
      const events = await this.d.store.purgeCase(caseId, docsOf(c), JSON.stringify(marker));
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

import type { CaseState, Viewer } from '../../shared/domain.js';
import type { CaseId, ItemId } from '../../shared/ids.js';
import { isChairOf, latestAnswer, participationOf } from '../../shared/rules/access.js';
import { ACCESS_LOG_RETRY_MS, MAX_ACCESS_BACKLOG_RECORDS } from '../../shared/limits.js';
import type { Logger } from '../log.js';
import type { LinkHealth } from '../store/health.js';
import type { AccessLogStore, AccessRecord } from '../store/types.js';

/** Who acts, and from where: what every access-log record needs besides the action itself. */
export interface Actor {
  viewer: Viewer;
  address: string;
}

/**
 * R-ACCESS: what a read or change of case data is for, as the case stands: the discussion in a
 * meeting, one's own contribution, the take-home for an intervention or a reuse the contributor
 * consented to, or the chair keeping the case's file. It names requests and meetings by id only:
 * the access log outlives the case and keeps none of its content.
 */
export function purposeOf(c: CaseState | null, viewer: Viewer, itemId: ItemId | null): string {
  if (!c) return 'casusoverleg';
  const running = c.agenda.find((a) => a.state === 'running');
  if (running) return `bespreking in overleg ${running.meetingId}`;
  if (itemId !== null) {
    if (c.items.get(itemId)?.orgId === viewer.orgId) return 'eigen inbreng';
    for (const r of c.consents.values()) {
      if (r.forOrgId !== viewer.orgId || r.closed || !r.itemIds.includes(itemId) || latestAnswer(r, itemId)?.answer !== 'yes') continue;
      if (r.kind === 'takehome' && r.interventionId) return `meenemen voor interventie ${r.interventionId}`;
      if (r.kind === 'reuse') return `hergebruik met toestemming (verzoek ${r.id})`;
    }
  }
  return isChairOf(c, viewer) ? 'dossier van de casus (voorzitter)' : 'eigen inbreng en afspraken';
}

/** A NEN 7513 record for an action on case data (R-FILE). */
export function accessRecord(
  actor: Actor,
  c: CaseState | null,
  fields: { action: AccessRecord['action']; operation: string; caseId?: CaseId | null; itemId?: ItemId | null; outcome?: AccessRecord['outcome'] },
  at = new Date().toISOString(),
): AccessRecord {
  return {
    at,
    action: fields.action,
    operation: fields.operation,
    caseId: fields.caseId ?? c?.id ?? null,
    itemId: fields.itemId ?? null,
    userId: actor.viewer.userId,
    orgId: actor.viewer.orgId,
    role: (c && participationOf(c, actor.viewer)?.role) || 'none',
    purpose: purposeOf(c, actor.viewer, fields.itemId ?? null),
    address: actor.address,
    outcome: fields.outcome ?? 'ok',
  };
}

/** A record of an act on the house itself (its directory, its meetings): no case, no role in one. */
export function houseRecord(actor: Actor, action: AccessRecord['action'], operation: string, purpose: string, at = new Date().toISOString()): AccessRecord {
  return {
    at,
    action,
    operation,
    caseId: null,
    itemId: null,
    userId: actor.viewer.userId,
    orgId: actor.viewer.orgId,
    role: 'none',
    purpose,
    address: actor.address,
    outcome: 'ok',
  };
}

/** How long reads gather before they are written, and how many at most. */
const FLUSH_AFTER_MS = 50;
const FLUSH_AT_RECORDS = 5_000;

/**
 * Reads are many (every delivery to every viewer is one), so they are gathered and written
 * together: at most every FLUSH_AFTER_MS, rather than once per turn of the event loop, which under
 * a steady load meant one more commit (one more fsync, one more Redis call) for every command.
 * A read is logged after it was delivered, as before, so a crash can lose the last moment's reads
 * either way; a close writes what is gathered. Changes are written with their events, in the
 * same commit, so the log's sequence can put a change before reads that came just before it:
 * whoever reads the log in time order sorts by `at`.
 *
 * P-READLOG, fail closed: a read is served only while the log can be written (`writable`, a plain
 * flag, so serving never waits for it). A write that fails makes it unwritable; its records are
 * kept, in order before newer ones, and written again every ACCESS_LOG_RETRY_MS until that works
 * (at least once: a write whose answer was lost may come back twice). The reads served in the
 * moment before the failure was known are in what is kept, so each still gets its record.
 */
export class AccessLog {
  private buffer: AccessRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  /** Records of the write under way (one at a time). */
  private writing = 0;
  /** The last write failed; cleared by one that succeeds. */
  private failed = false;
  private readonly listeners: ((writable: boolean) => void)[] = [];

  /**
   * @param links the store's links (its Redis): while one is down no write can succeed, so none
   *   is waited for to know it; once it is back, what is kept is written at once.
   */
  constructor(
    private readonly store: AccessLogStore,
    private readonly log: Logger,
    private readonly links: readonly LinkHealth[] = [],
  ) {
    for (const l of links) {
      l.onChange((ready) => {
        if (ready) void this.flush();
        this.changed();
      });
    }
  }

  /** Whether a read may be served now: its record can be written. */
  get writable(): boolean {
    return !this.failed && this.links.every((l) => l.ready);
  }

  /** Records not yet written: gathered, being written, or kept after a failed write. */
  get backlog(): number {
    return this.buffer.length + this.writing;
  }

  /** Called when `writable` may have changed: after a write failed, or one succeeded after a failure. */
  onChange(fn: (writable: boolean) => void): void {
    this.listeners.push(fn);
  }

  record(r: AccessRecord | AccessRecord[]): void {
    if (Array.isArray(r)) this.buffer.push(...r);
    else this.buffer.push(r);
    // While writes fail, the retry timer writes; gathering more does not help it.
    if (this.failed) return;
    if (this.buffer.length >= FLUSH_AT_RECORDS) void this.flush();
    else this.schedule(FLUSH_AFTER_MS);
  }

  private schedule(ms: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => void this.flush(), ms);
    this.timer.unref();
  }

  /** Writes what is gathered (and what failed before); resolves when done, whether or not it worked. */
  flush(): Promise<void> {
    return this.flushWritten().then(() => undefined);
  }

  /**
   * R-FILE: records a read and waits until it is written: a case view is not served before its
   * record is committed. False when the write failed: the view is not served, and one record of
   * the refused read is kept for the retry instead of its reads. What others gathered meanwhile
   * goes in the same write.
   */
  async recordWritten(records: AccessRecord[]): Promise<boolean> {
    if (records.length === 0) return true;
    if (this.failed) return false;
    this.buffer.push(...records);
    if (await this.flushWritten()) return true;
    // Not served, so not read: what is kept for the retry says it was refused, once, instead.
    // (The retry needs something to write to find out that the log works again.)
    const mine = new Set(records);
    this.buffer = this.buffer.filter((r) => !mine.has(r));
    this.buffer.push({ ...records[0]!, itemId: null, outcome: 'error' });
    return false;
  }

  /** Like flush, telling whether the write of what was gathered succeeded. */
  private flushWritten(): Promise<boolean> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.buffer;
    this.buffer = [];
    if (batch.length === 0) return this.flushing.then(() => !this.failed);
    const written = this.flushing.then(() => this.write(batch));
    this.flushing = written.then(() => undefined);
    return written;
  }

  /** Whether the batch was written. */
  private async write(batch: AccessRecord[]): Promise<boolean> {
    this.writing = batch.length;
    try {
      await this.store.appendAccess(batch);
    } catch (err) {
      this.writing = 0;
      // Kept before anything gathered meanwhile, within the bound.
      this.buffer = batch.concat(this.buffer);
      const over = this.buffer.length - MAX_ACCESS_BACKLOG_RECORDS;
      if (over > 0) {
        this.buffer.splice(0, over);
        this.log.error({ records: over }, 'access records given up: too many waiting to be written');
      }
      if (!this.failed) {
        this.failed = true;
        this.log.error({ err, records: this.buffer.length }, 'access log write failed; refusing reads until it works');
        this.changed();
      }
      this.schedule(ACCESS_LOG_RETRY_MS);
      return false;
    }
    this.writing = 0;
    if (this.failed) {
      this.failed = false;
      this.log.warn({ records: batch.length }, 'access log written again; serving reads');
      this.changed();
      // What was gathered while the retry ran.
      if (this.buffer.length > 0) this.schedule(FLUSH_AFTER_MS);
    }
    return true;
  }

  private changed(): void {
    for (const fn of this.listeners) {
      try {
        fn(this.writable);
      } catch (err) {
        this.log.error({ err }, 'access log listener failed');
      }
    }
  }
}

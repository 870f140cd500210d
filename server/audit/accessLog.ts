import type { CaseState, Viewer } from '../../shared/domain.js';
import type { CaseId, ItemId } from '../../shared/ids.js';
import { participationOf } from '../../shared/rules/access.js';
import type { Logger } from '../log.js';
import type { AccessRecord, Store } from '../store/types.js';

/** Who acts, and from where: what every access-log record needs besides the action itself. */
export interface Actor {
  viewer: Viewer;
  address: string;
}

export const PURPOSE_CASE_MEETING = 'casusoverleg';

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
    purpose: PURPOSE_CASE_MEETING,
    address: actor.address,
    outcome: fields.outcome ?? 'ok',
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
 */
export class AccessLog {
  private buffer: AccessRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  record(r: AccessRecord | AccessRecord[]): void {
    if (Array.isArray(r)) this.buffer.push(...r);
    else this.buffer.push(r);
    if (this.buffer.length >= FLUSH_AT_RECORDS) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), FLUSH_AFTER_MS);
      this.timer.unref();
    }
  }

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.buffer;
    this.buffer = [];
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing
      .then(() => this.store.appendAccess(batch))
      .catch((err: unknown) => this.log.error({ err, records: batch.length }, 'access log write failed'));
    return this.flushing;
  }
}

import type { Meeting } from '../../shared/domain.js';
import type { MeetingId } from '../../shared/ids.js';
import { MEETING_SWEEP_MS } from '../../shared/limits.js';
import type { Actor } from '../audit/accessLog.js';
import type { CaseService } from '../cases/service.js';
import type { Directory } from '../directory/directory.js';
import type { Logger } from '../log.js';

/**
 * R-TAKEHOME: a case is open only while a meeting discusses it. A meeting that is closed, or whose
 * day has passed, discusses nothing more: what still runs in it is ended, in the name of its
 * chair, on every process (each case judged at its position: one process ends it, the others
 * find it ended).
 */
export class MeetingDiscussions {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly dir: Directory,
    private readonly cases: CaseService,
    private readonly log: Logger,
  ) {
    // Closed on another process: what this one began in it meanwhile ends too. (The process that
    // closed it ends its own, as the one who asked: server/meetings/routes.ts.)
    dir.onMeetingsChanged((changed, reloaded) => {
      if (!reloaded) return;
      for (const m of changed) if (m.closedAt !== null) void this.end(m);
    });
  }

  /**
   * Ends now, and then every MEETING_SWEEP_MS, the discussions of meetings whose day has passed,
   * or that were closed while ending them failed (the store away): the sweep finishes it.
   */
  start(): void {
    void this.endStale();
    this.timer = setInterval(() => void this.endStale(), MEETING_SWEEP_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Resolves once what runs in meetings closed or before the house's day is ended; how many were. */
  async endStale(): Promise<number> {
    const today = this.dir.today();
    // Only meetings something still runs in: the past ones grow with the house's history.
    const running = new Set<MeetingId>();
    for (const c of this.cases.all()) for (const a of c.agenda) if (a.state === 'running') running.add(a.meetingId);
    const stale = [...running].map((id) => this.dir.meeting(id)).filter((m): m is Meeting => m !== undefined && (m.closedAt !== null || m.date < today));
    const ended = await Promise.all(stale.map((m) => this.end(m)));
    return ended.reduce((a, b) => a + b, 0);
  }

  private end(m: Meeting): Promise<number> {
    const chair = this.dir.user(m.chairUserId);
    if (!chair) return Promise.resolve(0);
    const actor: Actor = { viewer: { userId: chair.id, orgId: chair.orgId, roles: chair.roles }, address: 'server' };
    return this.cases.endDiscussionsIn(m.id, actor).catch((err: unknown) => {
      this.log.error({ err, meetingId: m.id }, 'ending the discussions of a meeting failed');
      return 0;
    });
  }
}

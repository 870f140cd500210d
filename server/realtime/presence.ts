import type { CaseId, UserId } from '../../shared/ids.js';
import { PRESENCE_COALESCE_MS } from '../../shared/limits.js';
import type { PresenceEntry } from '../../shared/protocol.js';
import { maySeeCase } from '../../shared/rules/access.js';
import { caseRoom, type RealtimeContext } from './context.js';

/** Who has a case's board open, on any process, told to the viewers of that case. */
export class Presence {
  private readonly pending = new Map<CaseId, NodeJS.Timeout>();

  constructor(private readonly ctx: RealtimeContext) {
    ctx.io.on('presence', (caseId) => this.schedule(caseId));
  }

  /** Here and on every other process: each tells its own sockets. */
  changed(caseId: CaseId): void {
    this.schedule(caseId);
    if (this.ctx.d.adapter) this.ctx.io.serverSideEmit('presence', caseId);
  }

  /**
   * Presence changes in bursts (a room of viewers opening a board at once): one broadcast per
   * case per PRESENCE_COALESCE_MS carries them all, instead of one per arrival to every viewer.
   */
  schedule(caseId: CaseId): void {
    if (this.pending.has(caseId)) return;
    const t = setTimeout(() => {
      this.pending.delete(caseId);
      void this.broadcast(caseId);
    }, PRESENCE_COALESCE_MS);
    t.unref();
    this.pending.set(caseId, t);
  }

  /**
   * Presence: who has the board open on any process. It reaches only viewers of the case and lists
   * only people who may see it, both judged on this process's state of the case.
   */
  private async broadcast(caseId: CaseId): Promise<void> {
    const { io, d } = this.ctx;
    let sockets;
    try {
      sockets = await io.in(caseRoom(caseId)).fetchSockets();
    } catch (err) {
      d.log.warn({ err: (err as Error).message, caseId }, 'presence lookup failed');
      return;
    }
    const c = d.cases.get(caseId);
    if (!c) return;
    const cursor = d.cursors.encode(caseId, c.version);
    const present = new Map<UserId, PresenceEntry>();
    for (const s of sockets) {
      const v = s.data.viewer;
      if (!v || present.has(v.userId) || !maySeeCase(c, v)) continue;
      present.set(v.userId, { userId: v.userId, name: d.dir.nameOf(v.userId), orgId: v.orgId });
    }
    // The same list for every viewer of the case: one packet, encoded once.
    const to = this.ctx
      .localSocketsIn(caseRoom(caseId))
      .filter((s) => maySeeCase(c, s.data.viewer))
      .map((s) => s.id);
    if (to.length > 0) io.local.to(to).emit('presence:update', { caseId, cursor, present: [...present.values()] });
  }

  close(): void {
    for (const t of this.pending.values()) clearTimeout(t);
  }
}

import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { USER_ROLES, type Viewer } from '../../shared/domain.js';
import { CaseIdSchema, OrgIdSchema, UserIdSchema } from '../../shared/ids.js';
import type { CaseId, UserId } from '../../shared/ids.js';
import { PRESENCE_COALESCE_MS, PRESENCE_REFRESH_MS } from '../../shared/limits.js';
import type { PresenceEntry } from '../../shared/protocol.js';
import { maySeeCase } from '../../shared/rules/access.js';
import { caseRoom, type RealtimeContext } from './context.js';

/** Who has a case open on one process, as that process tells the others. */
const Viewers = z.array(z.object({ userId: UserIdSchema, orgId: OrgIdSchema, roles: z.array(z.enum(USER_ROLES)).max(USER_ROLES.length) })).max(10_000);
/** One case's viewers on the sending process (`viewers` empty: none left). */
export const PresenceNotice = z.object({ from: z.string().max(64), caseId: CaseIdSchema, viewers: Viewers });
/** Every case with viewers on the sending process: what the others hold of it is replaced. */
export const PresenceRefresh = z.object({ from: z.string().max(64), cases: z.array(z.tuple([CaseIdSchema, Viewers])).max(100_000) });

interface Remote {
  viewers: Viewer[];
  /** When its process last said so (a notice or a refresh): a process that stops saying anything has stopped. */
  at: number;
}

/**
 * Who has a case's board open, on any process, told to the viewers of that case. Each process
 * says who has each case open on it (after a change, at most once per PRESENCE_COALESCE_MS, and
 * all of it every PRESENCE_REFRESH_MS); every process keeps what the others said and tells its
 * own viewers the union. Asking every process for its sockets at each change (fetchSockets) cost
 * every process a round over all the others, with every socket's handshake in the answers.
 */
export class Presence {
  private readonly id = randomBytes(8).toString('hex');
  /** Cases waiting to be told to this process's viewers; `publish`: also to the other processes. */
  private readonly pending = new Map<CaseId, { timer: NodeJS.Timeout; publish: boolean }>();
  private readonly remote = new Map<CaseId, Map<string, Remote>>();
  /** The last list this process published per case, so an unchanged one is not sent again. */
  private readonly published = new Map<CaseId, string>();
  private readonly refresher: NodeJS.Timeout | null = null;
  /** After close nothing is sent: the adapter's client closes next, and Socket.IO leaves a failed publish unhandled. */
  private closed = false;

  constructor(private readonly ctx: RealtimeContext) {
    if (!ctx.d.adapter) return;
    ctx.io.on('presence', (raw) => this.heard(raw));
    ctx.io.on('presence:all', (raw) => this.heardAll(raw));
    // A process that starts asks the others for what they have: it is told within a turn, not a refresh later.
    ctx.io.on('presence:hello', () => this.refresh());
    this.refresher = setInterval(() => {
      this.refresh();
      this.expire();
    }, PRESENCE_REFRESH_MS);
    this.refresher.unref();
    ctx.io.serverSideEmit('presence:hello');
  }

  /** A board opened or closed here: told here and to every other process. */
  changed(caseId: CaseId): void {
    this.schedule(caseId, true);
  }

  /** Told again to this process's viewers (rights changed): who may be listed follows the case. */
  schedule(caseId: CaseId, publish = false): void {
    if (this.closed) return;
    const p = this.pending.get(caseId);
    if (p) {
      p.publish ||= publish;
      return;
    }
    // Presence changes in bursts (a room of viewers opening a board at once): one broadcast per
    // case per PRESENCE_COALESCE_MS carries them all, instead of one per arrival to every viewer.
    const timer = setTimeout(() => {
      const done = this.pending.get(caseId);
      this.pending.delete(caseId);
      if (done?.publish) this.publish(caseId);
      this.broadcast(caseId);
    }, PRESENCE_COALESCE_MS);
    timer.unref();
    this.pending.set(caseId, { timer, publish });
  }

  /** Who has the case open on this process (each user once). */
  private local(caseId: CaseId): Viewer[] {
    const seen = new Map<UserId, Viewer>();
    for (const s of this.ctx.localSocketsIn(caseRoom(caseId))) {
      const v = s.data.viewer;
      if (!seen.has(v.userId)) seen.set(v.userId, { userId: v.userId, orgId: v.orgId, roles: v.roles });
    }
    return [...seen.values()];
  }

  private publish(caseId: CaseId): void {
    if (!this.ctx.d.adapter) return;
    const viewers = this.local(caseId);
    const key = JSON.stringify(viewers);
    if (this.published.get(caseId) === (viewers.length === 0 ? undefined : key)) return;
    if (viewers.length === 0) this.published.delete(caseId);
    else this.published.set(caseId, key);
    this.ctx.io.serverSideEmit('presence', { from: this.id, caseId, viewers });
  }

  /** Everything this process has open, to every other process (liveness, and for one that started). */
  private refresh(): void {
    if (this.closed) return;
    const cases: [CaseId, Viewer[]][] = [];
    for (const caseId of this.published.keys()) {
      const viewers = this.local(caseId);
      if (viewers.length > 0) cases.push([caseId, viewers]);
    }
    this.ctx.io.serverSideEmit('presence:all', { from: this.id, cases });
  }

  private heard(raw: unknown): void {
    const m = PresenceNotice.safeParse(raw);
    if (!m.success || m.data.from === this.id) return;
    this.set(m.data.caseId, m.data.from, m.data.viewers as Viewer[]);
  }

  private heardAll(raw: unknown): void {
    const m = PresenceRefresh.safeParse(raw);
    if (!m.success || m.data.from === this.id) return;
    const listed = new Set<CaseId>();
    for (const [caseId, viewers] of m.data.cases) {
      listed.add(caseId);
      this.set(caseId, m.data.from, viewers as Viewer[]);
    }
    for (const [caseId, byProcess] of this.remote) if (!listed.has(caseId) && byProcess.has(m.data.from)) this.set(caseId, m.data.from, []);
  }

  private set(caseId: CaseId, from: string, viewers: Viewer[]): void {
    let byProcess = this.remote.get(caseId);
    const before = byProcess?.get(from);
    if (viewers.length === 0) {
      if (!before) return;
      byProcess!.delete(from);
      if (byProcess!.size === 0) this.remote.delete(caseId);
    } else {
      if (!byProcess) this.remote.set(caseId, (byProcess = new Map()));
      byProcess.set(from, { viewers, at: Date.now() });
      if (before && JSON.stringify(before.viewers) === JSON.stringify(viewers)) return;
    }
    this.schedule(caseId);
  }

  /** What a process that stopped saying anything had open is forgotten (it stopped without a word). */
  private expire(): void {
    const before = Date.now() - 3 * PRESENCE_REFRESH_MS;
    for (const [caseId, byProcess] of this.remote) {
      for (const [from, r] of byProcess) if (r.at < before) this.set(caseId, from, []);
    }
  }

  /**
   * Presence: who has the board open on any process. It reaches only viewers of the case and lists
   * only people who may see it, both judged on this process's state of the case.
   */
  private broadcast(caseId: CaseId): void {
    const { io, d } = this.ctx;
    const c = d.cases.get(caseId);
    if (!c) return;
    const to = this.ctx
      .localSocketsIn(caseRoom(caseId))
      .filter((s) => maySeeCase(c, s.data.viewer))
      .map((s) => s.id);
    if (to.length === 0) return;
    const cursor = d.cursors.encode(caseId, c.version);
    const present = new Map<UserId, PresenceEntry>();
    const everyone = [...this.local(caseId), ...[...(this.remote.get(caseId)?.values() ?? [])].flatMap((r) => r.viewers)];
    for (const v of everyone) {
      if (present.has(v.userId) || !maySeeCase(c, v)) continue;
      present.set(v.userId, { userId: v.userId, name: d.dir.nameOf(v.userId), orgId: v.orgId });
    }
    // The same list for every viewer of the case: one packet, encoded once.
    io.local.to(to).emit('presence:update', { caseId, cursor, present: [...present.values()] });
  }

  close(): void {
    this.closed = true;
    for (const p of this.pending.values()) clearTimeout(p.timer);
    if (this.refresher) clearInterval(this.refresher);
  }
}

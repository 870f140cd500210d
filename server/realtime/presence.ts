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
/**
 * What one process tells the others: one case's viewers on it (`viewers` empty: none left); every
 * case with viewers on it (`all`: what the others hold of it is replaced); or, as it starts, a
 * request for everyone's `all`.
 */
const PresenceMessage = z.discriminatedUnion('what', [
  z.object({ what: z.literal('case'), caseId: CaseIdSchema, viewers: Viewers }),
  z.object({ what: z.literal('all'), cases: z.array(z.tuple([CaseIdSchema, Viewers])).max(100_000) }),
  z.object({ what: z.literal('hello') }),
]);

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
  /** Cases waiting to be told to this process's viewers; `publish`: also to the other processes. */
  private readonly pending = new Map<CaseId, { timer: NodeJS.Timeout; publish: boolean }>();
  private readonly remote = new Map<CaseId, Map<string, Remote>>();
  /** The last list this process published per case, so an unchanged one is not sent again. */
  private readonly published = new Map<CaseId, string>();
  private readonly refresher: NodeJS.Timeout | null = null;
  /** After close nothing is sent or scheduled: the link closes next. */
  private closed = false;

  constructor(private readonly ctx: RealtimeContext) {
    const bus = ctx.d.presence;
    if (!bus.shared) return;
    bus.onPresence((from, raw) => this.heard(from, raw));
    this.refresher = setInterval(() => {
      this.refresh();
      this.expire();
    }, PRESENCE_REFRESH_MS);
    this.refresher.unref();
    // A process that starts asks the others for what they have: told at once, not a refresh later.
    bus.publishPresence({ what: 'hello' });
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
    if (!this.ctx.d.presence.shared) return;
    const viewers = this.local(caseId);
    const key = viewers.length === 0 ? undefined : JSON.stringify(viewers);
    if (this.published.get(caseId) === key) return;
    if (key === undefined) this.published.delete(caseId);
    else this.published.set(caseId, key);
    this.ctx.d.presence.publishPresence({ what: 'case', caseId, viewers });
  }

  /** Everything this process has open, to every other process (liveness, and for one that started). */
  private refresh(): void {
    if (this.closed) return;
    const cases: [CaseId, Viewer[]][] = [];
    for (const caseId of this.published.keys()) {
      const viewers = this.local(caseId);
      if (viewers.length > 0) cases.push([caseId, viewers]);
    }
    this.ctx.d.presence.publishPresence({ what: 'all', cases });
  }

  private heard(from: string, raw: unknown): void {
    const parsed = PresenceMessage.safeParse(raw);
    if (!parsed.success) return this.ctx.d.log.warn({ from }, 'bad presence message');
    const m = parsed.data;
    if (m.what === 'hello') return this.refresh();
    if (m.what === 'case') return this.set(m.caseId, from, m.viewers as Viewer[]);
    const listed = new Set<CaseId>();
    for (const [caseId, viewers] of m.cases) {
      listed.add(caseId);
      this.set(caseId, from, viewers as Viewer[]);
    }
    for (const [caseId, byProcess] of this.remote) if (!listed.has(caseId) && byProcess.has(from)) this.set(caseId, from, []);
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

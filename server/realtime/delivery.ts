import type { CaseState, Viewer } from '../../shared/domain.js';
import type { CaseId, ItemId, MeetingId, UserId } from '../../shared/ids.js';
import type { CaseSummary, PatchOp } from '../../shared/protocol.js';
import { maySeeCase } from '../../shared/rules/access.js';
import { deltaFor, projectMeta, summarise } from '../../shared/rules/projection.js';
import { accessRecord, type AccessLog, type Actor } from '../audit/accessLog.js';
import type { Committed } from '../cases/service.js';
import type { AccessRecord } from '../store/types.js';
import { caseRoom, userRoom, type BoardSocket, type RealtimeContext } from './context.js';
import { jsonEqual } from './jsonEqual.js';
import type { Presence } from './presence.js';

/** The read records of what `ops` show one actor of case `c`, gathered to be written with others. */
export function logReads(access: AccessLog, actor: Actor, c: CaseState, ops: PatchOp[], operation: string, at = new Date().toISOString()): void {
  const records = readRecords(actor, c, ops, operation, at);
  if (records.length > 0) access.record(records);
}

/** The read records of what `ops` show one actor of case `c`. */
export function readRecords(actor: Actor, c: CaseState, ops: PatchOp[], operation: string, at = new Date().toISOString()): AccessRecord[] {
  const records: AccessRecord[] = [];
  const read = (itemId: ItemId | null) => records.push(accessRecord(actor, c, { action: 'read', operation, itemId }, at));
  for (const o of ops) {
    if (o.op === 'snapshot') {
      read(null);
      for (const i of o.view.items) read(i.id);
    } else if (o.op === 'meta') read(null);
    else if (o.op === 'item') read(o.item.id);
  }
  return records;
}

/**
 * Per-viewer delivery: every case list and patch is built for its one viewer by the rule
 * functions, and logged as read before it leaves.
 */
export class Delivery {
  /**
   * Case lists as built since the last change of any case, per kind of viewer: after a restart
   * every socket connects at once, and the hundred sockets of one user need the one list.
   */
  private readonly lists = new Map<string, CaseSummary[]>();

  constructor(
    private readonly ctx: RealtimeContext,
    private readonly presence: Presence,
  ) {
    ctx.d.cases.onApplied(() => this.lists.clear());
    ctx.d.dir.onMeetingsChanged((changed) => this.meetingsChanged(new Set(changed.map((m) => m.id))));
  }

  /**
   * A meeting's time or place changed, or it closed: every case on its agenda shows it, in the
   * case list and on open boards. Run in each case's queue, after what was committed before it.
   */
  private meetingsChanged(ids: ReadonlySet<MeetingId>): void {
    this.lists.clear();
    const { d } = this.ctx;
    for (const c of d.cases.all()) {
      if (!c.agenda.some((a) => ids.has(a.meetingId))) continue;
      d.cases
        .withCase(c.id, () => Promise.resolve(this.resendMeta(c.id)))
        .catch((err: unknown) => d.log.error({ err, caseId: c.id }, 'meeting change not delivered'));
    }
  }

  private resendMeta(caseId: CaseId): void {
    const { d } = this.ctx;
    const c = d.cases.get(caseId);
    if (!c) return;
    const at = new Date().toISOString();
    for (const s of this.ctx.localSocketsIn(caseRoom(caseId))) {
      const served = this.ctx.st(s).open.get(caseId);
      const viewer = s.data.viewer;
      if (served === undefined || !maySeeCase(c, viewer)) continue;
      if (!d.access.writable) {
        s.disconnect(true);
        continue;
      }
      // The position it was served stays its cursor: what came after reaches it with its own patch.
      const ops: PatchOp[] = [{ op: 'meta', meta: projectMeta(c, viewer, d.dir) }];
      logReads(d.access, { viewer, address: s.data.address }, c, ops, 'case:patch', at);
      s.emit('case:patch', { caseId, cursor: d.cursors.encode(caseId, served), ops });
    }
    this.deliverSummaries(null, c);
  }

  /** The case list a viewer starts with. */
  caseList(viewer: Viewer): CaseSummary[] {
    const key = `${viewer.userId} ${viewer.orgId} ${viewer.roles.join(',')}`;
    let out = this.lists.get(key);
    if (out) return out;
    const { cases, cursors } = this.ctx.d;
    out = [];
    for (const c of cases.all()) {
      // A cursor costs a cipher call: only for cases listed (a user sees a few of many).
      if (!maySeeCase(c, viewer)) continue;
      const s = summarise(c, viewer, this.ctx.d.dir, cursors.encode(c.id, c.version));
      if (s) out.push(s);
    }
    this.lists.set(key, out);
    return out;
  }

  /** After a commit: each open board gets its own patch; each affected user its case list entry. */
  deliver({ caseId, before, after, touched }: Committed): void {
    const touchedNow = { meta: touched.meta, items: [...touched.items] };
    // Co-editing entries change no board: nothing to project, send or log (the documents carry them).
    if (!touchedNow.meta && touchedNow.items.length === 0) return;
    const { io, d } = this.ctx;
    const cursor = d.cursors.encode(caseId, after.version);
    // Built once per user; sockets whose patches are identical (same rights) share one packet,
    // encoded once, so a case watched by many costs one projection per kind of viewer.
    const perUser = new Map<UserId, { ops: PatchOp[]; packet: { ops: PatchOp[]; socketIds: string[] } | null; revoked: boolean }>();
    const packets: { ops: PatchOp[]; socketIds: string[] }[] = [];
    const logged = new Set<string>();
    const at = new Date().toISOString();
    let someoneLeft = false;
    const writable = d.access.writable;
    const unserved: BoardSocket[] = [];
    for (const s of this.ctx.localSocketsIn(caseRoom(caseId))) {
      const st = this.ctx.st(s);
      const served = st.open.get(caseId);
      if (served === undefined || served >= after.version) continue;
      const viewer = s.data.viewer;
      let built = perUser.get(viewer.userId);
      if (!built) {
        const ops = deltaFor(before, after, touchedNow, viewer, d.dir, cursor);
        // Users whose patches are equal share a packet (compared, not encoded: a few kinds of viewer per change).
        let packet = null;
        if (ops.length > 0) {
          packet = packets.find((p) => jsonEqual(p.ops, ops)) ?? null;
          if (!packet) packets.push((packet = { ops, socketIds: [] }));
        }
        built = { ops, packet, revoked: ops.some((o) => o.op === 'revoked') };
        perUser.set(viewer.userId, built);
      }
      // P-READLOG: while the log cannot be written, a board that would be shown something is
      // disconnected instead. It connects again once the log works, and catches up from its cursor.
      if (!writable && built.ops.length > 0) {
        unserved.push(s);
        continue;
      }
      // A read per user and address (NEN 7513 names both): a second tab at the same address reads
      // the same thing at the same moment, and a duplicate row would add nothing to the log.
      const readKey = `${viewer.userId} ${s.data.address}`;
      if (!logged.has(readKey)) {
        logged.add(readKey);
        logReads(d.access, { viewer, address: s.data.address }, after, built.ops, 'case:patch', at);
      }
      st.open.set(caseId, after.version);
      built.packet?.socketIds.push(s.id);
      if (built.revoked) {
        st.open.delete(caseId);
        void s.leave(caseRoom(caseId));
        someoneLeft = true;
      }
    }
    // Local only: every process delivers to its own sockets from the shared log.
    // (An empty list would mean every socket.)
    for (const { ops, socketIds } of packets) if (socketIds.length > 0) io.local.to(socketIds).emit('case:patch', { caseId, cursor, ops });
    for (const s of unserved) s.disconnect(true);
    if (touched.meta) this.deliverSummaries(before, after);
    // A participant change can change who may be listed. Every process handles every commit, so
    // each refreshes its own sockets; no need to tell the others. Nothing is re-sent otherwise.
    // (The reducers copy on write: untouched participants are the same array.)
    const participantsChanged =
      before !== null && before.participants !== after.participants && JSON.stringify(before.participants) !== JSON.stringify(after.participants);
    // A board revoked here is closed: every process hears it. A re-seating alone changes only who may be listed.
    if (someoneLeft) this.presence.changed(caseId);
    else if (participantsChanged) this.presence.schedule(caseId);
  }

  private deliverSummaries(before: CaseState | null, after: CaseState): void {
    const { d } = this.ctx;
    const cursor = d.cursors.encode(after.id, after.version);
    const userIds = new Set<UserId>();
    for (const p of [...(before?.participants ?? []), ...after.participants]) for (const u of p.userIds) userIds.add(u);
    for (const userId of userIds) {
      const u = d.dir.user(userId);
      if (!u) continue;
      const viewer: Viewer = { userId, orgId: u.orgId, roles: u.roles };
      const summary = summarise(after, viewer, d.dir, cursor);
      const removed = !summary && before !== null && maySeeCase(before, viewer);
      // An unchanged summary is not sent: it would tell of activity the user cannot see.
      const previous = before && summarise(before, viewer, d.dir, cursor);
      if (summary && previous && JSON.stringify(summary) === JSON.stringify(previous)) continue;
      for (const s of this.ctx.localSocketsIn(userRoom(userId))) {
        if (summary) {
          // As for patches: not shown without its record.
          if (!d.access.writable) {
            s.disconnect(true);
            continue;
          }
          d.access.record(accessRecord({ viewer, address: s.data.address }, after, { action: 'read', operation: 'cases:list' }));
          s.emit('cases:upsert', summary);
        } else if (removed) s.emit('cases:removed', after.id);
      }
    }
  }
}

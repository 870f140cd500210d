import { appError } from '../../shared/errors.js';
import type { CaseId } from '../../shared/ids.js';
import type { Ack, OpenResult, PatchOp } from '../../shared/protocol.js';
import { isChairOf, maySeeCase } from '../../shared/rules/access.js';
import { deltaFor, projectCase, projectMeta } from '../../shared/rules/projection.js';
import type { CommandInput } from '../../shared/schemas.js';
import { accessRecord } from '../audit/accessLog.js';
import { caseRoom, type BoardSocket, type RealtimeContext } from './context.js';
import { readRecords } from './delivery.js';
import type { Presence } from './presence.js';

/** Opening and leaving a case's board: what a socket is served from then on, and who sees it there. */
export class Boards {
  constructor(
    private readonly ctx: RealtimeContext,
    private readonly presence: Presence,
  ) {}

  open(socket: BoardSocket, input: CommandInput<'case:open'>): Promise<Ack<OpenResult>> {
    const { d } = this.ctx;
    const { caseId, since } = input;
    const unavailable = { ok: false as const, error: appError('UNAVAILABLE') };
    // P-READLOG: not served while its record cannot be written (the same answer for every case).
    if (!d.access.writable) return Promise.resolve(unavailable);
    return d.cases.withCase(caseId, async () => {
      let c = d.cases.get(caseId);
      const actor = this.ctx.actor(socket);
      // Before saying no, read the shared log past the state held here: with several processes,
      // one that has not yet applied a re-seating (or the case's creation) would refuse a
      // participant. A yes needs no such read: the log's order takes back what a later event denies.
      if (!c || !maySeeCase(c, actor.viewer)) {
        await d.cases.catchUp(caseId);
        c = d.cases.get(caseId);
      }
      if (!c || !maySeeCase(c, actor.viewer)) {
        // P-EXIST: a refusal after the waits answers as a served open would (below).
        if (!d.access.writable) return unavailable;
        d.access.record(accessRecord(actor, c ?? null, { action: 'read', operation: 'case:open', caseId, outcome: 'denied' }));
        return { ok: false as const, error: appError('NOT_FOUND') };
      }
      const cursor = d.cursors.encode(caseId, c.version);
      const v = since === undefined ? null : d.cursors.decode(caseId, since);
      const history = v !== null && v > 0 ? await d.cases.since(caseId, v) : null;
      // Gone while waiting its turn: nothing is delivered, so nothing is joined or logged.
      if (!socket.connected) return { ok: false as const, error: appError('UNAUTHENTICATED') };
      let result: OpenResult;
      let ops: PatchOp[];
      if (history) {
        ops = deltaFor(history.before, c, history.touched, actor.viewer, d.dir, cursor);
        // The case's meta shows its meetings, which change outside its log (a place, a closing)
        // and may have while this client was away: a catch-up always brings it.
        if (!ops.some((o) => o.op === 'meta' || o.op === 'snapshot' || o.op === 'revoked'))
          ops.unshift({ op: 'meta', meta: projectMeta(c, actor.viewer, d.dir) });
        result = { patch: { caseId, cursor, ops } };
      } else {
        const view = projectCase(c, actor.viewer, d.dir, cursor)!;
        result = { view };
        ops = [{ op: 'snapshot', view }];
      }
      // R-FILE: a view or catch-up is served only once its read records are committed; should the
      // write fail, nothing is served (and nothing recorded).
      if (!(await d.access.recordWritten(readRecords(actor, c, ops, 'case:open')))) return unavailable;
      await socket.join(caseRoom(caseId));
      if (!socket.connected) return { ok: false as const, error: appError('UNAUTHENTICATED') };
      this.ctx.st(socket).open.set(caseId, c.version);
      // After the ack, so the opener has the board before it hears who is there.
      setImmediate(() => this.presence.changed(caseId));
      return { ok: true as const, data: result };
    });
  }

  /**
   * R-FILE: a print leaves the board, so it is an access-log record of its own. The plan is the
   * house's file and printed by the case's chair; a partner prints only its own take-home list,
   * which the client builds from what it was served.
   */
  print(socket: BoardSocket, input: CommandInput<'case:print'>): Promise<Ack<null>> {
    const { d } = this.ctx;
    const { caseId, what } = input;
    // P-READLOG: no print without its record.
    if (!d.access.writable) return Promise.resolve({ ok: false as const, error: appError('UNAVAILABLE') });
    return d.cases.withCase(caseId, (): Promise<Ack<null>> => {
      const c = d.cases.get(caseId);
      const actor = this.ctx.actor(socket);
      const operation = `case:print ${what}`;
      if (!c || !maySeeCase(c, actor.viewer)) {
        d.access.record(accessRecord(actor, c ?? null, { action: 'export', operation, caseId, outcome: 'denied' }));
        return Promise.resolve({ ok: false as const, error: appError('NOT_FOUND') });
      }
      if (what === 'plan' && !isChairOf(c, actor.viewer)) {
        d.access.record(accessRecord(actor, c, { action: 'export', operation, outcome: 'denied' }));
        return Promise.resolve({
          ok: false as const,
          error: appError('FORBIDDEN', 'Het plan van aanpak drukt de voorzitter af voor het dossier; u drukt uw meeneemlijst af.'),
        });
      }
      d.access.record(accessRecord(actor, c, { action: 'export', operation }));
      return Promise.resolve({ ok: true as const, data: null });
    });
  }

  leave(socket: BoardSocket, caseId: CaseId): void {
    this.ctx.st(socket).open.delete(caseId);
    void socket.leave(caseRoom(caseId));
    this.presence.changed(caseId);
  }

  /** Every case the socket had open (it disconnected). */
  leaveAll(socket: BoardSocket): void {
    for (const caseId of this.ctx.st(socket).open.keys()) this.leave(socket, caseId);
  }
}

import type { CaseState, Viewer } from '../../shared/domain.js';
import { appError, type AppError } from '../../shared/errors.js';
import { newId, type CaseId, type CommandId, type ConsentId, type ItemId, type OrgId } from '../../shared/ids.js';
import type { DocTarget } from '../../shared/rules/access.js';
import { authorizeCaseCommand, authorizeCreate, maySeeNamed, namedIds } from '../../shared/rules/commands.js';
import type { Touched } from '../../shared/rules/projection.js';
import type { CommandInput, CommandName } from '../../shared/schemas.js';
import type { Ack } from '../../shared/protocol.js';
import { accessRecord, type AccessLog, type Actor } from '../audit/accessLog.js';
import type { Directory } from '../directory/directory.js';
import { SingleProcess, type Cluster } from '../cluster/cluster.js';
import type { Logger } from '../log.js';
import {
  CommandDoneError,
  OutcomeUnknownError,
  VersionConflictError,
  type AccessRecord,
  type CommandRecord,
  type NewEvent,
  type Store,
  type StoredEvent,
} from '../store/types.js';
import { decide, decideCreate, type CaseCommandName } from './decide.js';
import { applyEvent, parseStoredEvent, replay, type CaseEvent } from './events.js';
import { CommandOnce, commandRecord, recordedAck, type CommandTag } from './once.js';

/** One committed change of one case, as the delivery step needs it. */
export interface Committed {
  caseId: CaseId;
  before: CaseState | null;
  after: CaseState;
  touched: Touched;
  /** Committed by this process (not caught up from another's). */
  local: boolean;
  /** What the command came from when not a client's own command: the collaborative document whose editing burst it records. */
  source?: string;
  /** When this process announced it (performance.now()): stored here, or read from another's. */
  announcedAt: number;
  /** How long the store took to commit it, in ms; for commits of this process. */
  storeMs?: number;
}

const ACTION_OF: Record<CaseCommandName | 'case:create', AccessRecord['action']> = {
  'case:create': 'create',
  'case:setParticipant': 'update',
  'case:removeParticipant': 'delete',
  'case:setPhase': 'update',
  'case:setInforming': 'update',
  'item:add': 'create',
  'item:edit': 'update',
  'item:setVisibility': 'update',
  'item:withdraw': 'delete',
  'goal:propose': 'update',
  'goal:cancel': 'update',
  'consent:request': 'create',
  'consent:answer': 'update',
  'decision:add': 'create',
  'intervention:add': 'create',
  'intervention:remove': 'delete',
  'meeting:open': 'update',
  'meeting:close': 'update',
};

// Optimistic concurrency between processes: on a lost race, catch up and judge again, with a
// growing random pause so two busy processes do not keep colliding.
const MAX_CONFLICT_RETRIES = 30;
const conflictPause = (attempt: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 * (attempt + 1))));

/** Which parts of a case a run of events touched. */
export function touchedBy(events: CaseEvent[]): Touched {
  const items = new Set<ItemId>();
  let meta = false;
  for (const e of events) {
    if ('itemId' in e.payload) items.add(e.payload.itemId);
    else meta = true;
  }
  return { meta, items };
}

/**
 * Holds every case's state, runs commands one at a time per case (validate → authorise → decide →
 * commit), and announces each commit to the delivery step after the caller had its answer.
 */
export class CaseService {
  private readonly cases = new Map<CaseId, CaseState>();
  private readonly queues = new Map<CaseId, Promise<unknown>>();
  private readonly listeners = new Set<(c: Committed) => void>();
  /** Which case (and item) each collaborative document belongs to. */
  private readonly docs = new Map<string, { caseId: CaseId; target: DocTarget }>();
  private readonly once: CommandOnce;

  constructor(
    private readonly store: Store,
    private readonly dir: Directory,
    private readonly access: AccessLog,
    private readonly log: Logger,
    private readonly cluster: Cluster = new SingleProcess(),
  ) {
    this.once = new CommandOnce(store);
    // Another process committed: apply its events (or read the shared log), in this case's queue.
    cluster.onCase((caseId, version, events) => {
      if ((this.cases.get(caseId)?.version ?? 0) >= version) return;
      void this.withCase(caseId, () => this.catchUp(caseId, events)).catch((err: unknown) => this.log.error({ err, caseId }, 'catch-up failed'));
    });
    cluster.onResync(() => void this.catchUpAll());
  }

  async load(): Promise<void> {
    for (const id of await this.store.caseIds()) {
      const s = replay(await this.store.readEvents(id));
      if (s) this.setState(null, s, { meta: true, items: s.items.keys() });
    }
    this.log.info({ cases: this.cases.size }, 'cases loaded');
  }

  private setState(before: CaseState | null, after: CaseState, touched: Touched): void {
    this.cases.set(after.id, after);
    if (!before) this.docs.set(after.minutesDocId, { caseId: after.id, target: { kind: 'minutes' } });
    for (const id of touched.items) {
      const item = after.items.get(id);
      if (item) this.docs.set(item.textDocId, { caseId: after.id, target: { kind: 'item', itemId: id } });
    }
  }

  /** The case and target of a collaborative document, by its name. */
  doc(docId: string): { caseId: CaseId; target: DocTarget } | undefined {
    return this.docs.get(docId);
  }

  get(id: CaseId): CaseState | undefined {
    return this.cases.get(id);
  }

  all(): IterableIterator<CaseState> {
    return this.cases.values();
  }

  onCommitted(fn: (c: Committed) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * The case as it stood at `version` and what changed since, up to the state held now. Run it
   * inside withCase so no commit slips in between.
   */
  async since(id: CaseId, version: number): Promise<{ before: CaseState | null; touched: Touched } | null> {
    const now = this.cases.get(id);
    if (!now || version > now.version) return null;
    const rows = await this.store.readEvents(id, 0, now.version);
    const before = replay(rows.slice(0, version));
    return { before, touched: touchedBy(rows.slice(version).map(parseStoredEvent)) };
  }

  /**
   * A client's command, by the id its client chose (P-ONCE): run once per user and id; a retry
   * of one that committed gets the answer it had, and nothing runs again.
   */
  command(commandId: CommandId, name: CaseCommandName | 'case:create', input: unknown, actor: Actor): Promise<Ack<unknown>> {
    const tag: CommandTag = { userId: actor.viewer.userId, commandId, name };
    return this.once.run(
      tag,
      () => (name === 'case:create' ? this.create(input as CommandInput<'case:create'>, actor, tag) : this.run(name, input as CommandInput<typeof name>, actor, undefined, tag)),
      // The commit may be one this process never applied (its answer was lost): read it in, so
      // the boards show what the answer says was done.
      (answer) => this.catchUpSoon(name === 'case:create' ? answer : (input as { caseId: CaseId }).caseId),
    );
  }

  /** Reads in the case's log past what is held here, after what is queued: of a case id, or of a creation's answer. */
  private catchUpSoon(of: CaseId | Ack<unknown>): void {
    const caseId = typeof of === 'string' ? of : of.ok ? (of.data as { caseId: CaseId }).caseId : null;
    if (caseId) this.withCase(caseId, () => this.catchUp(caseId)).catch((err: unknown) => this.log.error({ err, caseId }, 'catch-up failed'));
  }

  async create(input: CommandInput<'case:create'>, actor: Actor, tag?: CommandTag): Promise<Ack<{ caseId: CaseId }>> {
    const err = authorizeCreate(input, actor.viewer, this.dir);
    if (err) return this.deny(actor, null, 'case:create', null, err);
    const caseId = newId<CaseId>('cs');
    return this.withCase(caseId, async () => {
      const events = decideCreate(input, caseId);
      const data = { caseId };
      try {
        await this.commit(null, caseId, events, actor, 'case:create', null, undefined, tag && commandRecord(tag, data, Date.now()));
      } catch (e) {
        return this.notCommitted(e, 'case:create', caseId);
      }
      return { ok: true as const, data };
    });
  }

  async run<N extends CaseCommandName>(
    name: N,
    input: CommandInput<N>,
    actor: Actor,
    source?: string,
    tag?: CommandTag,
  ): Promise<Ack<{ itemId?: ItemId; requestId?: ConsentId } | null>> {
    const caseId = (input as { caseId: CaseId }).caseId;
    return this.withCase(caseId, async () => {
      for (let attempt = 0; ; attempt++) {
        const c = this.cases.get(caseId);
        const itemId = (input as { itemId?: ItemId }).itemId ?? null;
        if (!c) return this.deny(actor, null, name, itemId, appError('NOT_FOUND'), caseId);
        const err = authorizeCaseCommand(name, input, c, actor.viewer, this.dir);
        if (err) return this.deny(actor, c, name, itemId, err);
        const decided = decide(name, input, c, actor.viewer, new Date().toISOString());
        const data = decided.itemId ? { itemId: decided.itemId } : decided.requestId ? { requestId: decided.requestId } : null;
        try {
          await this.commit(c, caseId, decided.events, actor, name, decided.itemId ?? itemId, source, tag && commandRecord(tag, data, Date.now()));
          return { ok: true as const, data };
        } catch (e) {
          // Another process wrote first: take its events, then judge the command again on the new state.
          if (!(e instanceof VersionConflictError) || attempt >= MAX_CONFLICT_RETRIES) return this.notCommitted(e, name, caseId);
          await conflictPause(attempt);
          await this.catchUp(caseId);
        }
      }
    });
  }

  /**
   * A commit that failed: a command committed before (by a retry elsewhere) is answered as it was
   * then; one the store cannot say of whether it committed is answered OUTCOME_UNKNOWN, never
   * INTERNAL (P-ONCE). Any other failure committed nothing and is thrown on.
   */
  private notCommitted<T>(e: unknown, name: CaseCommandName | 'case:create', caseId: CaseId): Ack<T> {
    // Recorded by this command's own name (recordedAck checks it), so it has that command's shape.
    if (e instanceof CommandDoneError) {
      // Committed by another process: its events reach this one by its notice, or by this read.
      const answer = recordedAck(e.answer, name) as Ack<T>;
      this.catchUpSoon(name === 'case:create' ? answer : caseId);
      return answer;
    }
    if (e instanceof OutcomeUnknownError) {
      this.log.warn({ err: e.message, caseId, command: name }, 'command outcome unknown');
      return { ok: false, error: appError('OUTCOME_UNKNOWN') };
    }
    throw e;
  }

  /**
   * P-EXIST: the answer to input that failed its schema. Input that names a case, or something in
   * one, which the user may not see is refused as for an unknown id (and recorded as a denied
   * attempt); only then is it told that its input is wrong. In the case's queue, so it is judged
   * after the commands sent before it.
   */
  refuseMalformed(name: CommandName, input: unknown, actor: Actor): Promise<Ack<never>> {
    const badRequest: Ack<never> = { ok: false, error: appError('BAD_REQUEST') };
    const named = namedIds(name, input);
    const caseId = named.caseId;
    if (caseId === null) return Promise.resolve(badRequest);
    return this.withCase(caseId, async () => {
      const c = this.cases.get(caseId);
      if (c && maySeeNamed(c, named, actor.viewer)) return badRequest;
      return this.deny(actor, c ?? null, name, named.itemIds[0] ?? null, appError('NOT_FOUND'), caseId);
    });
  }

  /**
   * R-PROTOCOL: an organisation whose signature is revoked leaves every case it takes part in,
   * recorded in each case's log as the admin's act. Returns how many cases it left.
   */
  async removeOrganisationEverywhere(orgId: OrgId, actor: Actor): Promise<number> {
    let n = 0;
    for (const id of [...this.cases.keys()]) {
      await this.withCase(id, async () => {
        for (let attempt = 0; ; attempt++) {
          const c = this.cases.get(id)!;
          if (!c.participants.some((p) => p.orgId === orgId)) return;
          try {
            await this.commit(c, id, [{ type: 'case.participantRemoved', payload: { orgId } }], actor, 'case:removeParticipant', null);
            n++;
            return;
          } catch (e) {
            if (!(e instanceof VersionConflictError) || attempt >= MAX_CONFLICT_RETRIES) throw e;
            await conflictPause(attempt);
            await this.catchUp(id);
          }
        }
      });
    }
    return n;
  }

  /** Every case, including ones created elsewhere, brought up to the shared log (after a break). */
  async catchUpAll(): Promise<void> {
    try {
      const ids = await this.store.caseIds();
      await Promise.all(ids.map((id) => this.withCase(id, () => this.catchUp(id)).catch((err: unknown) => this.log.error({ err, caseId: id }, 'catch-up failed'))));
    } catch (err) {
      this.log.error({ err }, 'catch-up of all cases failed');
    }
  }

  /**
   * Applies events that another process appended to the shared log: those its notice carried when
   * they follow on from the state held here, otherwise whatever the log has past that state (a
   * notice that was missed, or overtaken by one of another process).
   */
  async catchUp(caseId: CaseId, notified: StoredEvent[] = []): Promise<void> {
    const before = this.cases.get(caseId) ?? null;
    const from = before?.version ?? 0;
    const fresh = notified.filter((r) => r.caseId === caseId && r.version > from);
    const follows = fresh.length > 0 && fresh.every((r, i) => r.version === from + 1 + i);
    const rows = follows ? fresh : await this.store.readEvents(caseId, from);
    if (rows.length === 0) return;
    let s = before;
    const events: CaseEvent[] = [];
    for (const row of rows) {
      const e = parseStoredEvent(row);
      events.push(e);
      s = applyEvent(s, e, row, row.version);
    }
    const touched = touchedBy(events);
    this.setState(before, s!, touched);
    this.announce({ caseId, before, after: s!, touched, local: false });
  }

  private async commit(
    before: CaseState | null,
    caseId: CaseId,
    events: CaseEvent[],
    actor: Actor,
    operation: CaseCommandName | 'case:create',
    itemId: ItemId | null,
    source?: string,
    command?: CommandRecord,
  ): Promise<CaseState> {
    const at = new Date().toISOString();
    const meta = { at, actorUserId: actor.viewer.userId, actorOrgId: actor.viewer.orgId };
    let after = before;
    const rows: NewEvent[] = [];
    for (const e of events) {
      after = applyEvent(after, e, meta, (after?.version ?? 0) + 1);
      rows.push({ type: e.type, payload: e.payload, ...meta });
    }
    const record = accessRecord(actor, after, { action: ACTION_OF[operation], operation, caseId, itemId }, at);
    const storing = performance.now();
    await this.store.appendEvents(caseId, before?.version ?? 0, rows, [record], command);
    const storeMs = performance.now() - storing;
    const touched = touchedBy(events);
    this.setState(before, after!, touched);
    this.cluster.caseCommitted(caseId, after!.version, rows);
    this.announce({ caseId, before, after: after!, touched, local: true, storeMs, ...(source === undefined ? {} : { source }) });
    return after!;
  }

  /** Delivery waits one turn so the command's own ack goes out first. Commits stay in log order. */
  private announce(announced: Omit<Committed, 'announcedAt'>): void {
    const c: Committed = { ...announced, announcedAt: performance.now() };
    setImmediate(() => {
      for (const fn of this.listeners) {
        try {
          fn(c);
        } catch (err) {
          this.log.error({ err, caseId: c.caseId }, 'delivery failed');
        }
      }
    });
  }

  private deny(actor: Actor, c: CaseState | null, operation: string, itemId: ItemId | null, error: AppError, caseId?: CaseId): Ack<never> {
    const action = operation === 'case:create' ? 'create' : (ACTION_OF[operation as CaseCommandName] ?? 'read');
    this.access.record(accessRecord(actor, c, { action, operation, caseId: caseId ?? c?.id ?? null, itemId, outcome: 'denied' }));
    return { ok: false, error };
  }

  /** Runs work for one case after everything queued for it before: commands, opens, catch-ups. */
  withCase<T>(caseId: CaseId, work: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(caseId) ?? Promise.resolve();
    const next = prev.then(work, work);
    const tail = next.catch(() => undefined);
    this.queues.set(caseId, tail);
    void tail.then(() => {
      if (this.queues.get(caseId) === tail) this.queues.delete(caseId);
    });
    return next;
  }
}

export type { Viewer };

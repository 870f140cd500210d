import type { CaseState, Viewer } from '../../shared/domain.js';
import { appError, type AppError } from '../../shared/errors.js';
import { newId, type CaseId, type CommandId, type ItemId, type MeetingId, type OrgId, type UserId } from '../../shared/ids.js';
import { docAccess, type DocTarget } from '../../shared/rules/access.js';
import { maySeeNamed, namedIds } from '../../shared/rules/commands.js';
import type { Touched } from '../../shared/rules/projection.js';
import type { CommandCall, CommandInput, CommandName, ReadCommandName } from '../../shared/schemas.js';
import type { Ack, CommandResults } from '../../shared/protocol.js';
import { accessRecord, type AccessLog, type Actor } from '../audit/accessLog.js';
import type { Directory } from '../directory/directory.js';
import { SingleProcess, type CaseNotices } from '../cluster/cluster.js';
import type { Logger } from '../log.js';
import {
  CommandDoneError,
  OutcomeUnknownError,
  VersionConflictError,
  type AccessRecord,
  type CommandRecord,
  type EventLog,
  type NewEvent,
  type StoredEvent,
} from '../store/types.js';
import { authorizeCaseCommand, caseCommand, COMMANDS, type CaseCommandName } from './commands/index.js';
import { applyEvent, parseStoredEvent, replay, type CaseEvent, type EventMeta } from './events.js';
import { CommandOnce, commandRecord, recordedAck, type CommandTag, type RecordedAnswer } from './once.js';

/** A co-editing entry of the case log (docs/DESIGN-ordering.md), as applied at its position. */
export interface DocEntry {
  version: number;
  docId: string;
  /** The Yjs update, base64 as stored: decoded only where the document is loaded. */
  update: string;
  writer: { userId: UserId; orgId: OrgId };
  /** Whether its writer had the right to write it on the case just before it: otherwise every process drops it. */
  accepted: boolean;
}

/**
 * Writes board texts into their documents: the Yjs update, computed against the document as it
 * stands at the case's current position, that makes its text `text` (null: nothing to change).
 * Called inside the case's queue.
 */
export type DocTextWriter = (c: CaseState, docId: string, edit: { from: string; to: string }) => Promise<Uint8Array | null>;

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
  /** Its co-editing entries, in order. */
  docs: DocEntry[];
  /** When this process announced it (performance.now()): stored here, or read from another's. */
  announcedAt: number;
  /** How long the store took to commit it, in ms; for commits of this process. */
  storeMs?: number;
}

// Optimistic concurrency between processes: on a lost race, catch up and judge again, with a
// growing random pause so two busy processes do not keep colliding.
const MAX_CONFLICT_RETRIES = 30;
const conflictPause = (attempt: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 * (attempt + 1))));

/** Which parts of a case a run of events touched. */
export function touchedBy(events: CaseEvent[]): Touched {
  const items = new Set<ItemId>();
  let meta = false;
  for (const e of events) {
    if (e.type === 'doc.update') continue;
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
  private readonly appliedListeners = new Set<(c: Committed) => void>();
  /** Doc entries whose writer had no right at their position (`caseId version`): applied nowhere. */
  private readonly dropped = new Set<string>();
  /** Cases purged while this process ran (R-RETAIN). */
  private readonly purged = new Set<CaseId>();
  private docText: DocTextWriter | null = null;
  /** Item documents with text typed after their board copy was last written (an editing burst not yet recorded). */
  private readonly boardBehind = new Map<string, { caseId: CaseId; itemId: ItemId; writer: { userId: UserId; orgId: OrgId } }>();
  /** The version of the last board text event of each item document. */
  private readonly boardTextAt = new Map<string, number>();
  /** Which case (and item) each collaborative document belongs to. */
  private readonly docs = new Map<string, { caseId: CaseId; target: DocTarget }>();
  private readonly once: CommandOnce;

  constructor(
    private readonly store: EventLog,
    private readonly dir: Directory,
    private readonly access: AccessLog,
    private readonly log: Logger,
    private readonly cluster: CaseNotices = new SingleProcess(),
  ) {
    this.once = new CommandOnce(store);
    // Another process committed: apply its events (or read the shared log), in this case's queue.
    cluster.onCase((caseId, version, events) => {
      if ((this.cases.get(caseId)?.version ?? 0) >= version) return;
      void this.withCase(caseId, () => this.catchUp(caseId, events)).catch((err: unknown) => this.log.error({ err, caseId }, 'catch-up failed'));
    });
    cluster.onResync(() => void this.catchUpAll());
    // Purged on another process (R-RETAIN): gone from the store, so forgotten here too.
    cluster.onPurged((caseId) => {
      void this.withCase(caseId, () => this.forgetIfPurged(caseId)).catch((err: unknown) => this.log.error({ err, caseId }, 'forgetting a purged case failed'));
    });
  }

  /**
   * R-RETAIN: the case was purged from the store. Every viewer is told it is gone, by the one read
   * rule (as if nobody took part any more: board and documents revoke it), and nothing of it stays
   * in memory. Run inside its queue.
   */
  forget(caseId: CaseId): void {
    const before = this.cases.get(caseId);
    if (!before) return;
    // Before anyone hears of it: a document let go now must not be stored again (collab/registry.ts).
    this.purged.add(caseId);
    // One position past its end, which nothing will ever fill: every board that saw it hears of it.
    const gone = { ...before, participants: [], version: before.version + 1 };
    this.applied({ caseId, before, after: gone, touched: { meta: true, items: [] }, local: true, docs: [] });
    this.cases.delete(caseId);
    for (const [docId, d] of this.docs) if (d.caseId === caseId) this.docs.delete(docId);
  }

  /** R-RETAIN: whether the case was purged (nothing of it may be written again). */
  isPurged(caseId: CaseId): boolean {
    return this.purged.has(caseId);
  }

  /** Forgets a case held here whose log the store no longer has (another process purged it). */
  private async forgetIfPurged(caseId: CaseId): Promise<void> {
    if (!this.cases.has(caseId)) return;
    if ((await this.store.readEvents(caseId, 0, 1)).length === 0) this.forget(caseId);
  }

  async load(): Promise<void> {
    for (const id of await this.store.caseIds()) {
      const rows = await this.store.readEvents(id);
      if (rows.length === 0) continue;
      const { after } = this.applyRows(null, rows);
      this.setState(after);
    }
    this.log.info({ cases: this.cases.size }, 'cases loaded');
  }

  private setState(after: CaseState): void {
    this.cases.set(after.id, after);
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

  /** After each commit, in log order, one turn later (the command's answer goes out first). */
  onCommitted(fn: (c: Committed) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * In the same step as the case state moves on, before anything else of the case runs: where the
   * documents follow the log, so a document is never behind the case it is judged on.
   */
  onApplied(fn: (c: Committed) => void): void {
    this.appliedListeners.add(fn);
  }

  /** Where board texts are written into their documents (collab/). Without one, texts stay on the board only. */
  setDocTextWriter(w: DocTextWriter): void {
    this.docText = w;
  }

  /** Whether every process drops this doc entry (its writer had no right at its position). */
  isDropped(caseId: CaseId, version: number): boolean {
    return this.dropped.has(`${caseId} ${version}`);
  }

  /**
   * Appends co-editing entries built on the case as it stands, inside its queue (the caller holds
   * it); a lost race is caught up and built again. Null from `build`: nothing to append.
   */
  async appendEntries(caseId: CaseId, build: (c: CaseState) => { event: CaseEvent; meta: EventMeta }[] | null): Promise<CaseState | null> {
    for (let attempt = 0; ; attempt++) {
      const c = this.cases.get(caseId);
      if (!c) return null;
      const entries = build(c);
      if (!entries || entries.length === 0) return null;
      try {
        return await this.append(c, caseId, entries, []);
      } catch (e) {
        if (!(e instanceof VersionConflictError) || attempt >= MAX_CONFLICT_RETRIES) throw e;
        // Text typed meanwhile on another process: built again at once on what the store answered
        // with. A pause only after a second loss, so a keystroke costs one more append, not a wait.
        if (attempt > 0) await conflictPause(attempt);
        await this.readOn(caseId, e.missed);
      }
    }
  }

  /**
   * The case as it stood at `version` and what changed since, up to the state held now. Run it
   * inside withCase so no commit slips in between.
   */
  async since(id: CaseId, version: number): Promise<{ before: CaseState | null; touched: Touched } | null> {
    const now = this.cases.get(id);
    if (!now || version > now.version) return null;
    // Nothing since (a board that reconnects with its case unchanged): no log to read.
    if (version === now.version) return { before: now, touched: { meta: false, items: [] } };
    const rows = await this.store.readEvents(id, 0, now.version);
    const before = replay(rows.slice(0, version));
    return { before, touched: touchedBy(rows.slice(version).map(parseStoredEvent)) };
  }

  /**
   * A client's command, by the id its client chose (P-ONCE): run once per user and id; a retry
   * of one that committed gets the answer it had, and nothing runs again.
   */
  command(commandId: CommandId, call: CommandCall<Exclude<CommandName, ReadCommandName>>, actor: Actor): Promise<Ack<unknown>> {
    const tag: CommandTag = { userId: actor.viewer.userId, commandId, name: call.name };
    return this.once.run(
      tag,
      () => (call.name === 'case:create' ? this.create(call.input, actor, tag) : this.run(call.name, call.input, actor, undefined, tag)),
      // The commit may be one this process never applied (its answer was lost): read it in, so
      // the boards show what the answer says was done.
      (answer) => this.catchUpSoon(call.name === 'case:create' ? answer : call.input.caseId),
    );
  }

  /** Reads in the case's log past what is held here, after what is queued: of a case id, or of a creation's answer. */
  private catchUpSoon(of: CaseId | Ack<RecordedAnswer>): void {
    const caseId = typeof of === 'string' ? of : of.ok && of.data !== null && 'caseId' in of.data ? of.data.caseId : null;
    if (caseId) this.withCase(caseId, () => this.catchUp(caseId)).catch((err: unknown) => this.log.error({ err, caseId }, 'catch-up failed'));
  }

  async create(input: CommandInput<'case:create'>, actor: Actor, tag?: CommandTag): Promise<Ack<{ caseId: CaseId }>> {
    const create = COMMANDS['case:create'];
    const err = create.authorize(input, actor.viewer, this.dir);
    if (err) return this.deny(actor, null, 'case:create', null, err);
    const caseId = newId<CaseId>('cs');
    return this.withCase(caseId, async () => {
      const events = create.decide(input, caseId);
      const data = { caseId };
      try {
        await this.commit(null, caseId, events, actor, 'case:create', null, undefined, tag && commandRecord(tag, data, Date.now()));
      } catch (e) {
        return this.notCommitted(e, 'case:create', caseId);
      }
      return { ok: true as const, data };
    });
  }

  async run<N extends CaseCommandName>(name: N, input: CommandInput<N>, actor: Actor, source?: string, tag?: CommandTag): Promise<Ack<CommandResults[N]>> {
    const ran = await this.withCase(input.caseId, () => this.runHere(name, input.caseId, async () => input, actor, source, tag));
    // An input given up front is never withdrawn.
    return ran!;
  }

  /**
   * A command whose input is made inside the case's queue, on the case as it stands there (and
   * again after a lost race): an editing burst's board copy reads its document there, so nothing
   * committed before it is left out. Null from `inputOf`: nothing to do (null is answered).
   */
  runFrom<N extends CaseCommandName>(
    name: N,
    caseId: CaseId,
    inputOf: (c: CaseState | undefined) => Promise<CommandInput<N> | null>,
    actor: Actor,
    source?: string,
  ): Promise<Ack<CommandResults[N]> | null> {
    return this.withCase(caseId, () => this.runHere(name, caseId, inputOf, actor, source));
  }

  /** Inside the case's queue: authorise, decide and commit, judged again on the new state after a lost race. */
  private async runHere<N extends CaseCommandName>(
    name: N,
    caseId: CaseId,
    inputOf: (c: CaseState | undefined) => Promise<CommandInput<N> | null>,
    actor: Actor,
    source?: string,
    tag?: CommandTag,
  ): Promise<Ack<CommandResults[N]> | null> {
    const command = caseCommand(name);
    for (let attempt = 0; ; attempt++) {
      const c = this.cases.get(caseId);
      const input = await inputOf(c);
      if (!input) return null;
      // The item the access-log record names.
      const itemId = namedIds(command.names, input).itemId;
      if (!c) return this.deny(actor, null, name, itemId, appError('NOT_FOUND'), caseId);
      const err = authorizeCaseCommand(name, input, c, actor.viewer, this.dir);
      if (err) return this.deny(actor, c, name, itemId, err);
      const decided = command.decide(input, c, actor.viewer, new Date().toISOString(), this.dir);
      const { data } = decided;
      try {
        await this.commit(c, caseId, decided.events, actor, name, decided.itemId ?? itemId, source, tag && commandRecord(tag, data, Date.now()));
        return { ok: true as const, data };
      } catch (e) {
        // Another process wrote first: take its events, then judge the command again on the new state.
        if (!(e instanceof VersionConflictError) || attempt >= MAX_CONFLICT_RETRIES) return this.notCommitted(e, name, caseId);
        await conflictPause(attempt);
        await this.readOn(caseId, e.missed);
      }
    }
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
      const answer = recordedAck(e.answer, name);
      this.catchUpSoon(name === 'case:create' ? answer : caseId);
      return answer as Ack<T>;
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
    const named = namedIds(COMMANDS[name].names, input);
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
  removeOrganisationEverywhere(orgId: OrgId, actor: Actor): Promise<number> {
    return this.commitWherever(
      [...this.cases.keys()],
      (c) => c.participants.some((p) => p.orgId === orgId),
      [{ type: 'case.participantRemoved', payload: { orgId } }],
      actor,
      'case:removeParticipant',
    );
  }

  /**
   * R-TAKEHOME: a closed meeting discusses nothing more: every case still under discussion in it
   * is ended. Returns how many were.
   */
  endDiscussionsIn(meetingId: MeetingId, actor: Actor): Promise<number> {
    const running = (c: CaseState): boolean => c.agenda.some((a) => a.meetingId === meetingId && a.state === 'running');
    // Only cases running in it now: a slot of a closed or past meeting is not begun any more.
    return this.commitWherever(
      [...this.cases.values()].filter(running).map((c) => c.id),
      running,
      [{ type: 'case.discussionEnded', payload: { meetingId } }],
      actor,
      'agenda:end',
    );
  }

  /**
   * The same events, as the actor's act, in each of these cases they apply to: each in its own
   * queue, judged at its position (after what is queued before it; another process may have got
   * there first) and judged again after a lost race. Returns in how many they were committed.
   */
  private async commitWherever(
    ids: CaseId[],
    applies: (c: CaseState) => boolean,
    events: CaseEvent[],
    actor: Actor,
    operation: CaseCommandName,
  ): Promise<number> {
    let n = 0;
    for (const id of ids) {
      await this.withCase(id, async () => {
        for (let attempt = 0; ; attempt++) {
          const c = this.cases.get(id)!;
          if (!applies(c)) return;
          try {
            await this.commit(c, id, events, actor, operation, null);
            n++;
            return;
          } catch (e) {
            if (!(e instanceof VersionConflictError) || attempt >= MAX_CONFLICT_RETRIES) throw e;
            await conflictPause(attempt);
            await this.readOn(id, e.missed);
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
      // A purge notice that did not arrive: a case the store no longer lists is looked at.
      const listed = new Set(ids);
      for (const id of [...this.cases.keys()]) {
        if (!listed.has(id)) await this.withCase(id, () => this.forgetIfPurged(id));
      }
      await Promise.all(
        ids.map((id) => this.withCase(id, () => this.catchUp(id)).catch((err: unknown) => this.log.error({ err, caseId: id }, 'catch-up failed'))),
      );
    } catch (err) {
      this.log.error({ err }, 'catch-up of all cases failed');
    }
  }

  /**
   * Applies events that another process appended to the shared log: those its notice carried when
   * they follow on from the state held here, otherwise whatever the log has past that state (a
   * notice that was missed, or overtaken by one of another process).
   */
  catchUp(caseId: CaseId, notified: StoredEvent[] = []): Promise<void> {
    return this.readOn(caseId, notified);
  }

  /** As catchUp, with the entries the store answered a lost race with (read in the same step), when it did. */
  private async readOn(caseId: CaseId, known: StoredEvent[] = []): Promise<void> {
    const before = this.cases.get(caseId) ?? null;
    const from = before?.version ?? 0;
    const fresh = known.filter((r) => r.caseId === caseId && r.version > from);
    const follows = fresh.length > 0 && fresh.every((r, i) => r.version === from + 1 + i);
    const rows = follows ? fresh : await this.store.readEvents(caseId, from);
    if (rows.length === 0) return;
    const { after, events, docs } = this.applyRows(before, rows);
    const touched = touchedBy(events);
    this.setState(after);
    this.applied({ caseId, before, after, touched, local: false, docs });
  }

  /**
   * Applies stored rows in order, judging each doc entry on the case just before it. `parsed`: the
   * rows' events as this process built them (its own commit), so they are not parsed again.
   */
  private applyRows(before: CaseState | null, rows: StoredEvent[], parsed?: readonly CaseEvent[]): { after: CaseState; events: CaseEvent[]; docs: DocEntry[] } {
    let s = before;
    const events: CaseEvent[] = [];
    const docs: DocEntry[] = [];
    for (const [i, row] of rows.entries()) {
      const e = parsed?.[i] ?? parseStoredEvent(row);
      events.push(e);
      if (e.type === 'doc.update') {
        const entry = this.judgeDocEntry(s, e.payload, row, row.version);
        docs.push(entry);
        this.trackBoardCopy(s, entry);
      }
      s = applyEvent(s, e, row, row.version);
      // Which document is whose never changes: known from the event that makes it.
      if (e.type === 'case.agendaScheduled') {
        const { meetingId, minutesDocId } = e.payload;
        this.docs.set(minutesDocId, { caseId: s.id, target: { kind: 'minutes', meetingId } });
      } else if (e.type === 'item.added') this.docs.set(e.payload.textDocId, { caseId: s.id, target: { kind: 'item', itemId: e.payload.itemId } });
      if ((e.type === 'item.added' || e.type === 'item.edited') && e.payload.text !== undefined) {
        const docId = s.items.get(e.payload.itemId)?.textDocId;
        if (docId) {
          this.boardTextAt.set(docId, row.version);
          this.boardBehind.delete(docId);
        }
      }
    }
    return { after: s!, events, docs };
  }

  /** Text typed into an item's document, not written there by its board text (the entry right after it). */
  private trackBoardCopy(s: CaseState | null, entry: DocEntry): void {
    if (!s || !entry.accepted || this.boardTextAt.get(entry.docId) === entry.version - 1) return;
    const target = this.docTargetIn(s, entry.docId);
    if (target?.kind === 'item') this.boardBehind.set(entry.docId, { caseId: s.id, itemId: target.itemId, writer: entry.writer });
  }

  /** Which document of the case a doc id names, on the case as it stands (without going through its items). */
  private docTargetIn(c: CaseState, docId: string): DocTarget | null {
    const known = this.docs.get(docId);
    if (!known || known.caseId !== c.id) return null;
    if (known.target.kind === 'minutes') {
      const { meetingId } = known.target;
      return c.agenda.find((a) => a.meetingId === meetingId)?.minutesDocId === docId ? known.target : null;
    }
    return c.items.get(known.target.itemId)?.textDocId === docId ? known.target : null;
  }

  /** Item documents whose board copy has not caught up with their text (at start: bursts a crash cut off). */
  boardCopiesBehind(): { caseId: CaseId; itemId: ItemId; docId: string; writer: { userId: UserId; orgId: OrgId } }[] {
    return [...this.boardBehind].map(([docId, b]) => ({ docId, ...b }));
  }

  /** R-OWN, R-NEED: a doc entry stands only if its writer could write the document just before it. */
  private judgeDocEntry(s: CaseState | null, p: { docId: string; update: string }, meta: EventMeta, version: number): DocEntry {
    const writer = { userId: meta.actorUserId, orgId: meta.actorOrgId };
    const target = s && this.docTargetIn(s, p.docId);
    const accepted = !!s && !!target && docAccess(s, target, { ...writer, roles: [] }) === 'write';
    if (!accepted && s) this.dropped.add(`${s.id} ${version}`);
    return { version, docId: p.docId, update: p.update, writer, accepted };
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
    const meta: EventMeta = { at, actorUserId: actor.viewer.userId, actorOrgId: actor.viewer.orgId };
    const { all, after } = await this.withDocTexts(before, events, meta, source);
    const entries = all.map((event) => ({ event, meta }));
    const record = accessRecord(actor, after, { action: COMMANDS[operation].action, operation, caseId, itemId }, at);
    return this.append(before, caseId, entries, [record], command, source);
  }

  /**
   * A board text that changes is written into its document in the same commit: the entry right
   * after the event, computed against the document at that position. An editing burst's own
   * record (source: its document) is already in it. Also gives the case after the command's own
   * events (without its doc entries), which its access record is made on.
   */
  private async withDocTexts(
    before: CaseState | null,
    events: CaseEvent[],
    meta: EventMeta,
    source?: string,
  ): Promise<{ all: CaseEvent[]; after: CaseState | null }> {
    const out: CaseEvent[] = [];
    let s = before;
    for (const e of events) {
      out.push(e);
      // An added item's document starts from its event (genesisUpdate): only edits are written into it.
      const from = e.type === 'item.edited' ? s?.items.get(e.payload.itemId)?.text : undefined;
      s = applyEvent(s, e, meta, (s?.version ?? 0) + 1);
      if (!this.docText || e.type !== 'item.edited' || e.payload.text === undefined || from === undefined) continue;
      const item = s.items.get(e.payload.itemId);
      if (!item || item.textDocId === source) continue;
      const update = await this.docText(s, item.textDocId, { from, to: e.payload.text });
      if (update) out.push({ type: 'doc.update', payload: { docId: item.textDocId, update: Buffer.from(update).toString('base64') } });
    }
    return { all: out, after: s };
  }

  /** Commits entries at the version `before` holds: stored, applied here, told to the others. */
  private async append(
    before: CaseState | null,
    caseId: CaseId,
    entries: { event: CaseEvent; meta: EventMeta }[],
    access: AccessRecord[],
    command?: CommandRecord,
    source?: string,
  ): Promise<CaseState> {
    const from = before?.version ?? 0;
    const rows: NewEvent[] = entries.map(({ event, meta }) => ({ type: event.type, payload: event.payload, ...meta }));
    const storing = performance.now();
    await this.store.appendEvents(caseId, from, rows, access, command);
    const storeMs = performance.now() - storing;
    const { after, events, docs } = this.applyRows(
      before,
      rows.map((r, i) => ({ caseId, version: from + 1 + i, ...r })),
      entries.map((e) => e.event),
    );
    const touched = touchedBy(events);
    this.setState(after);
    this.cluster.caseCommitted(caseId, after.version, rows);
    this.applied({ caseId, before, after, touched, local: true, docs, storeMs, ...(source === undefined ? {} : { source }) });
    return after;
  }

  /** The documents follow at once; delivery and the rest one turn later. */
  private applied(announced: Omit<Committed, 'announcedAt'>): void {
    const c: Committed = { ...announced, announcedAt: performance.now() };
    for (const fn of this.appliedListeners) {
      try {
        fn(c);
      } catch (err) {
        this.log.error({ err, caseId: c.caseId }, 'applying a commit failed');
      }
    }
    this.announce(c);
  }

  /** Delivery waits one turn so the command's own ack goes out first. Commits stay in log order. */
  private announce(c: Committed): void {
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

  private deny(actor: Actor, c: CaseState | null, operation: CommandName, itemId: ItemId | null, error: AppError, caseId?: CaseId): Ack<never> {
    const { action } = COMMANDS[operation];
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

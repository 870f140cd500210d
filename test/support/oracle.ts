import type { AgendaEntry, CaseState, ConsentRequest } from '../../shared/domain.js';
import type { CaseId, ItemId, OrgId, UserId } from '../../shared/ids.js';
import type { CaseMetaView, CasePatch, CaseSummary, CaseView, PresenceUpdate } from '../../shared/protocol.js';
import { applyEvent, parseStoredEvent, replay } from '../../server/cases/events.js';
import type { Casusbord } from '../../server/app.js';
import type { TestClient } from './client.js';
import { piecesOfUpdate, type TextPiece } from './collab.js';
import { genesisUpdate } from '../../server/collab/text.js';

/**
 * An entitlement oracle written apart from shared/rules, straight from RULES.md (R-ROLE, R-NEED):
 * it judges every message a client received against the case as it stood at that message's cursor.
 */
export interface Person {
  userId: UserId;
  orgId: OrgId;
}

export function entitledToCase(s: CaseState | null, who: Person): boolean {
  return !!s && s.participants.some((p) => p.orgId === who.orgId && p.userIds.includes(who.userId));
}

function answeredYes(r: ConsentRequest, itemId: ItemId): boolean {
  const mine = r.answers.filter((a) => a.itemId === itemId);
  return mine.length > 0 && mine[mine.length - 1]!.answer === 'yes';
}

export function entitledToItem(s: CaseState | null, itemId: ItemId, who: Person): boolean {
  const it = s?.items.get(itemId);
  if (!s || !it || !entitledToCase(s, who) || it.status !== 'active') return false;
  if (it.orgId === who.orgId) return true;
  // R-OWN: the contributor is at the table; R-NEED: it chose this organisation.
  const contributorAtTable = s.participants.some((p) => p.orgId === it.orgId);
  const chosen = it.visibility.kind === 'table' || it.visibility.orgIds.includes(who.orgId);
  // R-GOAL: nothing of others while a goal change waits for reconfirmation.
  const frozen = s.goalProposal !== null;
  // R-TAKEHOME / R-REUSE: after the meeting only what the contributor said yes to, for this organisation.
  const consented = [...s.consents.values()].some(
    (r) => !r.closed && r.forOrgId === who.orgId && (r.kind === 'reuse' || r.kind === 'takehome') && answeredYes(r, itemId),
  );
  return contributorAtTable && chosen && !frozen && (s.meetingOpen || consented);
}

/** The case's house seat: the chair (voorzitter) sits for the house and keeps the plan. */
const chairSeat = (s: CaseState, who: Person): boolean =>
  s.participants.some((p) => p.role === 'voorzitter' && p.orgId === who.orgId && p.userIds.includes(who.userId));

const named = (v: { kind: 'table' } | { kind: 'orgs'; orgIds: OrgId[] }, orgId: OrgId): boolean => v.kind === 'table' || v.orgIds.includes(orgId);

/** R-NEED: a decision reaches those the chair let read it, its author's organisation and the chair. */
export function entitledToDecision(s: CaseState | null, id: string, who: Person): boolean {
  const d = s?.decisions.find((x) => x.id === id);
  return !!s && !!d && entitledToCase(s, who) && (named(d.visibility, who.orgId) || d.byOrgId === who.orgId || chairSeat(s, who));
}

/** R-TAKEHOME + R-NEED: an intervention reaches its executor and the chair; others it names only while the case is discussed. */
export function entitledToIntervention(s: CaseState | null, id: string, who: Person): boolean {
  const i = s?.interventions.find((x) => x.id === id);
  if (!s || !i || !entitledToCase(s, who)) return false;
  return chairSeat(s, who) || i.orgId === who.orgId || (s.meetingOpen && (named(i.visibility, who.orgId) || i.byOrgId === who.orgId));
}

/** Which document of the case a document id names: the minutes of one of its discussions, or an item's text. */
function docTarget(s: CaseState | null, docId: string): { minutes: AgendaEntry } | { itemId: ItemId } | null {
  if (!s) return null;
  const slot = s.agenda.find((a) => a.minutesDocId === docId);
  if (slot) return { minutes: slot };
  for (const it of s.items.values()) if (it.textDocId === docId) return { itemId: it.id };
  return null;
}

/** R-TAKEHOME: a discussion's minutes are read by whoever takes part while it runs, then by the house's seat only. */
function mayReadMinutes(s: CaseState | null, slot: AgendaEntry, who: Person): boolean {
  if (!s || !entitledToCase(s, who)) return false;
  return slot.state === 'running' || s.participants.some((p) => p.role === 'voorzitter' && p.orgId === who.orgId && p.userIds.includes(who.userId));
}

/** R-NEED: an item's text is read by whoever may see the item. */
function mayReadDoc(s: CaseState | null, docId: string, who: Person): boolean {
  const t = docTarget(s, docId);
  return !!t && ('minutes' in t ? mayReadMinutes(s, t.minutes, who) : entitledToItem(s, t.itemId, who));
}

/** R-OWN: an item's text is written only by its contributor; a discussion's minutes by those taking part, while it runs. */
function mayWriteDoc(s: CaseState | null, docId: string, who: Person): boolean {
  const t = docTarget(s, docId);
  if (!t) return false;
  if ('minutes' in t) return entitledToCase(s, who) && t.minutes.state === 'running';
  return entitledToItem(s, t.itemId, who) && s!.items.get(t.itemId)!.orgId === who.orgId;
}

/**
 * One co-editing connection's recording: the pieces of text each message handed it, and a version
 * of the case log at least as far as the log was when the message arrived.
 */
export interface DocRecording {
  docId: string;
  messages: { pieces: TextPiece[]; bound: number }[];
}

/** Text a doc entry inserted: characters `clock` up to `clock + length` of a Yjs client. */
interface Inserted {
  clock: number;
  length: number;
  version: number;
  docId: string;
  /** An item's first text, from its `item.added` (no entry of its own). */
  first: boolean;
  writer: Person;
}

/** A case's log as the oracle judges co-editing by: the case after every entry, and which entry inserted each piece of text. */
interface CaseLog {
  /** `states[v]`: the case after entry v (`states[0]`: none yet). */
  states: (CaseState | null)[];
  /** Per Yjs client, what its entries inserted. */
  inserted: Map<number, Inserted[]>;
}

/** What the oracle reads: an in-process app, or the shared store of several processes. */
export interface OracleSource {
  cursors: Pick<Casusbord['cursors'], 'decode'>;
  store: Pick<Casusbord['store'], 'readEvents'>;
  dir: Pick<Casusbord['dir'], 'user'>;
}

export class LeakOracle {
  private readonly states = new Map<string, CaseState | null>();
  private readonly logs = new Map<CaseId, Promise<CaseLog>>();
  readonly violations: string[] = [];
  checked = 0;

  constructor(private readonly app: OracleSource) {}

  private async stateAt(caseId: CaseId, cursor: string): Promise<{ s: CaseState | null; v: number }> {
    const v = this.app.cursors.decode(caseId, cursor);
    if (v === null) throw new Error(`undecodable cursor for ${caseId}`);
    const key = `${caseId}@${v}`;
    if (!this.states.has(key)) this.states.set(key, replay(await this.app.store.readEvents(caseId, 0, v)));
    return { s: this.states.get(key)!, v };
  }

  private fail(client: TestClient | string, what: string): void {
    this.violations.push(`${typeof client === 'string' ? client : client.username}: ${what}`);
  }

  /** Read once, after every recording it judges was taken: it holds every entry they were handed. */
  private caseLog(caseId: CaseId): Promise<CaseLog> {
    let log = this.logs.get(caseId);
    if (!log) {
      log = this.app.store.readEvents(caseId).then((rows) => {
        const states: (CaseState | null)[] = [null];
        const inserted: CaseLog['inserted'] = new Map();
        let s: CaseState | null = null;
        for (const row of rows) {
          const e = parseStoredEvent(row);
          // An item's first text is in its document without an entry: derived from its event.
          const first = e.type === 'item.added' ? genesisUpdate(e.payload.text) : null;
          const docId = e.type === 'doc.update' ? e.payload.docId : e.type === 'item.added' ? e.payload.textDocId : null;
          const update = e.type === 'doc.update' ? Buffer.from(e.payload.update, 'base64') : first;
          if (docId && update) {
            for (const p of piecesOfUpdate(update)) {
              let list = inserted.get(p.client);
              if (!list) inserted.set(p.client, (list = []));
              list.push({
                clock: p.clock,
                length: p.str.length,
                version: row.version,
                docId,
                first: e.type === 'item.added',
                writer: { userId: row.actorUserId, orgId: row.actorOrgId },
              });
            }
          }
          states.push((s = applyEvent(s, e, row, row.version)));
        }
        return { states, inserted };
      });
      this.logs.set(caseId, log);
    }
    return log;
  }

  /** P-ORDER, R-OWN: every co-editing entry of the log was written by someone who could write its document just before it. */
  async checkLog(caseId: CaseId): Promise<void> {
    const { states } = await this.caseLog(caseId);
    for (const row of await this.app.store.readEvents(caseId, 0, states.length - 1)) {
      if (row.type !== 'doc.update') continue;
      this.checked++;
      const { docId } = row.payload as { docId: string };
      const writer = { userId: row.actorUserId, orgId: row.actorOrgId };
      if (!mayWriteDoc(states[row.version - 1] ?? null, docId, writer)) this.fail(writer.userId, `entry @${row.version} in ${docId}, which it could not write`);
    }
  }

  /**
   * P-ORDER, R-NEED, R-ROLE: every piece of text a co-editing connection was handed (found by the
   * Yjs ids of its characters) was stored by a writer with the right to write it just before its
   * entry, and handed at a moment the reader could read the document: at some version from its
   * entry up to the log's extent when the message arrived (a process sends it at one in between).
   */
  async checkDoc(name: string, who: Person, caseId: CaseId, rec: DocRecording): Promise<void> {
    const { states, inserted } = await this.caseLog(caseId);
    for (const [i, m] of rec.messages.entries()) {
      this.checked++;
      const upTo = Math.min(m.bound, states.length - 1);
      for (const p of m.pieces) {
        const what = `${JSON.stringify(p.str)} (${p.client}:${p.clock}) in message ${i} of ${rec.docId}`;
        // Every character of the piece, entry by entry: a piece may span several of one client.
        for (let clock = p.clock; clock < p.clock + p.str.length;) {
          // Every document's first text has the same client id: its own document's comes first.
          const within = (x: { clock: number; length: number }): boolean => x.clock <= clock && clock < x.clock + x.length;
          const list = inserted.get(p.client);
          const e = list?.find((x) => x.docId === rec.docId && within(x)) ?? list?.find(within);
          if (!e) {
            this.fail(name, `${what}, stored nowhere`);
            break;
          }
          clock = e.clock + e.length;
          if (e.docId !== rec.docId) this.fail(name, `${what}, stored in ${e.docId}`);
          // An item's first text is its author's, in the item it made (by the command's rights).
          else if (!mayWriteDoc(states[e.first ? e.version : e.version - 1] ?? null, e.docId, e.writer))
            this.fail(name, `${what}, written @${e.version} by ${e.writer.userId}, who could not`);
          else if (!states.slice(e.version, upTo + 1).some((s) => mayReadDoc(s, e.docId, who))) {
            this.fail(name, `${what}, stored @${e.version}, handed while it could not read it (up to @${upTo})`);
          }
        }
      }
    }
  }

  /** Plan and consent requests name only items the viewer may see (the asker also sees its answers). */
  private checkMeta(client: TestClient, who: Person, s: CaseState | null, v: number, meta: CaseMetaView): void {
    if (!entitledToCase(s, who)) return this.fail(client, `meta of ${meta.id}@${v}`);
    for (const i of meta.interventions) {
      if (!entitledToIntervention(s, i.id, who)) this.fail(client, `intervention ${i.id}@${v}`);
      for (const id of i.itemIds) if (!entitledToItem(s, id, who)) this.fail(client, `intervention item ${id}@${v}`);
    }
    for (const d of meta.decisions) if (!entitledToDecision(s, d.id, who)) this.fail(client, `decision ${d.id}@${v}`);
    for (const d of s!.decisions)
      if (entitledToDecision(s, d.id, who) && !meta.decisions.some((x) => x.id === d.id)) this.fail(client, `meta misses decision ${d.id}@${v}`);
    for (const r of meta.consents) {
      // R-NEED: a take-home request for an intervention kept from this organisation names it not, nor its text.
      const iv = s!.consents.get(r.id)?.interventionId;
      const i = iv ? s!.interventions.find((x) => x.id === iv) : undefined;
      if (i && !(named(i.visibility, who.orgId) || i.byOrgId === who.orgId || i.orgId === who.orgId || chairSeat(s!, who))) {
        if (r.interventionId !== null || r.purpose === i.what) this.fail(client, `request ${r.id} tells of intervention ${i.id}@${v}`);
      }
      const asker = r.kind !== 'goal' && r.forOrgId === who.orgId;
      for (const x of r.items) if (!asker && !entitledToItem(s, x.itemId, who)) this.fail(client, `consent item ${x.itemId}@${v}`);
    }
  }

  private async checkView(client: TestClient, who: Person, caseId: CaseId, view: CaseView): Promise<void> {
    const { s, v } = await this.stateAt(caseId, view.cursor);
    if (!entitledToCase(s, who)) return this.fail(client, `snapshot of case ${caseId}@${v} without a role`);
    this.checkMeta(client, who, s, v, view.meta);
    for (const item of view.items) {
      if (!entitledToItem(s, item.id, who)) this.fail(client, `item ${item.id} in snapshot of ${caseId}@${v}`);
      else if (s!.items.get(item.id)!.text !== item.text) this.fail(client, `stale text for ${item.id}@${v}`);
    }
    for (const [id] of s!.items) {
      if (entitledToItem(s, id, who) && !view.items.some((i) => i.id === id)) this.fail(client, `snapshot misses ${id}@${v}`);
    }
  }

  private async checkPatch(client: TestClient, who: Person, p: CasePatch): Promise<void> {
    const { s, v } = await this.stateAt(p.caseId, p.cursor);
    for (const op of p.ops) {
      if (op.op === 'snapshot') await this.checkView(client, who, p.caseId, op.view);
      else if (op.op === 'meta') this.checkMeta(client, who, s, v, op.meta);
      else if (op.op === 'item' && !entitledToItem(s, op.item.id, who)) this.fail(client, `item ${op.item.id} of ${p.caseId}@${v}`);
      else if (op.op === 'itemRemoved' && entitledToItem(s, op.itemId, who)) this.fail(client, `removal of visible ${op.itemId}@${v}`);
      else if (op.op === 'revoked' && entitledToCase(s, who)) this.fail(client, `revoked while entitled ${p.caseId}@${v}`);
    }
  }

  private async checkSummary(client: TestClient, who: Person, sum: CaseSummary): Promise<void> {
    const { s, v } = await this.stateAt(sum.id, sum.cursor);
    if (!entitledToCase(s, who)) this.fail(client, `summary of ${sum.id}@${v}`);
    else if (s!.title !== sum.title) this.fail(client, `summary title of ${sum.id}@${v}`);
  }

  private async checkPresence(client: TestClient, who: Person, p: PresenceUpdate): Promise<void> {
    const { s, v } = await this.stateAt(p.caseId, p.cursor);
    if (!entitledToCase(s, who)) return this.fail(client, `presence of ${p.caseId}@${v}`);
    for (const e of p.present) {
      const u = this.app.dir.user(e.userId);
      if (!u || !entitledToCase(s, { userId: u.id, orgId: u.orgId })) this.fail(client, `presence entry ${e.userId} in ${p.caseId}@${v}`);
    }
  }

  /** Checks every message the client received (and every case:open answer it recorded). */
  async checkClient(client: TestClient, who: Person, openAnswers: { caseId: CaseId; data: unknown }[] = []): Promise<void> {
    for (const r of client.received) {
      this.checked++;
      const a = r.args[0];
      if (r.event === 'case:patch') await this.checkPatch(client, who, a as CasePatch);
      else if (r.event === 'cases:snapshot') for (const s of a as CaseSummary[]) await this.checkSummary(client, who, s);
      else if (r.event === 'cases:upsert') await this.checkSummary(client, who, a as CaseSummary);
      else if (r.event === 'presence:update') await this.checkPresence(client, who, a as PresenceUpdate);
      else if (r.event === 'cases:removed' || r.event === 'session:ended') continue;
      else this.fail(client, `unexpected event ${r.event}`);
    }
    for (const { caseId, data } of openAnswers) {
      this.checked++;
      const d = data as { view?: CaseView; patch?: CasePatch };
      if (d.view) await this.checkView(client, who, caseId, d.view);
      if (d.patch) await this.checkPatch(client, who, d.patch);
    }
  }
}

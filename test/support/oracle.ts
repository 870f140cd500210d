import type { CaseState, ConsentRequest } from '../../shared/domain.js';
import type { CaseId, ItemId, OrgId, UserId } from '../../shared/ids.js';
import type { CaseMetaView, CasePatch, CaseSummary, CaseView, PresenceUpdate } from '../../shared/protocol.js';
import { replay } from '../../server/cases/events.js';
import type { Casusbord } from '../../server/app.js';
import type { TestClient } from './client.js';

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

/** What the oracle reads: an in-process app, or the shared store of several processes. */
export interface OracleSource {
  cursors: Pick<Casusbord['cursors'], 'decode'>;
  store: Pick<Casusbord['store'], 'readEvents'>;
  dir: Pick<Casusbord['dir'], 'user'>;
}

export class LeakOracle {
  private readonly states = new Map<string, CaseState | null>();
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

  private fail(client: TestClient, what: string): void {
    this.violations.push(`${client.username}: ${what}`);
  }

  /** Plan and consent requests name only items the viewer may see (the asker also sees its answers). */
  private checkMeta(client: TestClient, who: Person, s: CaseState | null, v: number, meta: CaseMetaView): void {
    if (!entitledToCase(s, who)) return this.fail(client, `meta of ${meta.id}@${v}`);
    for (const i of meta.interventions) {
      for (const id of i.itemIds) if (!entitledToItem(s, id, who)) this.fail(client, `intervention item ${id}@${v}`);
    }
    for (const r of meta.consents) {
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

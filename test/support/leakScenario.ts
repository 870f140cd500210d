import fc from 'fast-check';
import { expect } from 'vitest';
import type { CaseState, Participant, Phase, Visibility } from '../../shared/domain.js';
import type { CaseId, ItemId, OrgId, UserId } from '../../shared/ids.js';
import { TestClient } from './client.js';
import { ClientModel, replayInto, type OpenRecord } from './model.js';
import { entitledToCase, entitledToItem, LeakOracle, type OracleSource } from './oracle.js';

// R-ROLE / R-NEED / R-GOAL / R-TAKEHOME property: random commands from random users, concurrently,
// including visibility changes, participant removal and re-adding, reconnects with catch-up, goal
// changes, consent answers, interventions and closing the meeting. Every message every client
// received is judged by the independent oracle, and every open board must equal what the oracle
// says that user may hold. Runs against one process or several (the backend).

/** Where the scenario runs: one in-process server, or several processes on one Redis. */
export interface LeakBackend {
  /** The server a user's n-th socket connects to (a reconnect may land on another process). */
  urlFor(user: Username, n: number): string;
  cookie(user: Username): string;
  /** The committed state of the case, as the shared log has it. */
  state(caseId: CaseId): Promise<CaseState>;
  /** Resolves once every process has applied the case up to `version`. */
  settle(caseId: CaseId, version: number): Promise<void>;
  orgOf(userId: UserId): OrgId;
  oracle: OracleSource;
}

export const USERS = ['regisseur', 'politie', 'politie2', 'om', 'ggz', 'ggz2', 'gemeente', 'woning', 'veiligthuis', 'reclassering'] as const;
export type Username = (typeof USERS)[number];
const ORG_PEOPLE: [OrgId, Participant['role'], Username[]][] = [
  ['org_zvh' as OrgId, 'voorzitter', ['regisseur']],
  ['org_politie' as OrgId, 'aanmelder', ['politie', 'politie2']],
  ['org_om' as OrgId, 'deelnemer', ['om']],
  ['org_ggz' as OrgId, 'deelnemer', ['ggz', 'ggz2']],
  ['org_leeuwarden' as OrgId, 'deelnemer', ['gemeente']],
  ['org_elkien' as OrgId, 'deelnemer', ['woning']],
  ['org_veiligthuis' as OrgId, 'deelnemer', ['veiligthuis']],
  ['org_reclassering' as OrgId, 'deelnemer', ['reclassering']],
];
const uid = (u: Username) => `usr_${u}` as UserId;

const user = fc.constantFrom(...USERS);
const orgIdx = fc.integer({ min: 1, max: ORG_PEOPLE.length - 1 });
const visibility: fc.Arbitrary<{ table: true } | { orgs: number[] }> = fc.oneof(
  fc.constant({ table: true as const }),
  fc.record({ orgs: fc.uniqueArray(fc.integer({ min: 0, max: ORG_PEOPLE.length - 1 }), { maxLength: 3 }) }),
);
const cmd = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('add' as const), u: user, vis: visibility }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('edit' as const), u: user, i: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('vis' as const), u: user, i: fc.nat(), vis: visibility }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('withdraw' as const), u: user, i: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('remove' as const), o: orgIdx }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('readd' as const), o: orgIdx, first: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('reopen' as const), u: user }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('leave' as const), u: user }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('reconnect' as const), u: user }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('phase' as const), p: fc.constantFrom<Phase>('beeldvorming', 'oordelen', 'besluiten') }) },
  // Consent and purpose (R-REUSE, R-GOAL, R-TAKEHOME).
  { weight: 1, arbitrary: fc.record({ k: fc.constant('propose' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('cancel' as const) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('answer' as const), u: user, r: fc.nat(), yes: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('reuse' as const), u: user, i: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('intervene' as const), o: orgIdx, i: fc.nat(), j: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('meeting' as const), open: fc.boolean() }) },
);
type Cmd = typeof cmd extends fc.Arbitrary<infer T> ? T : never;


interface Seat {
  clients: TestClient[];
  opens: OpenRecord[][];
  leaves: number[][];
}

/** Runs one random meeting against a backend and checks every message and every board. */
export async function runScenario(b: LeakBackend, batches: Cmd[][]): Promise<void> {
  const seats = new Map<Username, Seat>();
  for (const u of USERS) seats.set(u, { clients: [await TestClient.connect(b.urlFor(u, 0), u, b.cookie(u))], opens: [[]], leaves: [[]] });
  const cur = (u: Username) => {
    const s = seats.get(u)!;
    return { c: s.clients.at(-1)!, opens: s.opens.at(-1)!, leaves: s.leaves.at(-1)! };
  };
  const chair = () => cur('regisseur').c;
  const created = await chair().cmd('case:create', {
    tableId: 'tbl_topx' as never,
    title: 'Eigenschapstest',
    subjectNote: '',
    goal: 'Testen dat niets lekt.',
    participants: ORG_PEOPLE.map(([orgId, role, people]) => ({ orgId, role, userIds: people.map(uid) })),
    informDueDate: '2026-12-31',
  });
  if (!created.ok) throw new Error(created.error.code);
  const caseId: CaseId = created.data.caseId;
  const items: ItemId[] = [];
  const models = new Map<Username, ClientModel>(USERS.map((u) => [u, new ClientModel()]));

  /** Users whose last open was refused: their client cleared the board and opens afresh on its next connect. */
  const refused = new Set<Username>();
  /**
   * `alone`: no command of the batch runs beside this open, so every commit it could depend on
   * has been acknowledged: a refusal must then be one the committed log bears out.
   */
  const open = async (u: Username, since?: string, alone = false) => {
    const { c, opens, leaves } = cur(u);
    const { ack: r, seq } = await c.cmdAt('case:open', since ? { caseId, since } : { caseId });
    if (r.ok) {
      opens.push({ caseId, seq, data: r.data });
      refused.delete(u);
      return;
    }
    // Refused (e.g. removed from the table while disconnected, before the removal reached the old
    // socket): the client clears the board (board.svelte.ts #sync), as a leave does.
    const seated = alone && entitledToCase(await b.state(caseId), { userId: uid(u), orgId: b.orgOf(uid(u)) });
    expect({ user: u, code: r.error.code, seated }).toEqual({ user: u, code: 'NOT_FOUND', seated: false });
    leaves.push(seq);
    refused.add(u);
  };
  for (const u of USERS) await open(u);

  const vis = (v: { table: true } | { orgs: number[] }): Visibility =>
    'table' in v ? { kind: 'table' } : { kind: 'orgs', orgIds: v.orgs.map((i) => ORG_PEOPLE[i]![0]) };
  const pick = (i: number) => items[i % Math.max(1, items.length)];

  const run = async (x: Cmd): Promise<void> => {
    switch (x.k) {
      case 'add': {
        const r = await cur(x.u).c.cmd('item:add', { caseId, phase: 'beeldvorming', text: `inbreng ${items.length}`, visibility: vis(x.vis) });
        if (r.ok) items.push(r.data.itemId);
        return;
      }
      case 'edit': {
        const itemId = pick(x.i);
        if (itemId) await cur(x.u).c.cmd('item:edit', { caseId, itemId, text: `bewerkt door ${x.u}` });
        return;
      }
      case 'vis': {
        const itemId = pick(x.i);
        if (itemId) await cur(x.u).c.cmd('item:setVisibility', { caseId, itemId, visibility: vis(x.vis) });
        return;
      }
      case 'withdraw': {
        const itemId = pick(x.i);
        if (itemId) await cur(x.u).c.cmd('item:withdraw', { caseId, itemId });
        return;
      }
      case 'remove':
        await chair().cmd('case:removeParticipant', { caseId, orgId: ORG_PEOPLE[x.o]![0] });
        return;
      case 'readd': {
        const [orgId, role, people] = ORG_PEOPLE[x.o]!;
        await chair().cmd('case:setParticipant', { caseId, participant: { orgId, role, userIds: (x.first ? people.slice(0, 1) : people).map(uid) } });
        return;
      }
      case 'reopen':
        return open(x.u);
      case 'leave': {
        const { c, leaves } = cur(x.u);
        const { ack: r, seq } = await c.cmdAt('case:leave', { caseId });
        if (r.ok) leaves.push(seq);
        return;
      }
      case 'reconnect': {
        // Replay what the old socket got, then catch up on a new one from its cursor.
        const seat = seats.get(x.u)!;
        const old = cur(x.u);
        old.c.close();
        const m = models.get(x.u)!;
        replayInto(m, old.c, caseId, old.opens, old.leaves);
        seat.clients.push(await TestClient.connect(b.urlFor(x.u, seat.clients.length), x.u, b.cookie(x.u)));
        seat.opens.push([]);
        seat.leaves.push([]);
        if (m.open) await open(x.u, m.cursor, true);
        else if (refused.has(x.u)) await open(x.u, undefined, true);
        return;
      }
      case 'phase':
        await chair().cmd('case:setPhase', { caseId, phase: x.p });
        return;
      case 'propose':
        await chair().cmd('goal:propose', { caseId, text: `doel ${Math.random()}` });
        return;
      case 'cancel':
        await chair().cmd('goal:cancel', { caseId });
        return;
      case 'answer': {
        // Answers for the user's own organisation's items of some open request (wrong ones are refused).
        const c = await b.state(caseId);
        const open = [...c.consents.values()].filter((r) => !r.closed);
        const r = open[x.r % Math.max(1, open.length)];
        if (!r) return;
        const orgId = b.orgOf(uid(x.u));
        const mine = r.itemIds.filter((id) => c.items.get(id)?.orgId === orgId && c.items.get(id)?.status === 'active');
        const ids = mine.length > 0 ? mine : r.itemIds.slice(0, 1);
        await cur(x.u).c.cmd('consent:answer', {
          caseId,
          requestId: r.id,
          answers: ids.map((itemId) => (x.yes ? { itemId, answer: 'yes' as const } : { itemId, answer: 'no' as const, reason: 'niet nodig' })),
        });
        return;
      }
      case 'reuse': {
        const itemId = pick(x.i);
        if (itemId) await cur(x.u).c.cmd('consent:request', { caseId, itemIds: [itemId], purpose: `hergebruik door ${x.u}` });
        return;
      }
      case 'intervene': {
        const ids = [...new Set([pick(x.i), pick(x.j)].filter((v): v is ItemId => v !== undefined))];
        await chair().cmd('intervention:add', { caseId, what: 'interventie', orgId: ORG_PEOPLE[x.o]![0], itemIds: ids });
        return;
      }
      case 'meeting':
        await chair().cmd(x.open ? 'meeting:open' : 'meeting:close', { caseId });
        return;
    }
  };

  for (const batch of batches) {
    // A reconnect closes a socket: it goes after the batch's commands that may use that socket.
    await Promise.all(batch.filter((x) => x.k !== 'reconnect').map(run));
    for (const x of batch.filter((y) => y.k === 'reconnect')) await run(x);
  }

  const final = await b.state(caseId);
  // Every process has applied the last commit; then, per socket, an answer arrives after every
  // message sent to that socket before it.
  await b.settle(caseId, final.version);
  await Promise.all(USERS.map((u) => cur(u).c.cmd('case:leave', { caseId: 'cs_barrier' as CaseId })));
  const oracle = new LeakOracle(b.oracle);
  for (const u of USERS) {
    const seat = seats.get(u)!;
    const who = { userId: uid(u), orgId: b.orgOf(uid(u)) };
    for (let i = 0; i < seat.clients.length; i++) await oracle.checkClient(seat.clients[i]!, who, seat.opens[i]);
    const m = models.get(u)!;
    replayInto(m, seat.clients.at(-1)!, caseId, seat.opens.at(-1)!, seat.leaves.at(-1)!);
    if (m.open) {
      // What the oracle says this user should hold now, independent of the server's own filter:
      // catches items that should have been taken away but never were.
      const expected = new Map([...final.items.values()].filter((i) => entitledToItem(final, i.id, who)).map((i) => [i.id, i.text]));
      expect({ user: u, items: m.items }).toEqual({ user: u, items: expected });
    }
    for (const c of seat.clients) c.close();
  }
  expect(oracle.violations).toEqual([]);
}

export const scenarios = fc.array(fc.array(cmd, { minLength: 1, maxLength: 3 }), { minLength: 3, maxLength: 30 });
/** One random meeting: batches of commands, each batch sent at once. */
export type Scenario = Cmd[][];

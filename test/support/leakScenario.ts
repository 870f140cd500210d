import fc from 'fast-check';
import { expect } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import type { CaseState, Participant, Phase, Visibility } from '../../shared/domain.js';
import type { CaseId, ItemId, OrgId, UserId } from '../../shared/ids.js';
import { TestClient } from './client.js';
import { piecesIn, recorder, roundTrip, updateMessage, type Recorder } from './collab.js';
import { ClientModel, replayInto, type OpenRecord } from './model.js';
import { entitledToCase, entitledToItem, LeakOracle, type OracleSource } from './oracle.js';
import { discuss } from './meetings.js';

// R-ROLE / R-NEED / R-GOAL / R-TAKEHOME property: random commands from random users, concurrently,
// including visibility changes, participant removal and re-adding, reconnects with catch-up, goal
// changes, consent answers, interventions and closing the meeting, and co-editing: users open item
// texts and the minutes and type into them, whatever their right. Every message every client
// received is judged by the independent oracle, the binary Yjs messages of every co-editing
// connection included, and every open board must equal what the oracle says that user may hold.
// Runs against one process or several (the backend).

/** Where the scenario runs: one in-process server, or several processes on one Redis. */
export interface LeakBackend {
  /** The server a user's n-th socket connects to (a reconnect may land on another process). */
  urlFor(user: Username, n: number): string;
  cookie(user: Username): string;
  /** The committed state of the case, as the shared log has it. */
  state(caseId: CaseId): Promise<CaseState>;
  /** A version at least as far as the case log reached when this was called. */
  logHead(caseId: CaseId): Promise<number>;
  /** Resolves once every process has applied the case up to `version` and run what it had queued for the case before. */
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
  { weight: 2, arbitrary: fc.record({ k: fc.constant('intervene' as const), o: orgIdx, i: fc.nat(), j: fc.nat(), vis: visibility }) },
  // Case-level texts the chair restricts like items (R-NEED): decisions and interventions.
  { weight: 2, arbitrary: fc.record({ k: fc.constant('decide' as const), vis: visibility }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('restrict' as const), i: fc.nat(), decision: fc.boolean(), vis: visibility }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('meeting' as const), open: fc.boolean() }) },
  // Co-editing (P-ORDER): open an item's text or the minutes, or type into it (opening it first).
  { weight: 4, arbitrary: fc.record({ k: fc.constant('watch' as const), u: user, i: fc.nat(), minutes: fc.boolean() }) },
  { weight: 6, arbitrary: fc.record({ k: fc.constant('type' as const), u: user, i: fc.nat(), minutes: fc.boolean() }) },
);
type Cmd = typeof cmd extends fc.Arbitrary<infer T> ? T : never;

interface Seat {
  clients: TestClient[];
  opens: OpenRecord[][];
  leaves: number[][];
}

/** A user's co-editing connection on one document, recording what it is handed. */
interface DocConn {
  u: Username;
  docId: string;
  rec: Recorder;
  /** Per message received: the log's extent when it arrived (only for messages with text). */
  bounds: Promise<number>[];
  /** Whether it opened (it may be refused, or cut off at once). */
  opened: Promise<boolean>;
}

/** The Yjs update of a fresh writer that puts `text` at the start of the document: it needs nothing the server holds. */
function typedUpdate(text: string): Uint8Array {
  const doc = new Y.Doc();
  try {
    doc.getText('text').insert(0, text);
    return Y.encodeStateAsUpdate(doc);
  } finally {
    doc.destroy();
  }
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
    persons: [{ name: 'Betrokkene', birthDate: '1990-01-01' }],
    informDueDate: '2026-12-31',
  });
  if (!created.ok) throw new Error(created.error.code);
  const caseId: CaseId = created.data.caseId;
  // Open for discussion in a meeting from the start; the scenario ends and resumes it at random.
  const meetingId = await discuss(chair(), caseId);
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

  // The minutes of the discussion the scenario ends and resumes (one slot, so one document).
  const minutesDocId = (await b.state(caseId)).agenda.find((a) => a.meetingId === meetingId)!.minutesDocId;
  const itemDocs = new Map<ItemId, string>();
  /** Every co-editing connection of the meeting, the closed ones too; and the one open per user and document. */
  const docConns: DocConn[] = [];
  const openConns = new Map<string, DocConn>();
  let typed = 0;
  const docOf = async (x: { i: number; minutes: boolean }): Promise<string | undefined> => {
    if (x.minutes) return minutesDocId;
    const itemId = pick(x.i);
    if (!itemId) return undefined;
    if (!itemDocs.has(itemId)) itemDocs.set(itemId, (await b.state(caseId)).items.get(itemId)!.textDocId);
    return itemDocs.get(itemId);
  };
  /** The user's connection to the document, opened on the user's present process when it has none open. */
  const docConn = (u: Username, docId: string): DocConn => {
    const have = openConns.get(`${u} ${docId}`);
    if (have && (have.rec.ws.readyState === WebSocket.CONNECTING || have.rec.ws.readyState === WebSocket.OPEN)) return have;
    const rec = recorder(b.urlFor(u, seats.get(u)!.clients.length - 1), docId, b.cookie(u));
    const bounds: Promise<number>[] = [];
    rec.ws.on('message', (m: Buffer) => bounds.push(piecesIn(m).length > 0 ? b.logHead(caseId) : Promise.resolve(0)));
    const opened = new Promise<boolean>((resolve) => {
      rec.ws.once('open', () => resolve(true));
      rec.ws.once('close', () => resolve(false));
    });
    const conn = { u, docId, rec, bounds, opened };
    docConns.push(conn);
    openConns.set(`${u} ${docId}`, conn);
    return conn;
  };

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
        await chair().cmd('intervention:add', { caseId, what: 'interventie', orgId: ORG_PEOPLE[x.o]![0], itemIds: ids, visibility: vis(x.vis) });
        return;
      }
      case 'decide': {
        // Decisions are taken in the decision phase: step there first (refused when a goal change holds it).
        for (const phase of ['oordelen', 'besluiten'] as const) await chair().cmd('case:setPhase', { caseId, phase });
        await chair().cmd('decision:add', { caseId, text: 'besluit', visibility: vis(x.vis) });
        return;
      }
      case 'restrict': {
        const s = await b.state(caseId);
        if (x.decision) {
          const d = s.decisions[x.i % Math.max(1, s.decisions.length)];
          if (d) await chair().cmd('decision:setVisibility', { caseId, decisionId: d.id, visibility: vis(x.vis) });
        } else {
          const i = s.interventions[x.i % Math.max(1, s.interventions.length)];
          if (i) await chair().cmd('intervention:setVisibility', { caseId, interventionId: i.id, visibility: vis(x.vis) });
        }
        return;
      }
      case 'meeting':
        await chair().cmd(x.open ? 'agenda:begin' : 'agenda:end', { caseId, meetingId });
        return;
      case 'watch': {
        const docId = await docOf(x);
        if (docId) await docConn(x.u, docId).opened;
        return;
      }
      case 'type': {
        // Whatever the user's right: one without it must be refused, and its text reach nobody.
        const docId = await docOf(x);
        if (!docId) return;
        const conn = docConn(x.u, docId);
        if ((await conn.opened) && conn.rec.ws.readyState === WebSocket.OPEN) conn.rec.ws.send(updateMessage(typedUpdate(`<${typed++}>`)));
        return;
      }
    }
  };

  for (const batch of batches) {
    // A reconnect closes a socket: it goes after the batch's commands that may use that socket.
    await Promise.all(batch.filter((x) => x.k !== 'reconnect').map(run));
    for (const x of batch.filter((y) => y.k === 'reconnect')) await run(x);
  }

  // Every update typed has been taken by its process (an answer on its connection comes after it),
  // and stored or refused there (what each process had queued for the case has run).
  await Promise.all(docConns.map((c) => roundTrip(c.rec)));
  await b.settle(caseId, 0);
  const final = await b.state(caseId);
  // Every process has applied the last commit; then, per socket, an answer arrives after every
  // message sent to that socket before it.
  await b.settle(caseId, final.version);
  await Promise.all(docConns.map((c) => roundTrip(c.rec)));
  await Promise.all(USERS.map((u) => cur(u).c.cmd('case:leave', { caseId: 'cs_barrier' as CaseId })));
  const oracle = new LeakOracle(b.oracle);
  // What each co-editing connection was handed, judged message by message.
  const recordings = await Promise.all(
    docConns.map(async (c) => {
      const received = [...c.rec.received];
      const bounds = await Promise.all(c.bounds.slice(0, received.length));
      return { conn: c, messages: received.map((m, i) => ({ pieces: piecesIn(m), bound: bounds[i]! })) };
    }),
  );
  await oracle.checkLog(caseId);
  for (const { conn, messages } of recordings) {
    await oracle.checkDoc(conn.u, { userId: uid(conn.u), orgId: b.orgOf(uid(conn.u)) }, caseId, { docId: conn.docId, messages });
  }
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
  for (const c of docConns) c.rec.ws.terminate();
  expect(oracle.violations).toEqual([]);
}

export const scenarios = fc.array(fc.array(cmd, { minLength: 1, maxLength: 3 }), { minLength: 3, maxLength: 30 });
/** One random meeting: batches of commands, each batch sent at once. */
export type Scenario = Cmd[][];

import fs from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseId, ItemId, MeetingId, OrgId, UserId } from '../../shared/ids.js';
import { replay } from '../../server/cases/events.js';
import { TestClient } from '../support/client.js';
import { planMeeting } from '../support/meetings.js';
import type { Person } from '../support/oracle.js';
import { propertyRuns, propertySeed, timeoutFor } from '../support/property.js';
import { RoomScreenClient, screenToken } from '../support/room.js';
import { judgeRoomView } from '../support/roomOracle.js';
import { startTestServer, type TestServer } from '../support/server.js';

// Random afternoons at one case: items come and go and change who may see them, people walk into
// and out of the room, the case's discussion ends and begins again. After every step the room
// screen must show exactly what everyone in the room may see (R-ROOM), judged by the oracle on the
// case as the store holds it, and every view sent during the step must too.
const RUNS = propertyRuns(30);

/** Who takes part (named), by organisation; politie2 and ggz2 are colleagues not named in the case. */
const NAMED = [
  ['regisseur', 'org_zvh', 'voorzitter'],
  ['politie', 'org_politie', 'aanmelder'],
  ['om', 'org_om', 'deelnemer'],
  ['ggz', 'org_ggz', 'deelnemer'],
  ['gemeente', 'org_leeuwarden', 'deelnemer'],
  ['reclassering', 'org_reclassering', 'deelnemer'],
] as const;
const ROOM_CANDIDATES = ['regisseur', 'politie', 'om', 'ggz', 'gemeente', 'reclassering', 'politie2', 'woning'] as const;
const PARTNERS = ['politie', 'om', 'ggz', 'gemeente', 'reclassering'] as const;
const ORGS = NAMED.map(([, org]) => org as OrgId);

type Step =
  | { kind: 'add'; by: (typeof PARTNERS)[number]; to: OrgId[] | null }
  | { kind: 'visibility'; item: number; to: OrgId[] | null }
  | { kind: 'withdraw'; item: number }
  | { kind: 'room'; people: (typeof ROOM_CANDIDATES)[number][] }
  | { kind: 'enter'; who: (typeof PARTNERS)[number] }
  | { kind: 'toggle' };

const audience = fc.option(fc.subarray(ORGS, { minLength: 1 }), { nil: null });
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('add' as const), by: fc.constantFrom(...PARTNERS), to: audience }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('visibility' as const), item: fc.nat(), to: audience }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('withdraw' as const), item: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('room' as const), people: fc.subarray([...ROOM_CANDIDATES]) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('enter' as const), who: fc.constantFrom(...PARTNERS) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('toggle' as const) }) },
);

let srv: TestServer;
const c = new Map<string, TestClient>();
const person = (u: string): Person => ({ userId: `usr_${u}` as UserId, orgId: srv.app.dir.user(`usr_${u}` as UserId)!.orgId });

beforeAll(async () => {
  srv = await startTestServer({ commandsPerSecond: 10_000 });
  for (const u of new Set<string>([...ROOM_CANDIDATES, ...PARTNERS])) c.set(u, await TestClient.connect(srv.url, u));
});

afterAll(async () => {
  for (const cl of c.values()) cl.close();
  await srv?.close();
  if (srv) fs.rmSync(srv.dataDir, { recursive: true, force: true });
});

async function afternoon(steps: Step[]): Promise<void> {
  const chair = c.get('regisseur')!;
  const created = await chair.cmd('case:create', {
    tableId: 'tbl_topx' as never,
    title: 'Casus P.',
    subjectNote: '',
    goal: 'Rust in de wijk.',
    participants: NAMED.map(([u, orgId, role]) => ({ orgId: orgId as OrgId, role, userIds: [`usr_${u}` as UserId] })),
    persons: [{ name: 'Betrokkene', birthDate: '1990-01-01' }],
    informDueDate: '2026-12-31',
  });
  if (!created.ok) throw new Error(created.error.code);
  const caseId: CaseId = created.data.caseId;
  const meetingId: MeetingId = (await planMeeting(chair)).id;
  await chair.cmd('agenda:schedule', { caseId, meetingId, start: '09:00', end: '09:30' });
  await chair.cmd('agenda:begin', { caseId, meetingId });
  const screen = await RoomScreenClient.connect(srv.url, await screenToken(chair, meetingId));
  await screen.waitFor(() => true);
  const items: ItemId[] = [];
  let room: string[] = [];
  let n = 0;
  try {
    for (const [i, s] of [...steps, { kind: 'toggle' } as Step].entries()) {
      const from = screen.views.length;
      switch (s.kind) {
        case 'add': {
          const r = await c.get(s.by)!.cmd('item:add', {
            caseId,
            phase: 'beeldvorming',
            text: `[#${++n}] van ${s.by}.`,
            visibility: s.to ? { kind: 'orgs', orgIds: s.to } : { kind: 'table' },
          });
          if (r.ok) items.push(r.data.itemId);
          break;
        }
        case 'visibility':
        case 'withdraw': {
          if (items.length === 0) break;
          const itemId = items[s.item % items.length]!;
          const owner = srv.app.cases.get(caseId)!.items.get(itemId)!.orgId;
          const by = c.get(NAMED.find(([, org]) => org === owner)![0])!;
          if (s.kind === 'withdraw') await by.cmd('item:withdraw', { caseId, itemId });
          else await by.cmd('item:setVisibility', { caseId, itemId, visibility: s.to ? { kind: 'orgs', orgIds: s.to } : { kind: 'table' } });
          break;
        }
        case 'room': {
          const enter = s.people.filter((u) => !room.includes(u)).map((u) => `usr_${u}`);
          const leave = room.filter((u) => !(s.people as string[]).includes(u)).map((u) => `usr_${u}`);
          if (enter.length + leave.length > 0) expect((await chair.http('POST', `/api/meetings/${meetingId}/room`, { enter, leave })).status).toBe(200);
          room = [...s.people];
          break;
        }
        case 'enter': {
          expect((await c.get(s.who)!.http('POST', `/api/meetings/${meetingId}/room/me`)).status).toBe(200);
          if (!room.includes(s.who)) room.push(s.who);
          break;
        }
        case 'toggle': {
          const running = srv.app.cases.get(caseId)!.agenda[0]!.state === 'running';
          await chair.cmd(running ? 'agenda:end' : 'agenda:begin', { caseId, meetingId });
          break;
        }
      }
      await srv.app.cases.withCase(caseId, async () => undefined);
      const state = replay(await srv.app.store.readEvents(caseId));
      const people = room.map(person);
      // A step that changes what the room may see is sent by itself, without anything after it.
      if (judgeRoomView(screen.views.at(-1)!, state!, meetingId, people).length > 0)
        await screen.waitFor((v) => judgeRoomView(v, state!, meetingId, people).length === 0, from);
      // A marker the screen is sent once all before it was: every view since `from` came of this step.
      const probe = `Zaal ${i}`;
      expect((await chair.http('PATCH', `/api/meetings/${meetingId}`, { place: probe })).status).toBe(200);
      await screen.waitFor((v) => v.meeting.place === probe, from);
      for (const view of screen.views.slice(from)) {
        const problems = judgeRoomView(view, state!, meetingId, people);
        if (problems.length > 0) throw new Error(`step ${i} ${JSON.stringify(s)}, room ${room.join(',')}: ${problems.join('; ')}`);
      }
    }
  } finally {
    screen.close();
    await chair.http('POST', `/api/meetings/${meetingId}/close`);
  }
}

describe('R-ROOM property: the room screen shows exactly what everyone in the room may see', () => {
  it(
    'R-ROOM R-NEED R-TAKEHOME: random arrivals, departures and board changes',
    async () => {
      await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 4, maxLength: 14 }), afternoon), { numRuns: RUNS, seed: propertySeed(), verbose: 1 });
    },
    timeoutFor(RUNS, 3_000),
  );
});

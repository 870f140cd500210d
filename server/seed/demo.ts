import type { AgendaState, Meeting, Organisation, Participant, Table, UserRole } from '../../shared/domain.js';
import { newId, type CaseId, type ItemId, type MeetingId, type OrgId, type PersonId, type TableId, type UserId } from '../../shared/ids.js';
import { hashPassword } from '../auth/passwords.js';
import type { Logger } from '../log.js';
import { houseDay } from '../../shared/day.js';
import type { CaseEvent } from '../cases/events.js';
import { openInforming } from '../cases/commands/persons.js';
import { VersionConflictError, type DirectoryStore, type EventLog, type MetaStore } from '../store/types.js';

/** What seeding writes: the directory, the demo cases' logs, and the marks of what is done. */
type SeedStore = DirectoryStore & EventLog & MetaStore;

/** The password of every demo account (README lists the accounts). */
export const DEMO_PASSWORD = 'casusbord-demo';

const ORGS: [OrgId, string, string, string, Organisation['kind'], boolean][] = [
  ['org_zvh' as OrgId, 'Zorg- en Veiligheidshuis Fryslân', 'ZVH', '#2f4858', 'zvh', true],
  ['org_politie' as OrgId, 'Politie Noord-Nederland', 'Politie', '#1d4ed8', 'partner', true],
  ['org_reclassering' as OrgId, 'Reclassering Nederland', 'Reclassering', '#7c3aed', 'partner', true],
  ['org_om' as OrgId, 'Openbaar Ministerie Noord-Nederland', 'OM', '#9f1239', 'partner', true],
  ['org_ggz' as OrgId, 'GGZ Friesland', 'GGZ', '#0f766e', 'partner', true],
  ['org_leeuwarden' as OrgId, 'Gemeente Leeuwarden', 'Gem. Leeuwarden', '#c2410c', 'partner', true],
  ['org_veiligthuis' as OrgId, 'Veilig Thuis Friesland', 'Veilig Thuis', '#a16207', 'partner', true],
  ['org_elkien' as OrgId, 'Elkien (woningcorporatie)', 'Elkien', '#15803d', 'partner', true],
  // Not a signatory: shows that R-PROTOCOL keeps it off every case table.
  ['org_walde' as OrgId, 'Stichting Thuisbegeleiding Wâldwei', 'Wâldwei', '#64748b', 'partner', false],
];

const USERS: [string, string, OrgId, UserRole[]][] = [
  ['regisseur', 'Marieke Hoekstra', 'org_zvh' as OrgId, ['chair']],
  ['regisseur2', 'Sjoerd de Jong', 'org_zvh' as OrgId, ['chair']],
  ['beheer', 'Anke Visser', 'org_zvh' as OrgId, ['admin']],
  ['privacy', 'Sietske Hoogland', 'org_zvh' as OrgId, ['privacy']],
  ['politie', 'Jan Dijkstra', 'org_politie' as OrgId, []],
  ['politie2', 'Hessel Bouma', 'org_politie' as OrgId, []],
  ['reclassering', 'Fenna Postma', 'org_reclassering' as OrgId, []],
  ['om', 'Pieter van der Meer', 'org_om' as OrgId, []],
  ['ggz', 'Klaske Wijnia', 'org_ggz' as OrgId, []],
  ['ggz2', 'Tjeerd Zijlstra', 'org_ggz' as OrgId, []],
  ['gemeente', 'Ytsje de Boer', 'org_leeuwarden' as OrgId, []],
  ['veiligthuis', 'Geartsje Kuipers', 'org_veiligthuis' as OrgId, []],
  ['woning', 'Rients Jansma', 'org_elkien' as OrgId, []],
  ['thuisbegeleiding', 'Baukje Terpstra', 'org_walde' as OrgId, []],
];

const TABLES: Table[] = [
  { id: 'tbl_topx' as TableId, name: 'Top X-aanpak', description: 'Personen die veel overlast en criminaliteit veroorzaken en zorg nodig hebben.' },
  { id: 'tbl_hg' as TableId, name: 'Huiselijk geweld', description: 'Gezinnen waar geweld speelt en hulp en veiligheid samen moeten komen.' },
];

const uid = (username: string): UserId => `usr_${username}` as UserId;
const p = (orgId: string, role: Participant['role'], ...users: string[]): Participant => ({
  orgId: orgId as OrgId,
  role,
  userIds: users.map(uid),
});

interface DemoMeeting {
  key: string;
  table: TableId;
  /** Days from the first start. */
  day: number;
  startTime: string;
  endTime: string;
  place: string;
  onlineUrl: string | null;
  chair: string;
}

// This afternoon's meetings of both tables, each with its first case under discussion, and the
// next Top X meeting a week later: `npm start` opens on a meeting in progress.
const MEETINGS: DemoMeeting[] = [
  {
    key: 'topx-today',
    table: 'tbl_topx' as TableId,
    day: 0,
    startTime: '13:00',
    endTime: '16:00',
    place: 'Zorg- en Veiligheidshuis, Leeuwarden, zaal 2.14',
    onlineUrl: 'https://overleg.example.nl/topx',
    chair: 'regisseur',
  },
  {
    key: 'hg-today',
    table: 'tbl_hg' as TableId,
    day: 0,
    startTime: '14:00',
    endTime: '16:30',
    place: 'Gemeentehuis Sneek, kamer 1.05',
    onlineUrl: null,
    chair: 'regisseur2',
  },
  {
    key: 'topx-next',
    table: 'tbl_topx' as TableId,
    day: 7,
    startTime: '13:00',
    endTime: '16:00',
    place: 'Zorg- en Veiligheidshuis, Leeuwarden, zaal 2.14',
    onlineUrl: 'https://overleg.example.nl/topx',
    chair: 'regisseur',
  },
];

interface DemoItem {
  by: string;
  phase: 'beeldvorming' | 'oordelen' | 'besluiten';
  text: string;
  onlyFor?: string[];
}

interface DemoCase {
  /** Stable name of the case in the seed, for its id in meta (`demo-case:<key>`). */
  key: string;
  table: TableId;
  title: string;
  subjectNote: string;
  goal: string;
  participants: Participant[];
  /** The persons it concerns: [name, birth date]. */
  persons: [string, string][];
  informer: string;
  due: string;
  phase?: 'oordelen' | 'besluiten';
  items: DemoItem[];
  /** Its slots: in the meeting (by key), and whether it is under discussion now. */
  agenda: { meeting: string; start: string; end: string; state: Exclude<AgendaState, 'done'> }[];
  /** R-RETAIN: closed this many days ago, purged in `purgeInDays` (the demo shows a purge that is near). */
  closed?: { decision: string; daysAgo: number; purgeInDays: number };
}

const CASES: DemoCase[] = [
  {
    key: 'topx-r',
    table: 'tbl_topx' as TableId,
    title: 'Casus R. (1991), Leeuwarden-Oost',
    subjectNote: 'Man, 35 jaar, woont alleen in een huurwoning in Leeuwarden-Oost.',
    goal: 'De overlast en dreiging in de wijk stoppen en R. toeleiden naar passende zorg en woonbegeleiding.',
    participants: [
      p('org_zvh', 'voorzitter', 'regisseur'),
      p('org_politie', 'aanmelder', 'politie', 'politie2'),
      p('org_om', 'deelnemer', 'om'),
      p('org_ggz', 'deelnemer', 'ggz'),
      p('org_leeuwarden', 'deelnemer', 'gemeente'),
      p('org_elkien', 'deelnemer', 'woning'),
    ],
    persons: [['Ronald R.', '1991-03-14']],
    informer: 'org_politie',
    due: '2026-12-04',
    agenda: [
      { meeting: 'topx-today', start: '13:00', end: '13:45', state: 'running' },
      { meeting: 'topx-next', start: '13:00', end: '13:30', state: 'planned' },
    ],
    items: [
      {
        by: 'politie',
        phase: 'beeldvorming',
        text: 'Sinds januari 14 meldingen van geluidsoverlast en twee van bedreiging van buren. Wijkagent heeft R. drie keer gesproken; hij erkent de overlast maar zegt dat buren hem provoceren.',
      },
      {
        by: 'politie',
        phase: 'beeldvorming',
        text: 'Lopend onderzoek naar bedreiging met een mes op 12 oktober. Aangifte door buurvrouw; nog niet met R. besproken.',
        onlyFor: ['org_om'],
      },
      {
        by: 'om',
        phase: 'beeldvorming',
        text: 'Zaak bedreiging ligt ter beoordeling bij de officier. Mogelijkheid van een voorwaardelijk sepot met bijzondere voorwaarden (behandeling) wordt bekeken.',
        onlyFor: ['org_politie'],
      },
      {
        by: 'ggz',
        phase: 'beeldvorming',
        text: 'R. was tot 2025 in zorg bij het FACT-team; contact is door hem verbroken. Er is zorg over terugval in middelengebruik.',
      },
      {
        by: 'woning',
        phase: 'beeldvorming',
        text: 'Huurachterstand van vier maanden. Ontruimingsprocedure is in voorbereiding maar kan worden aangehouden als er begeleiding komt.',
      },
      { by: 'gemeente', phase: 'beeldvorming', text: 'Bekend bij het wijkteam; bewindvoering is aangevraagd en wacht op de rechtbank.' },
    ],
  },
  {
    key: 'hg-b',
    table: 'tbl_hg' as TableId,
    title: 'Gezin B., Sneek',
    subjectNote: 'Moeder, vader en twee kinderen (4 en 7 jaar).',
    goal: 'De veiligheid van moeder en kinderen herstellen en duurzaam borgen.',
    participants: [
      p('org_zvh', 'voorzitter', 'regisseur2'),
      p('org_veiligthuis', 'aanmelder', 'veiligthuis'),
      p('org_politie', 'deelnemer', 'politie'),
      p('org_ggz', 'deelnemer', 'ggz2'),
      p('org_leeuwarden', 'deelnemer', 'gemeente'),
    ],
    persons: [
      ['Sandra B.', '1990-06-02'],
      ['Mark B.', '1988-01-20'],
      ['Emma B.', '2019-05-11'],
      ['Daan B.', '2022-02-08'],
    ],
    informer: 'org_veiligthuis',
    due: '2026-12-01',
    agenda: [{ meeting: 'hg-today', start: '14:00', end: '14:45', state: 'running' }],
    items: [
      {
        by: 'veiligthuis',
        phase: 'beeldvorming',
        text: 'Drie meldingen in een half jaar, de laatste van school: oudste kind vertelde over ruzies met geschreeuw en een kapotte deur.',
      },
      {
        by: 'politie',
        phase: 'beeldvorming',
        text: 'Op 2 november huiselijk-geweldincident, vader aangehouden en na verhoor heengezonden. Tijdelijk huisverbod overwogen maar niet opgelegd.',
      },
      { by: 'ggz2', phase: 'beeldvorming', text: 'Vader is aangemeld voor agressieregulatietraining; intake gepland.', onlyFor: ['org_veiligthuis'] },
    ],
  },
  {
    key: 'topx-t',
    table: 'tbl_topx' as TableId,
    title: 'Casus T. (1984), Heerenveen',
    subjectNote: 'Man, 42 jaar, sinds september met proeftijd na detentie.',
    goal: 'Recidive voorkomen en een stabiele dagbesteding en woonplek realiseren.',
    participants: [
      p('org_zvh', 'voorzitter', 'regisseur'),
      p('org_reclassering', 'aanmelder', 'reclassering'),
      p('org_om', 'deelnemer', 'om'),
      p('org_ggz', 'deelnemer', 'ggz'),
      p('org_politie', 'deelnemer', 'politie2'),
    ],
    persons: [['Thomas T.', '1984-09-30']],
    informer: 'org_reclassering',
    due: '2026-11-20',
    phase: 'oordelen',
    agenda: [{ meeting: 'topx-today', start: '13:45', end: '14:30', state: 'planned' }],
    items: [
      { by: 'reclassering', phase: 'beeldvorming', text: 'Houdt zich aan meldplicht; twee keer positief getest op cocaïne in oktober.' },
      { by: 'politie2', phase: 'beeldvorming', text: 'Gezien in gezelschap van bekenden uit het drugsmilieu in Heerenveen-Centrum.' },
      {
        by: 'ggz',
        phase: 'oordelen',
        text: 'Verslavingsbehandeling in klinische setting is mogelijk binnen zes weken; voorkeur voor ambulante start.',
        onlyFor: ['org_reclassering'],
      },
    ],
  },
  {
    key: 'topx-w',
    table: 'tbl_topx' as TableId,
    title: 'Casus W. (1968), Drachten',
    subjectNote: 'Man, 58 jaar; casus in 2024 afgesloten.',
    goal: 'Woonoverlast beëindigen en de huur weer op orde.',
    participants: [p('org_zvh', 'voorzitter', 'regisseur'), p('org_reclassering', 'aanmelder', 'reclassering'), p('org_elkien', 'deelnemer', 'woning')],
    persons: [['Willem W.', '1968-07-21']],
    informer: 'org_reclassering',
    due: '2024-12-01',
    phase: 'oordelen',
    agenda: [],
    items: [
      { by: 'reclassering', phase: 'beeldvorming', text: 'Toezicht is in november 2024 zonder bijzonderheden afgerond.' },
      { by: 'woning', phase: 'beeldvorming', text: 'Huurachterstand is ingelopen; geen klachten van buren meer.' },
    ],
    closed: { decision: 'Doel bereikt: geen overlast meer, de huur wordt betaald.', daysAgo: 727, purgeInDays: 3 },
  },
];

/**
 * First-start demo data: the Frisian partners, their people, two tables, this afternoon's meetings
 * and three cases on their agendas. It
 * writes only what is missing, so running it again completes a seed that stopped half-way (a
 * crash, a kill), and two processes seeding one Redis at once leave one copy. Of two such
 * processes, both may find a person missing and both write it: the same record. (Had an admin on
 * the process that finished first changed it between the other's read and write, a few store
 * round trips apart, that change would be undone; the hash is made before the read to keep that
 * moment short.)
 */
export async function seedDemo(store: SeedStore, opts: { halfway?: () => Promise<void> } = {}): Promise<void> {
  const orgs = new Set((await store.listOrgs()).map((o) => o.id));
  for (const [id, name, shortName, colour, kind, signed] of ORGS) {
    if (orgs.has(id)) continue;
    await store.putOrg({
      id,
      name,
      shortName,
      colour,
      kind,
      protocolSignedAt: signed ? '2025-03-01T09:00:00.000Z' : null,
      protocolSignedBy: signed ? 'Directie' : null,
    });
  }
  // One hash for the shared demo password keeps first start quick.
  const passwordHash = await hashPassword(DEMO_PASSWORD);
  const users = new Set((await store.listUsers()).map((u) => u.id));
  for (const [username, displayName, orgId, roles] of USERS.filter(([name]) => !users.has(uid(name)))) {
    await store.putUser({ id: uid(username), username, displayName, orgId, roles, active: true, passwordHash });
  }
  const tables = new Set((await store.listTables()).map((t) => t.id));
  for (const t of TABLES) if (!tables.has(t.id)) await store.putTable(t);

  const meetingIds = new Map<string, MeetingId>();
  const meetings = new Set((await store.listMeetings()).map((m) => m.id));
  for (const m of MEETINGS) {
    const id = (await store.initMeta(`demo-meeting:${m.key}`, newId<MeetingId>('mt'))) as MeetingId;
    meetingIds.set(m.key, id);
    if (meetings.has(id)) continue;
    const meeting: Meeting = {
      id,
      tableId: m.table,
      date: houseDay(m.day),
      startTime: m.startTime,
      endTime: m.endTime,
      place: m.place,
      onlineUrl: m.onlineUrl,
      chairUserId: uid(m.chair),
      closedAt: null,
      createdAt: new Date().toISOString(),
    };
    await store.putMeeting(meeting);
  }

  const orgOf = new Map<UserId, OrgId>(USERS.map(([username, , orgId]) => [uid(username), orgId]));
  for (const [n, c] of CASES.entries()) {
    if (n === 1 && opts.halfway) await opts.halfway();
    // The case's id is kept before its events: a seed that runs again, or on another process at
    // the same time, appends to that same case at version 0, and only the first append lands.
    const caseId = (await store.initMeta(`demo-case:${c.key}`, newId<CaseId>('cs'))) as CaseId;
    const chair = c.participants.find((x) => x.role === 'voorzitter')!.userIds[0]!;
    const events: { e: CaseEvent; by: UserId }[] = [
      {
        by: chair,
        e: {
          type: 'case.created',
          payload: {
            caseId,
            tableId: c.table,
            title: c.title,
            subjectNote: c.subjectNote,
            goal: c.goal,
            participants: c.participants,
            persons: c.persons.map(([name, birthDate]) => ({
              personId: newId<PersonId>('prs'),
              name,
              birthDate,
              bsn: null,
              informing: openInforming(c.informer as OrgId, c.due),
            })),
          },
        },
      },
    ];
    if (c.phase) events.push({ by: chair, e: { type: 'case.phaseSet', payload: { phase: c.phase } } });
    for (const i of c.items) {
      const by = uid(i.by);
      // Its document starts from this event's text (genesisUpdate in server/collab/text.ts).
      const textDocId = newId('doc');
      events.push({
        by,
        e: {
          type: 'item.added',
          payload: {
            itemId: newId<ItemId>('it'),
            orgId: orgOf.get(by)!,
            authorId: by,
            phase: i.phase,
            text: i.text,
            visibility: i.onlyFor ? { kind: 'orgs', orgIds: i.onlyFor as OrgId[] } : { kind: 'table' },
            goalVersion: 1,
            textDocId,
          },
        },
      });
    }
    for (const a of c.agenda) {
      const meetingId = meetingIds.get(a.meeting)!;
      events.push({ by: chair, e: { type: 'case.agendaScheduled', payload: { meetingId, start: a.start, end: a.end, minutesDocId: newId('doc') } } });
      if (a.state === 'running') events.push({ by: chair, e: { type: 'case.discussionBegan', payload: { meetingId } } });
    }
    // A closed case was made and closed long ago: its log says so.
    const at = new Date(Date.now() - (c.closed ? c.closed.daysAgo + 60 : 0) * 86_400_000).toISOString();
    const timed = events.map(({ e, by }) => ({ type: e.type, payload: e.payload, at, actorUserId: by, actorOrgId: orgOf.get(by)! }));
    if (c.closed) {
      const closedOn = houseDay(-c.closed.daysAgo);
      timed.push({
        type: 'case.closed',
        payload: { decision: c.closed.decision, closedOn, retainUntil: houseDay(c.closed.purgeInDays) },
        at: new Date(Date.now() - c.closed.daysAgo * 86_400_000).toISOString(),
        actorUserId: chair,
        actorOrgId: orgOf.get(chair)!,
      });
    }
    try {
      await store.appendEvents(caseId, 0, timed);
    } catch (e) {
      // Already there: an earlier run, or another process, stored this case.
      if (!(e instanceof VersionConflictError)) throw e;
    }
  }
}

/**
 * Seeds the demo data once per store: whoever finds it unfinished runs the seed (which completes
 * what is missing), and the mark that it is done is written last. A start that dies half-way thus
 * leaves a store the next start completes; several processes starting on one store each finish it.
 */
export async function ensureDemoData(store: SeedStore, log: Logger, opts: { holdHalfway?: boolean } = {}): Promise<void> {
  if (await store.getMeta('seeded')) return;
  await seedDemo(store, opts.holdHalfway ? { halfway: () => holdUntilKilled(log) } : {});
  await store.initMeta('seeded', new Date().toISOString());
  log.info('demo data seeded');
}

/** TEST_HOLD_DEMO_SEED: a first start that a test kills half-way through its seed. */
function holdUntilKilled(log: Logger): Promise<never> {
  log.warn('demo data held half-way (TEST_HOLD_DEMO_SEED)');
  // A pending promise alone would let the process end; the timer keeps it waiting for its kill.
  return new Promise<never>(() => setInterval(() => undefined, 60_000));
}

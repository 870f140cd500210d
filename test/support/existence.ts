import type { z } from 'zod';
import type { CaseId } from '../../shared/ids.js';
import * as ids from '../../shared/ids.js';
import { MAX_ITEM_TEXT_CHARS } from '../../shared/limits.js';
import { CommandSchemas, type CommandName } from '../../shared/schemas.js';
import type { TestClient } from './client.js';
import { discuss, endDiscussion, planMeeting } from './meetings.js';

// P-EXIST support: which kinds of id each command names (read from its schema, so a new command
// or field is found without being listed here), a small house in which each kind exists both
// visible and hidden to a participant, and per command a payload and its shape errors.

/** A kind of id, by the name of its schema in shared/ids.ts without "Schema": CaseId, ItemId ... */
export type IdKind = string;

const KIND_OF = new Map<unknown, IdKind>(
  Object.entries(ids)
    .filter(([name]) => name.endsWith('IdSchema'))
    .map(([name, schema]) => [schema, name.slice(0, -'Schema'.length)]),
);

/** The parts of a zod definition the walk follows. */
interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  innerType?: z.ZodType;
  options?: z.ZodType[];
  in?: z.ZodType;
}

function walk(schema: z.ZodType, out: Set<IdKind>): void {
  const kind = KIND_OF.get(schema);
  if (kind) {
    out.add(kind);
    return;
  }
  const def = (schema as unknown as { _zod: { def: Def } })._zod.def;
  const next = [...Object.values(def.shape ?? {}), def.element, def.innerType, ...(def.options ?? []), def.in];
  for (const s of next) if (s) walk(s, out);
}

/** Every kind of id a command's input names, anywhere in it. */
export function idKindsOf(name: CommandName): IdKind[] {
  const out = new Set<IdKind>();
  walk(CommandSchemas[name], out);
  return [...out].sort();
}

/** One id of each kind, as a payload is built from it. */
export type Named = Record<IdKind, string>;

/** Well-formed ids that name nothing. */
export const UNKNOWN: Named = Object.fromEntries([...KIND_OF.values()].map((k) => [k, `${k.toLowerCase()}_onbekend`]));

export interface Probe {
  /** A well-formed input naming these ids. */
  payload: (n: Named) => unknown;
  /**
   * The same input with one shape error each (of the schema, a refinement or a decide-step rule),
   * leaving the named ids well-formed: an id that is itself malformed names nothing.
   */
  broken: Record<string, (n: Named) => unknown>;
}

const DUE = '2026-12-01';
const BAD_DATE = '2026-02-31';
const PERSON = { name: 'Betrokkene P.', birthDate: '1990-01-01' };

/**
 * Typed by the command table: a new command does not compile until it has a probe here. Every
 * probe also gets an unknown field as a generic shape error.
 */
export const PROBES: { [N in CommandName]: Probe } = {
  'case:open': { payload: (n) => ({ caseId: n.CaseId }), broken: { 'since too long': (n) => ({ caseId: n.CaseId, since: 'x'.repeat(201) }) } },
  'case:leave': { payload: (n) => ({ caseId: n.CaseId }), broken: {} },
  'case:print': {
    payload: (n) => ({ caseId: n.CaseId, what: 'meeneemlijst' }),
    broken: { 'something else to print': (n) => ({ caseId: n.CaseId, what: 'bord' }) },
  },
  'case:create': {
    payload: (n) => ({
      tableId: n.TableId,
      title: 'Casus X.',
      subjectNote: '',
      goal: 'doel',
      participants: [{ orgId: n.OrgId, role: 'voorzitter', userIds: [n.UserId] }],
      persons: [PERSON],
      informDueDate: DUE,
    }),
    broken: {
      'no participants': (n) => ({
        tableId: n.TableId,
        title: 'Casus X.',
        subjectNote: '',
        goal: 'doel',
        participants: [],
        persons: [PERSON],
        informDueDate: DUE,
      }),
      'person twice (decide step)': (n) => ({
        tableId: n.TableId,
        title: 'Casus X.',
        subjectNote: '',
        goal: 'doel',
        participants: [{ orgId: n.OrgId, role: 'voorzitter', userIds: [n.UserId, n.UserId] }],
        persons: [PERSON],
        informDueDate: DUE,
      }),
      'nobody concerned': (n) => ({
        tableId: n.TableId,
        title: 'Casus X.',
        subjectNote: '',
        goal: 'doel',
        participants: [{ orgId: n.OrgId, role: 'voorzitter', userIds: [n.UserId] }],
        persons: [],
        informDueDate: DUE,
      }),
    },
  },
  'case:setParticipant': {
    payload: (n) => ({ caseId: n.CaseId, participant: { orgId: n.OrgId, role: 'deelnemer', userIds: [n.UserId] } }),
    broken: {
      'nobody named': (n) => ({ caseId: n.CaseId, participant: { orgId: n.OrgId, role: 'deelnemer', userIds: [] } }),
      'person twice (decide step)': (n) => ({ caseId: n.CaseId, participant: { orgId: n.OrgId, role: 'deelnemer', userIds: [n.UserId, n.UserId] } }),
    },
  },
  'case:removeParticipant': { payload: (n) => ({ caseId: n.CaseId, orgId: n.OrgId }), broken: { 'no organisation': (n) => ({ caseId: n.CaseId }) } },
  'case:setPhase': { payload: (n) => ({ caseId: n.CaseId, phase: 'oordelen' }), broken: { 'unknown phase': (n) => ({ caseId: n.CaseId, phase: 'afgerond' }) } },
  'case:close': {
    payload: (n) => ({ caseId: n.CaseId, decision: 'Doel bereikt.', closedOn: DUE }),
    broken: {
      'no decision': (n) => ({ caseId: n.CaseId, decision: ' ', closedOn: DUE }),
      'no such day': (n) => ({ caseId: n.CaseId, decision: 'Doel bereikt.', closedOn: BAD_DATE }),
    },
  },
  'case:extendRetention': {
    payload: (n) => ({ caseId: n.CaseId, until: '2030-01-01', reason: 'Lopende procedure.' }),
    broken: { 'no reason': (n) => ({ caseId: n.CaseId, until: '2030-01-01', reason: '' }) },
  },
  'person:add': {
    payload: (n) => ({ caseId: n.CaseId, person: PERSON, informerOrgId: n.OrgId, informDueDate: DUE }),
    broken: {
      'no such birth day': (n) => ({ caseId: n.CaseId, person: { ...PERSON, birthDate: BAD_DATE }, informerOrgId: n.OrgId, informDueDate: DUE }),
      'a BSN that fails the eleven test': (n) => ({ caseId: n.CaseId, person: { ...PERSON, bsn: '123456789' }, informerOrgId: n.OrgId, informDueDate: DUE }),
    },
  },
  'person:edit': {
    payload: (n) => ({ caseId: n.CaseId, personId: n.PersonId, person: PERSON }),
    broken: { 'no name': (n) => ({ caseId: n.CaseId, personId: n.PersonId, person: { ...PERSON, name: ' ' } }) },
  },
  'person:remove': { payload: (n) => ({ caseId: n.CaseId, personId: n.PersonId }), broken: {} },
  'person:setInforming': {
    payload: (n) => ({ caseId: n.CaseId, personId: n.PersonId, informing: { status: 'done', informerOrgId: n.OrgId, dueDate: DUE } }),
    broken: {
      'no such day': (n) => ({ caseId: n.CaseId, personId: n.PersonId, informing: { status: 'done', informerOrgId: n.OrgId, dueDate: BAD_DATE } }),
      'postponed without ground': (n) => ({
        caseId: n.CaseId,
        personId: n.PersonId,
        informing: { status: 'postponed', informerOrgId: n.OrgId, dueDate: DUE, reviewDate: DUE },
      }),
    },
  },
  'item:restrict': {
    payload: (n) => ({ caseId: n.CaseId, itemId: n.ItemId, ground: 'Lopend strafrechtelijk onderzoek.' }),
    broken: { 'no ground': (n) => ({ caseId: n.CaseId, itemId: n.ItemId, ground: '' }) },
  },
  'item:add': {
    payload: (n) => ({ caseId: n.CaseId, phase: 'beeldvorming', text: 'inbreng', visibility: { kind: 'table' } }),
    broken: {
      'text too long': (n) => ({ caseId: n.CaseId, phase: 'beeldvorming', text: 'x'.repeat(MAX_ITEM_TEXT_CHARS + 1), visibility: { kind: 'table' } }),
      'organisation twice (decide step)': (n) => ({
        caseId: n.CaseId,
        phase: 'beeldvorming',
        text: 'inbreng',
        visibility: { kind: 'orgs', orgIds: [n.OrgId, n.OrgId] },
      }),
    },
  },
  'item:edit': {
    payload: (n) => ({ caseId: n.CaseId, itemId: n.ItemId, text: 'bewerkt' }),
    broken: {
      'nothing to change (refinement)': (n) => ({ caseId: n.CaseId, itemId: n.ItemId }),
      'empty text': (n) => ({ caseId: n.CaseId, itemId: n.ItemId, text: ' ' }),
    },
  },
  'item:setVisibility': {
    payload: (n) => ({ caseId: n.CaseId, itemId: n.ItemId, visibility: { kind: 'table' } }),
    broken: {
      'organisation twice (decide step)': (n) => ({ caseId: n.CaseId, itemId: n.ItemId, visibility: { kind: 'orgs', orgIds: [n.OrgId, n.OrgId] } }),
      'unknown kind': (n) => ({ caseId: n.CaseId, itemId: n.ItemId, visibility: { kind: 'iedereen' } }),
    },
  },
  'item:withdraw': { payload: (n) => ({ caseId: n.CaseId, itemId: n.ItemId }), broken: {} },
  'goal:propose': { payload: (n) => ({ caseId: n.CaseId, text: 'een nieuw doel' }), broken: { 'empty text': (n) => ({ caseId: n.CaseId, text: '' }) } },
  'goal:cancel': { payload: (n) => ({ caseId: n.CaseId }), broken: {} },
  'consent:request': {
    payload: (n) => ({ caseId: n.CaseId, itemIds: [n.ItemId], purpose: 'hergebruik' }),
    broken: {
      'item twice (refinement)': (n) => ({ caseId: n.CaseId, itemIds: [n.ItemId, n.ItemId], purpose: 'hergebruik' }),
      'no such day': (n) => ({ caseId: n.CaseId, itemIds: [n.ItemId], purpose: 'hergebruik', deadline: BAD_DATE }),
    },
  },
  'consent:answer': {
    payload: (n) => ({ caseId: n.CaseId, requestId: n.ConsentId, answers: [{ itemId: n.ItemId, answer: 'yes' }] }),
    broken: {
      // The case issue 13 names: it told an existing request from an unknown one.
      'item twice (decide step)': (n) => ({
        caseId: n.CaseId,
        requestId: n.ConsentId,
        answers: [
          { itemId: n.ItemId, answer: 'yes' },
          { itemId: n.ItemId, answer: 'yes' },
        ],
      }),
      'a no without reason (refinement)': (n) => ({ caseId: n.CaseId, requestId: n.ConsentId, answers: [{ itemId: n.ItemId, answer: 'no' }] }),
      'unknown answer': (n) => ({ caseId: n.CaseId, requestId: n.ConsentId, answers: [{ itemId: n.ItemId, answer: 'misschien' }] }),
    },
  },
  'decision:add': {
    payload: (n) => ({ caseId: n.CaseId, text: 'besluit' }),
    broken: {
      'empty text': (n) => ({ caseId: n.CaseId, text: '' }),
      'no such visibility': (n) => ({ caseId: n.CaseId, text: 'besluit', visibility: { kind: 'iedereen' } }),
    },
  },
  'decision:setVisibility': {
    payload: (n) => ({ caseId: n.CaseId, decisionId: n.DecisionId, visibility: { kind: 'table' } }),
    broken: { 'no such visibility': (n) => ({ caseId: n.CaseId, decisionId: n.DecisionId, visibility: { kind: 'orgs' } }) },
  },
  'intervention:setVisibility': {
    payload: (n) => ({ caseId: n.CaseId, interventionId: n.InterventionId, visibility: { kind: 'table' } }),
    broken: { 'no such visibility': (n) => ({ caseId: n.CaseId, interventionId: n.InterventionId, visibility: { kind: 'orgs', orgIds: 'org_om' } }) },
  },
  'intervention:add': {
    payload: (n) => ({ caseId: n.CaseId, what: 'interventie', orgId: n.OrgId, itemIds: [n.ItemId] }),
    broken: {
      'item twice (refinement)': (n) => ({ caseId: n.CaseId, what: 'interventie', orgId: n.OrgId, itemIds: [n.ItemId, n.ItemId] }),
      'no such day': (n) => ({ caseId: n.CaseId, what: 'interventie', orgId: n.OrgId, itemIds: [n.ItemId], dueDate: BAD_DATE }),
    },
  },
  'intervention:remove': {
    payload: (n) => ({ caseId: n.CaseId, interventionId: n.InterventionId }),
    broken: {},
  },
  'agenda:schedule': {
    payload: (n) => ({ caseId: n.CaseId, meetingId: n.MeetingId, start: '10:00', end: '10:30' }),
    broken: {
      'end before start (refinement)': (n) => ({ caseId: n.CaseId, meetingId: n.MeetingId, start: '10:30', end: '10:00' }),
      'no such time': (n) => ({ caseId: n.CaseId, meetingId: n.MeetingId, start: '24:00', end: '24:30' }),
    },
  },
  'agenda:unschedule': { payload: (n) => ({ caseId: n.CaseId, meetingId: n.MeetingId }), broken: {} },
  'agenda:move': {
    payload: (n) => ({ caseId: n.CaseId, fromMeetingId: n.MeetingId, meetingId: `${n.MeetingId}x`, start: '10:00', end: '10:30' }),
    broken: {
      'to the same meeting (refinement)': (n) => ({ caseId: n.CaseId, fromMeetingId: n.MeetingId, meetingId: n.MeetingId, start: '10:00', end: '10:30' }),
    },
  },
  'agenda:begin': { payload: (n) => ({ caseId: n.CaseId, meetingId: n.MeetingId }), broken: {} },
  'agenda:end': { payload: (n) => ({ caseId: n.CaseId, meetingId: n.MeetingId }), broken: {} },
};

/** Every shape error of a probe, with the generic one: a field the command does not have. */
export function shapeErrors(p: Probe): [string, (n: Named) => unknown][] {
  return [...Object.entries(p.broken), ['unknown field', (n) => ({ ...(p.payload(n) as object), onbekend: true })]];
}

/** What one participant may and may not see of the house built by buildHouse. */
export interface Sight {
  username: string;
  /** One id of each kind that it may see. */
  visible: Named;
  /**
   * Per kind, ids that exist but are hidden from it, each as overrides of `visible` (so a hidden
   * case comes with the hidden things in it, and a hidden item in a visible case stands alone).
   */
  hidden: Partial<Record<IdKind, Named[]>>;
  /** Kinds every user may see (the directory lists them to all): nothing of them is hidden. */
  public: IdKind[];
  /** The cases whose versions must not move while refusals are tried. */
  cases: CaseId[];
  /**
   * Its own withdrawn items: hidden from it everywhere but `item:restrict`, by which a contributor
   * keeps one out of an art. 15 report (the log still holds it).
   */
  ownWithdrawn: string[];
}

type Clients = Record<'regisseur' | 'regisseur2' | 'politie' | 'om' | 'ggz', TestClient>;

const p = (org: string, role: string, ...users: string[]) => ({ orgId: `org_${org}`, role, userIds: users.map((u) => `usr_${u}`) });

async function ok<T>(c: TestClient, name: CommandName, input: unknown): Promise<T> {
  const r = await c.raw(name, input);
  if (!r.ok) throw new Error(`${c.username} ${name}: ${r.error.code} ${r.error.message}`);
  return r.data as T;
}

/**
 * A house in which every kind of id a command names exists visible and hidden to `ggz` (partner)
 * and to `regisseur` (chair of case V): a case with a hidden item restricted to another
 * organisation, a withdrawn one, one hidden after the meeting closed, a request and an
 * intervention of others; a case where its organisation sits but not the person; one without it.
 */
export async function buildHouse(c: Clients): Promise<{ ggz: Sight; regisseur: Sight }> {
  const create = async (by: TestClient, participants: ReturnType<typeof p>[]) =>
    (
      await ok<{ caseId: CaseId }>(by, 'case:create', {
        tableId: 'tbl_topx',
        title: 'Casus P.',
        subjectNote: '',
        goal: 'doel',
        participants,
        persons: [PERSON],
        informDueDate: DUE,
      })
    ).caseId;
  const V = await create(c.regisseur, [
    p('zvh', 'voorzitter', 'regisseur'),
    p('politie', 'aanmelder', 'politie'),
    p('ggz', 'deelnemer', 'ggz'),
    p('om', 'deelnemer', 'om'),
  ]);
  const H = await create(c.regisseur2, [
    p('zvh', 'voorzitter', 'regisseur2'),
    p('politie', 'aanmelder', 'politie'),
    p('ggz', 'deelnemer', 'ggz2'),
    p('om', 'deelnemer', 'om'),
  ]);
  const Hx = await create(c.regisseur2, [p('zvh', 'voorzitter', 'regisseur2'), p('politie', 'aanmelder', 'politie'), p('om', 'deelnemer', 'om')]);
  // Cases are open for discussion only in a meeting: V and H are discussed now.
  const M = await discuss(c.regisseur, V);
  await discuss(c.regisseur2, H, (await planMeeting(c.regisseur2)).id);
  const add = async (by: TestClient, caseId: CaseId, visibility: unknown) =>
    (await ok<{ itemId: string }>(by, 'item:add', { caseId, phase: 'beeldvorming', text: 'inbreng', visibility })).itemId;
  const table = { kind: 'table' };
  const pTable = await add(c.politie, V, table);
  const pOm = await add(c.politie, V, { kind: 'orgs', orgIds: ['org_om'] });
  const gOwn = await add(c.ggz, V, table);
  const gGone = await add(c.ggz, V, table);
  await ok(c.ggz, 'item:withdraw', { caseId: V, itemId: gGone });
  const zOwn = await add(c.regisseur, V, table);
  const hItem = await add(c.politie, H, table);
  const ask = async (by: TestClient, caseId: CaseId, itemId: string) =>
    (await ok<{ requestId: string }>(by, 'consent:request', { caseId, itemIds: [itemId], purpose: 'hergebruik' })).requestId;
  const rV = await ask(c.politie, V, gOwn);
  const rH = await ask(c.om, V, pOm);
  const rZ = await ask(c.ggz, V, zOwn);
  const hReq = await ask(c.om, H, hItem);
  const toDecisions = async (chair: TestClient, caseId: CaseId) => {
    await ok(chair, 'case:setPhase', { caseId, phase: 'oordelen' });
    await ok(chair, 'case:setPhase', { caseId, phase: 'besluiten' });
  };
  const intervene = async (chair: TestClient, caseId: CaseId, orgId: string, itemIds: string[]) => {
    await ok(chair, 'intervention:add', { caseId, what: 'interventie', orgId, itemIds });
    const view = (await ok<{ view: { meta: { interventions: { id: string; orgId: string }[] } } }>(chair, 'case:open', { caseId })).view;
    return view.meta.interventions.find((i) => i.orgId === orgId)!.id;
  };
  const decide = async (chair: TestClient, caseId: CaseId, text: string, visibility?: unknown) => {
    await ok(chair, 'decision:add', { caseId, text, ...(visibility ? { visibility } : {}) });
    const view = (await ok<{ view: { meta: { decisions: { id: string; text: string }[] } } }>(chair, 'case:open', { caseId })).view;
    return view.meta.decisions.find((d) => d.text === text)!.id;
  };
  await toDecisions(c.regisseur, V);
  const iV = await intervene(c.regisseur, V, 'org_ggz', [gOwn]);
  const iH = await intervene(c.regisseur, V, 'org_om', []);
  const dV = await decide(c.regisseur, V, 'besluit voor de tafel');
  // R-NEED: a decision the chair let only the OM read.
  const dOm = await decide(c.regisseur, V, 'besluit voor het OM', { kind: 'orgs', orgIds: ['org_om'] });
  // After the meeting, others' items are seen only with consent, others' interventions not at all.
  await endDiscussion(c.regisseur, V, M);
  await toDecisions(c.regisseur2, H);
  const hIv = await intervene(c.regisseur2, H, 'org_om', []);
  const dH = await decide(c.regisseur2, H, 'besluit elders');
  const personOf = async (chair: TestClient, caseId: CaseId) =>
    (await ok<{ view: { meta: { persons: { id: string }[] } } }>(chair, 'case:open', { caseId })).view.meta.persons[0]!.id;
  const pV = await personOf(c.regisseur, V);
  const pH = await personOf(c.regisseur2, H);
  const inH = { CaseId: H, ItemId: hItem, ConsentId: hReq, InterventionId: hIv, DecisionId: dH, PersonId: pH };
  const cases = [V, H, Hx];
  // Meetings are named only by chair-only commands, and every chair may see every meeting.
  const directory = { OrgId: 'org_ggz', TableId: 'tbl_topx', MeetingId: M };
  return {
    ggz: {
      username: 'ggz',
      visible: { ...directory, CaseId: V, ItemId: gOwn, ConsentId: rV, InterventionId: iV, DecisionId: dV, UserId: 'usr_ggz', PersonId: pV },
      hidden: {
        CaseId: [inH, { CaseId: H }, { CaseId: Hx }],
        ItemId: [{ ItemId: pOm }, { ItemId: pTable }, { ItemId: gGone }, { ItemId: hItem }],
        ConsentId: [{ ConsentId: rH }, { ConsentId: hReq }],
        InterventionId: [{ InterventionId: iH }, { InterventionId: hIv }],
        DecisionId: [{ DecisionId: dOm }, { DecisionId: dH }],
        // Every participant sees the persons of its case; those of another case are hidden.
        PersonId: [{ PersonId: pH }],
        // Only chairs are given the list of people.
        UserId: [{ UserId: 'usr_politie2' }],
      },
      public: ['OrgId', 'TableId', 'MeetingId'],
      cases,
      ownWithdrawn: [gGone],
    },
    regisseur: {
      username: 'regisseur',
      visible: { ...directory, CaseId: V, ItemId: zOwn, ConsentId: rZ, InterventionId: iH, DecisionId: dOm, UserId: 'usr_ggz', PersonId: pV },
      hidden: {
        CaseId: [inH, { CaseId: H }, { CaseId: Hx }],
        ItemId: [{ ItemId: pOm }, { ItemId: pTable }, { ItemId: gOwn }, { ItemId: gGone }, { ItemId: hItem }],
        ConsentId: [{ ConsentId: rH }, { ConsentId: rV }, { ConsentId: hReq }],
        InterventionId: [{ InterventionId: hIv }],
        DecisionId: [{ DecisionId: dH }],
        PersonId: [{ PersonId: pH }],
      },
      public: ['OrgId', 'TableId', 'UserId', 'MeetingId'],
      cases,
      ownWithdrawn: [],
    },
  };
}

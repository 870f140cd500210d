import { z } from 'zod';
import { CASE_ROLES, PHASES, USER_ROLES } from './domain.js';
import {
  CaseIdSchema,
  CommandIdSchema,
  ConsentIdSchema,
  DecisionIdSchema,
  InterventionIdSchema,
  ItemIdSchema,
  MeetingIdSchema,
  OrgIdSchema,
  PersonIdSchema,
  TableIdSchema,
  UserIdSchema,
} from './ids.js';
import * as L from './limits.js';

// Strict objects: an unknown field is an error, not something silently carried along.
const text = (max: number) => z.string().trim().min(1).max(max);
// A real calendar day: Date.parse would roll 2020-02-31 over into March.
const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/)
  .refine((s) => {
    const d = new Date(`${s}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
  }, 'invalid date');

/** HH:MM on a 24-hour clock. */
export const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'invalid time');

/** A slot from `start` to `end`, later than its start. */
const slot = <T extends { start: string; end: string }>(o: z.ZodType<T>) => o.refine((v) => v.start < v.end, { message: 'end before start', path: ['end'] });

export const PhaseSchema = z.enum(PHASES);
const itemIds = z
  .array(ItemIdSchema)
  .max(L.MAX_ITEMS_PER_REQUEST)
  .refine((ids) => new Set(ids).size === ids.length, 'duplicate item');
export const CaseRoleSchema = z.enum(CASE_ROLES);

export const VisibilitySchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('table') }),
  z.strictObject({ kind: z.literal('orgs'), orgIds: z.array(OrgIdSchema).max(L.MAX_PARTICIPANTS_PER_CASE) }),
]);

export const ParticipantInputSchema = z.strictObject({
  orgId: OrgIdSchema,
  role: CaseRoleSchema,
  userIds: z.array(UserIdSchema).min(1).max(L.MAX_PEOPLE_PER_PARTICIPANT),
});

export const InformingInputSchema = z.discriminatedUnion('status', [
  z.strictObject({ status: z.literal('open'), informerOrgId: OrgIdSchema, dueDate: isoDate }),
  z.strictObject({ status: z.literal('done'), informerOrgId: OrgIdSchema, dueDate: isoDate }),
  z.strictObject({
    status: z.literal('postponed'),
    informerOrgId: OrgIdSchema,
    dueDate: isoDate,
    ground: text(L.MAX_GROUND_CHARS),
    // R-NEED: a ground such as a criminal investigation reaches only those named (the whole table when left out).
    groundVisibility: VisibilitySchema.optional(),
    reviewDate: isoDate,
  }),
]);

/** The Dutch citizen service number: nine digits that pass the eleven test (elfproef). */
export const bsnSchema = z
  .string()
  .regex(/^\d{9}$/, 'nine digits')
  .refine((s) => [...s].reduce((sum, d, i) => sum + Number(d) * (i === 8 ? -1 : 9 - i), 0) % 11 === 0, 'not a valid BSN');

/** A person a case concerns (R-INFORM); the BSN only where the house records it. */
export const PersonInputSchema = z.strictObject({
  name: text(L.MAX_PERSON_NAME_CHARS),
  birthDate: isoDate,
  bsn: bsnSchema.optional(),
});

/** Client-to-server commands, by event name. Every one is answered through its ack. */
export const CommandSchemas = {
  'case:open': z.strictObject({ caseId: CaseIdSchema, since: z.string().max(200).optional() }),
  'case:leave': z.strictObject({ caseId: CaseIdSchema }),
  // R-FILE: a print for the house's file (the plan, by the case's chair) or of one's own take-home list.
  'case:print': z.strictObject({ caseId: CaseIdSchema, what: z.enum(['plan', 'meeneemlijst']) }),
  'case:create': z.strictObject({
    tableId: TableIdSchema,
    title: text(L.MAX_CASE_TITLE_CHARS),
    subjectNote: z.string().trim().max(L.MAX_SUBJECT_NOTE_CHARS),
    goal: text(L.MAX_GOAL_CHARS),
    participants: z.array(ParticipantInputSchema).min(1).max(L.MAX_PARTICIPANTS_PER_CASE),
    persons: z.array(PersonInputSchema).min(1).max(L.MAX_PERSONS_PER_CASE),
    // R-INFORM: who informs each person at first (the aanmelder when left out), and by when.
    informerOrgId: OrgIdSchema.optional(),
    informDueDate: isoDate,
  }),
  'case:setParticipant': z.strictObject({ caseId: CaseIdSchema, participant: ParticipantInputSchema }),
  'case:removeParticipant': z.strictObject({ caseId: CaseIdSchema, orgId: OrgIdSchema }),
  'case:setPhase': z.strictObject({ caseId: CaseIdSchema, phase: PhaseSchema }),
  // R-RETAIN: the chair closes the case with a decision; the retention term runs from `closedOn`.
  'case:close': z.strictObject({ caseId: CaseIdSchema, decision: text(L.MAX_DECISION_CHARS), closedOn: isoDate }),
  // R-RETAIN: a later purge day, with its reason (the chair; the privacy officer over HTTP).
  'case:extendRetention': z.strictObject({ caseId: CaseIdSchema, until: isoDate, reason: text(L.MAX_REASON_CHARS) }),
  // The persons of the case and, per person, their informing (R-INFORM).
  'person:add': z.strictObject({ caseId: CaseIdSchema, person: PersonInputSchema, informerOrgId: OrgIdSchema, informDueDate: isoDate }),
  'person:edit': z.strictObject({ caseId: CaseIdSchema, personId: PersonIdSchema, person: PersonInputSchema }),
  'person:remove': z.strictObject({ caseId: CaseIdSchema, personId: PersonIdSchema }),
  'person:setInforming': z.strictObject({ caseId: CaseIdSchema, personId: PersonIdSchema, informing: InformingInputSchema }),
  'item:add': z.strictObject({
    caseId: CaseIdSchema,
    phase: PhaseSchema,
    text: text(L.MAX_ITEM_TEXT_CHARS),
    visibility: VisibilitySchema,
  }),
  'item:edit': z
    .strictObject({
      caseId: CaseIdSchema,
      itemId: ItemIdSchema,
      text: text(L.MAX_ITEM_TEXT_CHARS).optional(),
      phase: PhaseSchema.optional(),
    })
    .refine((c) => c.text !== undefined || c.phase !== undefined, 'nothing to change'),
  'item:setVisibility': z.strictObject({ caseId: CaseIdSchema, itemId: ItemIdSchema, visibility: VisibilitySchema }),
  'item:withdraw': z.strictObject({ caseId: CaseIdSchema, itemId: ItemIdSchema }),
  // R-ACCESS, AVG art. 23: the contributor keeps an item's content out of art. 15 reports, with a ground (null lifts it).
  'item:restrict': z.strictObject({ caseId: CaseIdSchema, itemId: ItemIdSchema, ground: text(L.MAX_GROUND_CHARS).nullable() }),
  // R-GOAL
  'goal:propose': z.strictObject({ caseId: CaseIdSchema, text: text(L.MAX_GOAL_CHARS) }),
  'goal:cancel': z.strictObject({ caseId: CaseIdSchema }),
  // R-REUSE: ask the contributors of these items for their use by the asker's organisation.
  'consent:request': z.strictObject({
    caseId: CaseIdSchema,
    itemIds: itemIds.min(1),
    purpose: text(L.MAX_PURPOSE_CHARS),
    deadline: isoDate.optional(),
  }),
  // R-OWN: the contributor answers per item; a no carries its reason.
  'consent:answer': z.strictObject({
    caseId: CaseIdSchema,
    requestId: ConsentIdSchema,
    answers: z
      .array(
        z
          .strictObject({ itemId: ItemIdSchema, answer: z.enum(['yes', 'no']), reason: text(L.MAX_REASON_CHARS).optional() })
          .refine((a) => a.answer === 'yes' || a.reason !== undefined, { message: 'a no needs a reason', path: ['reason'] }),
      )
      .min(1)
      .max(L.MAX_ITEMS_PER_REQUEST),
  }),
  // R-BOB + R-TAKEHOME: the plan of action.
  // R-NEED: the chair lets a decision or intervention be read by only those who need it (default: the table).
  'decision:add': z.strictObject({ caseId: CaseIdSchema, text: text(L.MAX_DECISION_CHARS), visibility: VisibilitySchema.optional() }),
  'decision:setVisibility': z.strictObject({ caseId: CaseIdSchema, decisionId: DecisionIdSchema, visibility: VisibilitySchema }),
  'intervention:add': z.strictObject({
    caseId: CaseIdSchema,
    what: text(L.MAX_DECISION_CHARS),
    orgId: OrgIdSchema,
    dueDate: isoDate.optional(),
    itemIds,
    visibility: VisibilitySchema.optional(),
  }),
  'intervention:setVisibility': z.strictObject({ caseId: CaseIdSchema, interventionId: InterventionIdSchema, visibility: VisibilitySchema }),
  'intervention:remove': z.strictObject({ caseId: CaseIdSchema, interventionId: InterventionIdSchema }),
  // The agenda: a case's slot in a meeting of its table, and its discussion there (R-ROLE, R-TAKEHOME).
  'agenda:schedule': slot(z.strictObject({ caseId: CaseIdSchema, meetingId: MeetingIdSchema, start: clockTime, end: clockTime })),
  'agenda:unschedule': z.strictObject({ caseId: CaseIdSchema, meetingId: MeetingIdSchema }),
  'agenda:move': slot(
    z.strictObject({ caseId: CaseIdSchema, fromMeetingId: MeetingIdSchema, meetingId: MeetingIdSchema, start: clockTime, end: clockTime }),
  ).refine((v) => v.fromMeetingId !== v.meetingId, { message: 'same meeting', path: ['meetingId'] }),
  'agenda:begin': z.strictObject({ caseId: CaseIdSchema, meetingId: MeetingIdSchema }),
  'agenda:end': z.strictObject({ caseId: CaseIdSchema, meetingId: MeetingIdSchema }),
} as const;

export type CommandName = keyof typeof CommandSchemas;
export type CommandInput<N extends CommandName> = z.infer<(typeof CommandSchemas)[N]>;
export const COMMAND_NAMES = Object.keys(CommandSchemas) as CommandName[];
export const isCommandName = (s: string): s is CommandName => Object.hasOwn(CommandSchemas, s);

// The same schemas, typed by name: looked up by a generic name, a schema parses to that command's
// input (indexing CommandSchemas itself yields the union of all inputs).
const SCHEMAS: { readonly [N in CommandName]: z.ZodType<CommandInput<N>> } = CommandSchemas;
export const commandSchema = <N extends CommandName>(name: N): z.ZodType<CommandInput<N>> => SCHEMAS[name];

/** A command's name with its input, one member per command: checking the name narrows the input. */
export type CommandCall<N extends CommandName = CommandName> = { [K in N]: { name: K; input: CommandInput<K> } }[N];

/** The command with its input parsed by its schema, or null when the input does not match. */
export function parseCommand<N extends CommandName>(name: N, input: unknown): CommandCall<N> | null {
  const parsed = SCHEMAS[name].safeParse(input);
  return parsed.success ? { name, input: parsed.data } : null;
}

/**
 * What every command carries: the id its client chose for it, and its input (parsed by the
 * command's own schema). A retry sends the same id: a command that committed is answered as it
 * was, not run again (P-ONCE).
 */
export const CommandEnvelopeSchema = z.strictObject({ commandId: CommandIdSchema, input: z.unknown() });
export type CommandEnvelope<N extends CommandName> = { commandId: z.infer<typeof CommandIdSchema>; input: CommandInput<N> };

/** Commands that change nothing: a retry simply runs them again. Every other one runs once per id. */
export const READ_COMMANDS = ['case:open', 'case:leave', 'case:print'] as const satisfies readonly CommandName[];
export type ReadCommandName = (typeof READ_COMMANDS)[number];
const READS: ReadonlySet<CommandName> = new Set(READ_COMMANDS);
export const changesState = (name: CommandName): boolean => !READS.has(name);

// HTTP bodies.
export const LoginSchema = z.strictObject({
  username: z.string().min(1).max(L.MAX_USERNAME_CHARS),
  password: z.string().min(1).max(L.MAX_PASSWORD_CHARS),
});

const colour = z.string().regex(/^#[0-9a-fA-F]{6}$/);
export const OrgInputSchema = z.strictObject({
  name: text(L.MAX_NAME_CHARS),
  shortName: text(L.MAX_SHORT_NAME_CHARS),
  colour,
  kind: z.enum(['zvh', 'partner']),
});
export const OrgUpdateSchema = OrgInputSchema.partial().strict();
export const SignatureSchema = z.strictObject({ signed: z.boolean(), signedBy: text(L.MAX_NAME_CHARS).optional() });
export const UserInputSchema = z.strictObject({
  username: z.string().regex(/^[a-z0-9._-]{2,64}$/),
  displayName: text(L.MAX_NAME_CHARS),
  orgId: OrgIdSchema,
  roles: z.array(z.enum(USER_ROLES)).max(USER_ROLES.length),
  password: z.string().min(L.MIN_PASSWORD_CHARS).max(L.MAX_PASSWORD_CHARS),
});
export const UserUpdateSchema = z.strictObject({
  displayName: text(L.MAX_NAME_CHARS).optional(),
  roles: z.array(z.enum(USER_ROLES)).max(USER_ROLES.length).optional(),
  active: z.boolean().optional(),
  password: z.string().min(L.MIN_PASSWORD_CHARS).max(L.MAX_PASSWORD_CHARS).optional(),
});
const meetingFields = {
  date: isoDate,
  startTime: clockTime,
  endTime: clockTime,
  place: z.string().trim().max(L.MAX_PLACE_CHARS),
  // A link that participants click: https only, never javascript: or the like.
  onlineUrl: z
    .url({ protocol: /^https$/ })
    .max(L.MAX_URL_CHARS)
    .refine((u) => u.startsWith('https://'), 'https://…')
    .nullable(),
};
const meetingTimes = <T extends { startTime?: string; endTime?: string }>(o: z.ZodType<T>) =>
  o.refine((m) => m.startTime === undefined || m.endTime === undefined || m.startTime < m.endTime, { message: 'end before start', path: ['endTime'] });
/** A meeting as a chair plans it: somewhere to meet, in a room or online. */
export const MeetingInputSchema = meetingTimes(z.strictObject({ tableId: TableIdSchema, ...meetingFields })).refine(
  (m) => m.place !== '' || m.onlineUrl !== null,
  { message: 'a place or an online link', path: ['place'] },
);
export const MeetingUpdateSchema = meetingTimes(z.strictObject(meetingFields).partial());
export type MeetingInput = z.infer<typeof MeetingInputSchema>;
/** R-ACCESS: the privacy officer's question to the access log (query string); every field narrows it. */
// The log's own years: a date outside them asks nothing the log can hold.
const logDate = isoDate.refine((d) => d >= '2000-01-01' && d <= '2099-12-31', 'outside 2000-2099');
export const AccessSearchSchema = z.strictObject({
  caseId: CaseIdSchema.optional(),
  userId: UserIdSchema.optional(),
  orgId: OrgIdSchema.optional(),
  from: logDate.optional(),
  to: logDate.optional(),
  after: z
    .string()
    .regex(/^\d{1,16}$/)
    .optional(),
});
export type AccessSearchInput = z.infer<typeof AccessSearchSchema>;

/** The house finds a person across cases and tables (query string): by name, birth date or BSN. */
export const PersonSearchSchema = z
  .strictObject({
    name: z.string().trim().min(2).max(L.MAX_PERSON_NAME_CHARS).optional(),
    birthDate: isoDate.optional(),
    bsn: bsnSchema.optional(),
  })
  .refine((q) => q.name !== undefined || q.birthDate !== undefined || q.bsn !== undefined, 'a name, birth date or BSN');
export type PersonSearchInput = z.infer<typeof PersonSearchSchema>;

/** R-ACCESS, AVG art. 15: a request for access by a person, as the privacy officer registers it. */
export const Art15RequestSchema = z.strictObject({
  personName: text(L.MAX_PERSON_NAME_CHARS),
  birthDate: isoDate,
  receivedOn: isoDate,
  note: z.string().trim().max(L.MAX_PURPOSE_CHARS),
});
export type Art15RequestInput = z.infer<typeof Art15RequestSchema>;

/** R-RETAIN: the privacy officer's extension of a closed case's retention (HTTP body). */
export const RetentionExtensionSchema = z.strictObject({ until: isoDate, reason: text(L.MAX_REASON_CHARS) });

/** R-ROOM: who the chair records as coming into the meeting's room and leaving it. */
export const RoomChangeSchema = z
  .strictObject({ enter: z.array(UserIdSchema).max(L.MAX_ROOM_PEOPLE).default([]), leave: z.array(UserIdSchema).max(L.MAX_ROOM_PEOPLE).default([]) })
  .refine((c) => c.enter.length + c.leave.length > 0, 'nobody enters or leaves')
  .refine((c) => !c.enter.some((id) => c.leave.includes(id)), 'someone both enters and leaves');

export const TableInputSchema = z.strictObject({ name: text(L.MAX_NAME_CHARS), description: z.string().trim().max(L.MAX_TABLE_DESCRIPTION_CHARS) });

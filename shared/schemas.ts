import { z } from 'zod';
import { CASE_ROLES, PHASES } from './domain.js';
import { CaseIdSchema, ItemIdSchema, OrgIdSchema, TableIdSchema, UserIdSchema } from './ids.js';
import * as L from './limits.js';

// Strict objects: an unknown field is an error, not something silently carried along.
const text = (max: number) => z.string().trim().min(1).max(max);
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/).refine((s) => !Number.isNaN(Date.parse(s)), 'invalid date');

export const PhaseSchema = z.enum(PHASES);
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
    reviewDate: isoDate,
  }),
]);

/** Client-to-server commands, by event name. Every one is answered through its ack. */
export const CommandSchemas = {
  'case:open': z.strictObject({ caseId: CaseIdSchema, since: z.string().max(200).optional() }),
  'case:leave': z.strictObject({ caseId: CaseIdSchema }),
  'case:create': z.strictObject({
    tableId: TableIdSchema,
    title: text(L.MAX_CASE_TITLE_CHARS),
    subjectNote: z.string().trim().max(L.MAX_SUBJECT_NOTE_CHARS),
    goal: text(L.MAX_GOAL_CHARS),
    participants: z.array(ParticipantInputSchema).min(1).max(L.MAX_PARTICIPANTS_PER_CASE),
    informerOrgId: OrgIdSchema.optional(),
    informDueDate: isoDate,
  }),
  'case:setParticipant': z.strictObject({ caseId: CaseIdSchema, participant: ParticipantInputSchema }),
  'case:removeParticipant': z.strictObject({ caseId: CaseIdSchema, orgId: OrgIdSchema }),
  'case:setPhase': z.strictObject({ caseId: CaseIdSchema, phase: PhaseSchema }),
  'case:setInforming': z.strictObject({ caseId: CaseIdSchema, informing: InformingInputSchema }),
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
} as const;

export type CommandName = keyof typeof CommandSchemas;
export type CommandInput<N extends CommandName> = z.infer<(typeof CommandSchemas)[N]>;
export const COMMAND_NAMES = Object.keys(CommandSchemas) as CommandName[];
export const isCommandName = (s: string): s is CommandName => Object.hasOwn(CommandSchemas, s);

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
  roles: z.array(z.enum(['chair', 'admin'])).max(2),
  password: z.string().min(L.MIN_PASSWORD_CHARS).max(L.MAX_PASSWORD_CHARS),
});
export const UserUpdateSchema = z.strictObject({
  displayName: text(L.MAX_NAME_CHARS).optional(),
  roles: z.array(z.enum(['chair', 'admin'])).max(2).optional(),
  active: z.boolean().optional(),
  password: z.string().min(L.MIN_PASSWORD_CHARS).max(L.MAX_PASSWORD_CHARS).optional(),
});
export const TableInputSchema = z.strictObject({ name: text(L.MAX_NAME_CHARS), description: z.string().trim().max(L.MAX_TABLE_DESCRIPTION_CHARS) });

import { z } from 'zod';
import { CASE_ROLES, USER_ROLES } from '../../shared/domain.js';
import { CaseIdSchema, ItemIdSchema, MeetingIdSchema, OrgIdSchema, TableIdSchema, UserIdSchema } from '../../shared/ids.js';

// Rows read back from any store are parsed like network input: a damaged row fails loudly here.
export const OrganisationRow = z.object({
  id: OrgIdSchema,
  name: z.string(),
  shortName: z.string(),
  colour: z.string(),
  kind: z.enum(['zvh', 'partner']),
  protocolSignedAt: z.string().nullable(),
  protocolSignedBy: z.string().nullable(),
});

export const UserRow = z.object({
  id: UserIdSchema,
  username: z.string(),
  displayName: z.string(),
  orgId: OrgIdSchema,
  roles: z.array(z.enum(USER_ROLES)),
  active: z.boolean(),
  passwordHash: z.string(),
});

export const TableRow = z.object({ id: TableIdSchema, name: z.string(), description: z.string() });

export const MeetingRow = z.object({
  id: MeetingIdSchema,
  tableId: TableIdSchema,
  date: z.string(),
  startTime: z.string(),
  endTime: z.string(),
  place: z.string(),
  onlineUrl: z.string().nullable(),
  chairUserId: UserIdSchema,
  closedAt: z.string().nullable(),
  createdAt: z.string(),
});

export const MeetingRoomRow = z.object({ meetingId: MeetingIdSchema, userIds: z.array(UserIdSchema), version: z.number().int().nonnegative() });

export const StoredEventRow = z.object({
  caseId: CaseIdSchema,
  version: z.number().int().positive(),
  type: z.string(),
  payload: z.unknown(),
  at: z.string(),
  actorUserId: UserIdSchema,
  actorOrgId: OrgIdSchema,
});

export const AccessRow = z.object({
  at: z.string(),
  action: z.enum(['read', 'export', 'create', 'update', 'delete', 'login', 'logout', 'admin']),
  operation: z.string(),
  caseId: CaseIdSchema.nullable(),
  itemId: ItemIdSchema.nullable(),
  userId: UserIdSchema.nullable(),
  orgId: OrgIdSchema.nullable(),
  role: z.enum([...CASE_ROLES, 'none']),
  purpose: z.string(),
  address: z.string(),
  outcome: z.enum(['ok', 'denied', 'error']),
});

export const SessionRow = z.object({
  idHash: z.string(),
  userId: UserIdSchema,
  createdAt: z.number(),
  lastSeenAt: z.number(),
});

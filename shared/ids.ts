import { z } from 'zod';

// Branded ids: a value from the network is a plain string until its schema has parsed it.
const idPattern = /^[A-Za-z0-9_-]{1,64}$/;

export const CaseIdSchema = z.string().regex(idPattern).brand<'CaseId'>();
export const ItemIdSchema = z.string().regex(idPattern).brand<'ItemId'>();
export const OrgIdSchema = z.string().regex(idPattern).brand<'OrgId'>();
export const UserIdSchema = z.string().regex(idPattern).brand<'UserId'>();
export const TableIdSchema = z.string().regex(idPattern).brand<'TableId'>();
export const ConsentIdSchema = z.string().regex(idPattern).brand<'ConsentId'>();
export const InterventionIdSchema = z.string().regex(idPattern).brand<'InterventionId'>();
export const DecisionIdSchema = z.string().regex(idPattern).brand<'DecisionId'>();
export const MeetingIdSchema = z.string().regex(idPattern).brand<'MeetingId'>();
export const PersonIdSchema = z.string().regex(idPattern).brand<'PersonId'>();
/**
 * Chosen by the client for each command it sends, kept by its retries (P-ONCE). At least 16
 * characters, so a well-behaved client's ids do not collide; newCommandId makes 32 (128 bits).
 */
export const CommandIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{16,64}$/)
  .brand<'CommandId'>();

export type CaseId = z.infer<typeof CaseIdSchema>;
export type ItemId = z.infer<typeof ItemIdSchema>;
export type OrgId = z.infer<typeof OrgIdSchema>;
export type UserId = z.infer<typeof UserIdSchema>;
export type TableId = z.infer<typeof TableIdSchema>;
export type ConsentId = z.infer<typeof ConsentIdSchema>;
export type InterventionId = z.infer<typeof InterventionIdSchema>;
export type DecisionId = z.infer<typeof DecisionIdSchema>;
export type MeetingId = z.infer<typeof MeetingIdSchema>;
export type PersonId = z.infer<typeof PersonIdSchema>;
export type CommandId = z.infer<typeof CommandIdSchema>;

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));
const ID_BYTES = 12;
// Random bytes fetched 4 KB at a time (every byte used once): a command makes several ids, and a
// call into the system's random source per id showed in the server's profile.
const pool = new Uint8Array(4096 - (4096 % ID_BYTES));
let poolAt = pool.length;

/** Random, unguessable ids that reveal nothing about what they name. */
export function newId<T extends string>(prefix: string): T {
  if (poolAt === pool.length) {
    globalThis.crypto.getRandomValues(pool);
    poolAt = 0;
  }
  let s = `${prefix}_`;
  for (let i = poolAt; i < poolAt + ID_BYTES; i++) s += HEX[pool[i]!];
  poolAt += ID_BYTES;
  return s as T;
}

/** A command's id: 128 random bits, in hex. Runs in the browser as well as on the server. */
export function newCommandId(): CommandId {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  let s = '';
  for (const b of bytes) s += HEX[b];
  return s as CommandId;
}

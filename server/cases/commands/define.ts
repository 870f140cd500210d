import type { z } from 'zod';
import type { CaseState, Viewer } from '../../../shared/domain.js';
import { appError, type AppError } from '../../../shared/errors.js';
import type { CaseId, ItemId } from '../../../shared/ids.js';
import type { CommandResults } from '../../../shared/protocol.js';
import { isChairOf } from '../../../shared/rules/access.js';
import type { DirectoryLookup, NamingField } from '../../../shared/rules/commands.js';
import { commandSchema, type CommandInput, type CommandName, type ReadCommandName } from '../../../shared/schemas.js';
import type { AccessRecord } from '../../store/types.js';
import type { CaseEvent } from '../events.js';

/** The commands that change a case that exists: run by CaseService.run. */
export type CaseCommandName = Exclude<CommandName, ReadCommandName | 'case:create'>;

/** What every command declares, however it runs. */
interface Declared<N extends CommandName> {
  readonly name: N;
  /** Its input (shared/schemas.ts, where the client checks with it too). */
  readonly schema: z.ZodType<CommandInput<N>>;
  /** P-EXIST: the fields by which it names a case or something in one, judged before its own rules. */
  readonly names: readonly NamingField[];
  /** NEN 7513: the action its access-log record names, committed or denied. */
  readonly action: AccessRecord['action'];
}

/** A read: changes nothing, runs again on a retry; the socket layer serves it. */
export interface ReadCommand<N extends ReadCommandName> extends Declared<N> {
  readonly kind: 'read';
}

/** The command that makes a case: judged without one. */
export interface CreateCommand extends Declared<'case:create'> {
  readonly kind: 'create';
  authorize(input: CommandInput<'case:create'>, viewer: Viewer, dir: DirectoryLookup): AppError | null;
  decide(input: CommandInput<'case:create'>, caseId: CaseId): CaseEvent[];
}

/** What a command decided: the events that record it and its answer. */
export interface Decided<N extends CaseCommandName> {
  events: CaseEvent[];
  /** The ack's data, of the type the protocol promises (shared/protocol.ts, CommandResults). */
  data: CommandResults[N];
  /** An item it made: its access-log record names that one. */
  itemId?: ItemId;
}

/** A command on a case, judged on the case as it stands in the case's queue. */
export interface CaseCommand<N extends CaseCommandName> extends Declared<N> {
  readonly kind: 'case';
  /**
   * R-ROLE, R-OWN, R-BOB, …: may this viewer run it on this case? The error to answer with, or
   * null. Asked only once the viewer may see everything the command names (P-EXIST). Pure.
   */
  authorize(input: CommandInput<N>, c: CaseState, viewer: Viewer, dir: DirectoryLookup): AppError | null;
  /** The authorised command as events, on the case as it stands. */
  decide(input: CommandInput<N>, c: CaseState, viewer: Viewer, now: string, dir: DirectoryLookup): Decided<N>;
}

/** The module of a command, by its name: which of the three it is follows from the name. */
export type Command<N extends CommandName> = N extends ReadCommandName
  ? ReadCommand<N>
  : N extends 'case:create'
    ? CreateCommand
    : N extends CaseCommandName
      ? CaseCommand<N>
      : never;

type Spec<C> = Omit<C, 'name' | 'schema' | 'kind'>;

export function defineRead<N extends ReadCommandName>(name: N, spec: Spec<ReadCommand<N>>): ReadCommand<N> {
  return { name, schema: commandSchema(name), kind: 'read', ...spec };
}

export function defineCreate(spec: Spec<CreateCommand>): CreateCommand {
  return { name: 'case:create', schema: commandSchema('case:create'), kind: 'create', ...spec };
}

/** A command on a case; its input type follows from the name, in `authorize` and `decide` alike. */
export function defineCommand<N extends CaseCommandName>(name: N, spec: Spec<CaseCommand<N>>): CaseCommand<N> {
  return { name, schema: commandSchema(name), kind: 'case', ...spec };
}

// Rules several commands share.

export const bad = (message: string): AppError => appError('BAD_REQUEST', message);

/** Hidden and absent look the same: the error never says whether something exists. */
export const notFound = (): AppError => appError('NOT_FOUND');

export function chairOnly(c: CaseState, viewer: Viewer): AppError | null {
  return isChairOf(c, viewer) ? null : appError('FORBIDDEN', 'Alleen de voorzitter van deze casus kan dit.');
}

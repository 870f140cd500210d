import type { CaseState, Viewer } from '../../../shared/domain.js';
import { appError, type AppError } from '../../../shared/errors.js';
import { maySeeNamed, namedIds, type DirectoryLookup } from '../../../shared/rules/commands.js';
import type { CommandInput, CommandName } from '../../../shared/schemas.js';
import { agendaCommands } from './agenda.js';
import { caseCommands } from './case.js';
import { closingCommands } from './closing.js';
import { consentCommands } from './consent.js';
import { notFound, type CaseCommand, type CaseCommandName, type Command } from './define.js';
import { goalCommands } from './goal.js';
import { itemCommands } from './items.js';

import { openCommands } from './open.js';
import { participantCommands } from './participants.js';
import { personCommands } from './persons.js';
import { planCommands } from './plan.js';

/**
 * Every command of the protocol, by name, each from its group's module. Typed by name: a command
 * in shared/schemas.ts without a module here does not compile, nor does a module under another
 * command's name.
 */
export const COMMANDS: { readonly [N in CommandName]: Command<N> } = {
  ...openCommands,
  ...caseCommands,
  ...closingCommands,
  ...participantCommands,
  ...personCommands,
  ...itemCommands,
  ...goalCommands,
  ...consentCommands,
  ...planCommands,
  ...agendaCommands,
};

/** The same table, seen as its commands on a case: looked up by a generic name, each has its own input type. */
const CASE_COMMANDS: { readonly [N in CaseCommandName]: CaseCommand<N> } = COMMANDS;

export function caseCommand<N extends CaseCommandName>(name: N): CaseCommand<N> {
  return CASE_COMMANDS[name];
}

/**
 * R-ROLE, R-OWN, R-BOB, R-INFORM, R-PROTOCOL: may this viewer run this command on this case?
 * Returns the error to answer with, or null. Pure: the caller supplies state and directory.
 */
export function authorizeCaseCommand<N extends CaseCommandName>(
  name: N,
  input: CommandInput<N>,
  c: CaseState,
  viewer: Viewer,
  dir: DirectoryLookup,
): AppError | null {
  const command = CASE_COMMANDS[name];
  // P-EXIST: everything the command names must be visible before any other rule is applied.
  if (!maySeeNamed(c, namedIds(command.names, input), viewer)) return notFound();
  // R-RETAIN: a closed case takes nothing more but a later purge day, and a contributor's art. 23
  // restriction (a request for access may come while it is kept).
  if (c.closure && name !== 'case:extendRetention' && name !== 'item:restrict') return appError('CONFLICT', 'Deze casus is gesloten.');
  return command.authorize(input, c, viewer, dir);
}

export type { CaseCommand, CaseCommandName, Command } from './define.js';

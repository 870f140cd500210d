import type { CommandInput } from '../../../shared/schemas.js';

/** A person as a form holds it: every field a string, the BSN empty when not given. */
export interface PersonDraft {
  name: string;
  birthDate: string;
  bsn: string;
}

export const emptyPerson = (): PersonDraft => ({ name: '', birthDate: '', bsn: '' });

/** The person as a command carries it: a BSN only when one was typed. */
export function personInput(p: PersonDraft): CommandInput<'person:add'>['person'] {
  const bsn = p.bsn.trim();
  return { name: p.name, birthDate: p.birthDate, ...(bsn ? { bsn } : {}) };
}

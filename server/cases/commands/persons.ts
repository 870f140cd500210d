import type { CaseState, Informing, Person } from '../../../shared/domain.js';
import { appError, type AppError } from '../../../shared/errors.js';
import { newId, type OrgId, type PersonId } from '../../../shared/ids.js';
import { MAX_PERSONS_PER_CASE } from '../../../shared/limits.js';
import { isChairOf } from '../../../shared/rules/access.js';
import type { DirectoryLookup } from '../../../shared/rules/commands.js';
import type { CommandInput } from '../../../shared/schemas.js';
import { bad, chairOnly, defineCommand } from './define.js';

// The persons a case concerns (betrokkenen), and per person who informs them, by when, and
// whether it happened or was postponed (R-INFORM). Every participant sees them; the chair keeps
// the list, and the informing organisation records that it informed.

type PersonInput = CommandInput<'person:add'>['person'];

/** A person as the chair entered them: a birth date in the past, a BSN only where the house records it, no one twice. */
export function checkPerson(p: PersonInput, others: readonly Person[], dir: DirectoryLookup): AppError | null {
  if (p.birthDate > dir.today()) return bad('De geboortedatum ligt in de toekomst.');
  if (p.bsn !== undefined && !dir.recordsBsn) return bad('Dit Zorg- en Veiligheidshuis legt geen BSN vast.');
  const same = others.find((o) => (p.bsn !== undefined && o.bsn === p.bsn) || (o.name === p.name && o.birthDate === p.birthDate));
  return same ? bad(`${same.name} staat al bij deze casus.`) : null;
}

export const personFields = (p: PersonInput): { name: string; birthDate: string; bsn: string | null } => ({
  name: p.name,
  birthDate: p.birthDate,
  bsn: p.bsn ?? null,
});

export const openInforming = (informerOrgId: OrgId, dueDate: string): Informing => ({
  informerOrgId,
  dueDate,
  status: 'open',
  ground: null,
  groundVisibility: null,
  reviewDate: null,
  doneAt: null,
});

const personOf = (c: CaseState, id: PersonId): Person | undefined => c.persons.find((p) => p.id === id);
const unknownPerson = (): AppError => bad('Deze betrokkene hoort niet bij de casus.');
const informerAtTable = (c: CaseState, orgId: OrgId): AppError | null =>
  c.participants.some((p) => p.orgId === orgId) ? null : bad('Kies een deelnemende organisatie die de betrokkene informeert.');

export const personCommands = {
  'person:add': defineCommand('person:add', {
    names: ['caseId'],
    action: 'create',
    authorize({ person, informerOrgId }, c, viewer, dir) {
      const err = chairOnly(c, viewer);
      if (err) return err;
      if (c.persons.length >= MAX_PERSONS_PER_CASE) return appError('TOO_LARGE', `Een casus betreft ten hoogste ${MAX_PERSONS_PER_CASE} personen.`);
      return informerAtTable(c, informerOrgId) ?? checkPerson(person, c.persons, dir);
    },
    decide({ person, informerOrgId, informDueDate }) {
      const personId = newId<PersonId>('prs');
      return {
        events: [{ type: 'case.personAdded', payload: { personId, ...personFields(person), informing: openInforming(informerOrgId, informDueDate) } }],
        data: { personId },
      };
    },
  }),

  'person:edit': defineCommand('person:edit', {
    names: ['caseId'],
    action: 'update',
    authorize({ personId, person }, c, viewer, dir) {
      const err = chairOnly(c, viewer);
      if (err) return err;
      if (!personOf(c, personId)) return unknownPerson();
      return checkPerson(
        person,
        c.persons.filter((p) => p.id !== personId),
        dir,
      );
    },
    decide: ({ personId, person }) => ({ events: [{ type: 'case.personEdited', payload: { personId, ...personFields(person) } }], data: null }),
  }),

  'person:remove': defineCommand('person:remove', {
    names: ['caseId'],
    action: 'delete',
    authorize({ personId }, c, viewer) {
      const err = chairOnly(c, viewer);
      if (err) return err;
      if (!personOf(c, personId)) return unknownPerson();
      return c.persons.length === 1 ? bad('Een casus betreft ten minste één persoon.') : null;
    },
    decide: ({ personId }) => ({ events: [{ type: 'case.personRemoved', payload: { personId } }], data: null }),
  }),

  'person:setInforming': defineCommand('person:setInforming', {
    names: ['caseId'],
    action: 'update',
    authorize({ personId, informing }, c, viewer, dir) {
      const person = personOf(c, personId);
      if (!person) return unknownPerson();
      const err = informerAtTable(c, informing.informerOrgId);
      if (err) return err;
      if (informing.status === 'postponed') {
        const named = informing.groundVisibility?.kind === 'orgs' ? informing.groundVisibility.orgIds : [];
        if (named.some((o) => !c.participants.some((p) => p.orgId === o))) return bad('De grond kan alleen zichtbaar zijn voor organisaties aan tafel.');
        // R-INFORM: a postponement is looked at again, on a day still to come.
        if (informing.reviewDate <= dir.today()) return bad('De datum van heroverweging moet in de toekomst liggen.');
      }
      if (isChairOf(c, viewer)) return null;
      // The informing organisation may record that it has informed the person, nothing more.
      // Not over a postponement: that is the chair's recorded decision.
      const was = person.informing;
      const onlyMarksDone =
        informing.status === 'done' &&
        was.status === 'open' &&
        was.informerOrgId === viewer.orgId &&
        informing.informerOrgId === was.informerOrgId &&
        informing.dueDate === was.dueDate;
      return onlyMarksDone ? null : appError('FORBIDDEN', 'Alleen de voorzitter legt dit besluit vast.');
    },
    decide({ personId, informing: i }, c, _viewer, now) {
      const was = personOf(c, personId)!.informing;
      const informing: Informing = {
        informerOrgId: i.informerOrgId,
        dueDate: i.dueDate,
        status: i.status,
        ground: i.status === 'postponed' ? i.ground : null,
        groundVisibility: i.status === 'postponed' ? (i.groundVisibility ?? { kind: 'table' }) : null,
        reviewDate: i.status === 'postponed' ? i.reviewDate : null,
        doneAt: i.status === 'done' ? (was.doneAt ?? now) : null,
      };
      return { events: [{ type: 'case.informingSet', payload: { personId, informing } }], data: null };
    },
  }),
};

import type { CaseState, Person } from '../../shared/domain.js';
import type { CaseId, ItemId } from '../../shared/ids.js';
import type { Art15CaseView, Art15RequestView } from '../../shared/protocol.js';
import type { CaseService } from '../cases/service.js';
import type { Directory } from '../directory/directory.js';
import { normalName } from '../persons/routes.js';
import type { AccessLogStore } from '../store/types.js';

/** In place of what an art. 23 restriction keeps out of a report. */
const RESTRICTED = 'Beperking toegepast (AVG art. 23)';

/** The register the art. 15 requests are kept in. */
export const ART15_REGISTER = 'art15';

/** What the reads for an art. 15 report are for. */
export const art15Purpose = (requestId: string): string => `inzageverzoek art. 15 (verzoek ${requestId})`;

/** The same person as a request names: the name (accents, case and spaces aside) and the birth date. */
export const samePerson = (p: Person, r: Pick<Art15RequestView, 'personName' | 'birthDate'>): boolean =>
  p.birthDate === r.birthDate && normalName(p.name) === normalName(r.personName);

/** The cases that concern the person, with the person as each records them. */
export function casesOf(cases: CaseService, r: Pick<Art15RequestView, 'personName' | 'birthDate'>): { c: CaseState; person: Person }[] {
  const out: { c: CaseState; person: Person }[] = [];
  for (const c of cases.all()) {
    const person = c.persons.find((p) => samePerson(p, r));
    if (person) out.push({ c, person });
  }
  return out.sort((a, b) => a.c.createdAt.localeCompare(b.c.createdAt));
}

/**
 * Who was shown each item of a case, and for what, from the case's access records: organisations
 * other than its contributor, and the purposes they were shown it for. Reads for art. 15 reports
 * themselves are not receipts.
 */
async function receipts(store: AccessLogStore, caseId: CaseId): Promise<Map<ItemId, { orgs: Set<string>; purposes: Set<string> }>> {
  const out = new Map<ItemId, { orgs: Set<string>; purposes: Set<string> }>();
  let after: string | undefined;
  do {
    const page = await store.searchAccess({ caseId, limit: 1000, ...(after ? { after } : {}) });
    for (const r of page.records) {
      if (!r.itemId || !r.orgId || r.outcome !== 'ok' || (r.action !== 'read' && r.action !== 'export') || r.purpose.startsWith('inzageverzoek')) continue;
      let seen = out.get(r.itemId);
      if (!seen) out.set(r.itemId, (seen = { orgs: new Set(), purposes: new Set() }));
      seen.orgs.add(r.orgId);
      seen.purposes.add(r.purpose);
    }
    // Every page goes further back; a cursor that moves nowhere ends it.
    after = page.next !== null && page.next !== after ? page.next : undefined;
  } while (after);
  return out;
}

/**
 * R-ACCESS, AVG art. 15: everything one case holds on the person: the person as recorded, the
 * informing, the goals, every item (withdrawn ones too: the log still holds them) with its
 * contributor, who was shown it and for what, the decisions, interventions and consent answers,
 * and when the case will be purged. An item its contributor restricted under art. 23 is named
 * with its contributor, without its content.
 */
export async function caseSection(c: CaseState, person: Person, dir: Directory, store: AccessLogStore): Promise<Art15CaseView> {
  const org = (id: string): string => dir.org(id as never)?.name ?? id;
  const restricted = (id: ItemId): boolean => (c.items.get(id)?.restriction ?? null) !== null;
  const shown = await receipts(store, c.id);
  return {
    caseId: c.id,
    title: c.title,
    table: dir.table(c.tableId)?.name ?? c.tableId,
    createdAt: c.createdAt,
    closedOn: c.closure?.closedOn ?? null,
    retainUntil: c.closure?.retainUntil ?? null,
    person: { name: person.name, birthDate: person.birthDate, bsn: person.bsn },
    informing: person.informingHistory.map((d) => ({ status: d.status, informer: org(d.informerOrgId), dueDate: d.dueDate, at: d.at })),
    goals: [...c.goalHistory, c.goal],
    items: [...c.items.values()].map((i) => {
      const seen = shown.get(i.id);
      return {
        id: i.id,
        phase: i.phase,
        contributor: org(i.orgId),
        addedAt: i.createdAt,
        withdrawn: i.status === 'withdrawn',
        text: i.restriction ? null : i.text,
        restricted: i.restriction !== null,
        receivedBy: [...(seen?.orgs ?? [])]
          .filter((o) => o !== i.orgId)
          .map(org)
          .sort(),
        purposes: [...(seen?.purposes ?? [])].sort(),
      };
    }),
    decisions: c.decisions.map((d) => ({ text: d.text, by: org(d.byOrgId), at: d.at })),
    interventions: c.interventions.map((i) => ({ what: i.what, executor: org(i.orgId), at: i.at })),
    // A restricted item's answers keep their reasons out too, and a request about restricted items only its purpose.
    consents: [...c.consents.values()].map((r) => ({
      kind: r.kind,
      purpose: r.itemIds.every(restricted) ? RESTRICTED : r.purpose,
      askedFor: org(r.forOrgId),
      at: r.createdAt,
      answers: r.answers.map((a) => ({ item: a.itemId, by: org(a.byOrgId), answer: a.answer, reason: restricted(a.itemId) ? null : a.reason, at: a.at })),
    })),
    handovers: [],
  };
}

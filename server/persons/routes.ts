import { Router, type Request } from 'express';
import type { CaseState, Person, Viewer } from '../../shared/domain.js';
import type { PersonMatchView } from '../../shared/protocol.js';
import { maySeeCase } from '../../shared/rules/access.js';
import { PersonSearchSchema, type PersonSearchInput } from '../../shared/schemas.js';
import { houseRecord, type AccessLog } from '../audit/accessLog.js';
import { requireSession, sessionOf } from '../auth/routes.js';
import type { Sessions } from '../auth/sessions.js';
import type { CaseService } from '../cases/service.js';
import type { Directory } from '../directory/directory.js';
import { HttpError, parseBody } from '../http/errors.js';
import { PURPOSE_PRIVACY_REVIEW } from '../privacy/routes.js';

export interface PersonDeps {
  dir: Directory;
  sessions: Sessions;
  access: AccessLog;
  cases: CaseService;
  addressOf: (req: Request) => string;
}

/** What a chair's search across the house is for: finding whether a person is known at another table. */
export const PURPOSE_PERSON_SEARCH = 'persoon zoeken in het huis';

/** Matches one search shows at most: a question that finds more is to be asked more narrowly. */
const MAX_MATCHES = 100;

/** Lower case, without accents, one space between words: "José  de Vries" finds "jose de vries". */
export const normalName = (s: string): string => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/\s+/g, ' ').trim();

function matches(p: Person, q: PersonSearchInput): boolean {
  if (q.bsn !== undefined && p.bsn !== q.bsn) return false;
  if (q.birthDate !== undefined && p.birthDate !== q.birthDate) return false;
  return q.name === undefined || normalName(p.name).includes(normalName(q.name));
}

/** The house: a chair of the Zorg- en Veiligheidshuis, or its privacy officer. Partners never search across cases. */
function houseSearcher(viewer: Viewer, dir: Directory): boolean {
  if (viewer.roles.includes('privacy')) return true;
  return viewer.roles.includes('chair') && dir.org(viewer.orgId)?.kind === 'zvh';
}

/**
 * The house (not the partners) finds the same person across cases and tables: by name, birth date
 * or BSN. A search shows which cases hold the person, not what they hold; every case it shows is
 * an access-log record of its own, written before the answer goes out.
 */
export function personRoutes(d: PersonDeps): Router {
  const r = Router();
  r.use(requireSession(d.sessions));

  r.get('/', async (req, res) => {
    const { viewer } = sessionOf(res);
    if (!houseSearcher(viewer, d.dir)) throw new HttpError(403, 'FORBIDDEN');
    const q = parseBody(PersonSearchSchema, req.query);
    if (q.bsn !== undefined && !d.dir.recordsBsn) throw new HttpError(400, 'BAD_REQUEST', 'Dit Zorg- en Veiligheidshuis legt geen BSN vast.');
    const found: { c: CaseState; p: Person }[] = [];
    for (const c of d.cases.all()) for (const p of c.persons) if (matches(p, q)) found.push({ c, p });
    if (found.length > MAX_MATCHES) throw new HttpError(400, 'TOO_LARGE', `Meer dan ${MAX_MATCHES} personen gevonden: zoek nauwkeuriger.`);
    const purpose = viewer.roles.includes('privacy') ? PURPOSE_PRIVACY_REVIEW : PURPOSE_PERSON_SEARCH;
    const actor = { viewer, address: d.addressOf(req) };
    const asked = ['name', 'birthDate', 'bsn'].filter((k) => k in q).join(',');
    const look = houseRecord(actor, 'read', `persons:search ${asked}`, purpose);
    // P-READLOG: the search itself, and a record per case it shows, committed before it is shown.
    const shown = [...new Set(found.map((f) => f.c.id))];
    const records = [look, ...shown.map((caseId) => ({ ...look, caseId }))];
    if (!(await d.access.recordWritten(records))) throw new HttpError(503, 'UNAVAILABLE');
    const view: PersonMatchView[] = found
      .map(({ c, p }) => ({
        personId: p.id,
        name: p.name,
        birthDate: p.birthDate,
        bsn: p.bsn,
        caseId: c.id,
        caseTitle: c.title,
        tableId: c.tableId,
        chairNames: c.participants.filter((x) => x.role === 'voorzitter').flatMap((x) => x.userIds.map(d.dir.nameOf)),
        participating: maySeeCase(c, viewer),
        caseCreatedAt: c.createdAt,
      }))
      .sort((a, b) => a.name.localeCompare(b.name, 'nl') || b.caseCreatedAt.localeCompare(a.caseCreatedAt));
    res.json({ matches: view });
  });

  return r;
}

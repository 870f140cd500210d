import { Router, type Request, type Response } from 'express';
import { CaseIdSchema, type CaseId } from '../../shared/ids.js';
import type { AccessRecordView, Art15ReportView, Art15RequestView, ChainStatusView, PrivacyCaseView, RetentionView } from '../../shared/protocol.js';
import { AccessSearchSchema, Art15RequestSchema, RetentionExtensionSchema, type AccessSearchInput } from '../../shared/schemas.js';
import { addMonths } from '../../shared/day.js';
import { newId } from '../../shared/ids.js';
import { art15Purpose, ART15_REGISTER, caseSection, casesOf } from './art15.js';
import { retentionExtensionError } from '../cases/commands/closing.js';
import { houseRecord, type AccessLog } from '../audit/accessLog.js';
import { requireRole, requireSession, sessionOf } from '../auth/routes.js';
import type { Sessions } from '../auth/sessions.js';
import type { CaseService } from '../cases/service.js';
import type { Directory } from '../directory/directory.js';
import { HttpError, parseBody } from '../http/errors.js';
import { houseMidnight } from '../../shared/day.js';
import type { AccessRecord, AccessSearch, AccessLogStore, ChainStore, MetaStore, PurgeStore, RegisterStore } from '../store/types.js';
import { keptVerification, VERIFICATION_META, type PurgeMarker, type Seal } from '../audit/chain.js';

export interface PrivacyDeps {
  dir: Directory;
  sessions: Sessions;
  access: AccessLog;
  store: AccessLogStore;
  chain: ChainStore;
  meta: MetaStore;
  purges: PurgeStore;
  register: RegisterStore;
  /** The key that seals the logs (SEAL_KEY), when set. */
  sealKey: Buffer | null;
  cases: CaseService;
  addressOf: (req: Request) => string;
}

/** What the privacy officer's own reads are for: supervising the processing (R-ACCESS). */
export const PURPOSE_PRIVACY_REVIEW = 'privacytoezicht';

/** Records one page of the log shows at most. */
const PAGE_RECORDS = 200;
/** Records one CSV export holds at most: a selection, not the house's whole log. */
export const MAX_EXPORT_RECORDS = 100_000;

const CSV_COLUMNS = ['tijdstip', 'handeling', 'bewerking', 'casus', 'inbreng', 'gebruiker', 'naam', 'organisatie', 'rol', 'doel', 'adres', 'uitkomst'];

/**
 * One CSV field: quoted when it holds a separator, quote or line break; a field that a spreadsheet
 * would run as a formula is prefixed with a quote (OWASP CSV injection).
 */
export function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[;"\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/**
 * R-ACCESS: the privacy officer (role `privacy`) reads the access log: per case, person,
 * organisation and period, newest first, a page at a time, with the NEN 7513 fields named; and
 * exports a selection as CSV. It is shown no case content. Every look is itself in the log.
 */
export function privacyRoutes(d: PrivacyDeps): Router {
  const r = Router();
  r.use(requireSession(d.sessions), requireRole('privacy'));

  /** P-READLOG: nothing of the log is shown unless the look at it can be logged. */
  const logLook = (req: Request, res: Response, action: AccessRecord['action'], operation: string, caseId: CaseId | null = null): void => {
    if (!d.access.writable) throw new HttpError(503, 'UNAVAILABLE');
    d.access.record([{ ...houseRecord({ viewer: sessionOf(res).viewer, address: d.addressOf(req) }, action, operation, PURPOSE_PRIVACY_REVIEW), caseId }]);
  };
  const question = (req: Request): AccessSearchInput => parseBody(AccessSearchSchema, req.query);
  const toSearch = (q: AccessSearchInput, limit: number): AccessSearch => {
    // The period is in the house's days: from the first's midnight to the end of the last.
    const to = q.to && houseMidnight(new Date(Date.parse(`${q.to}T12:00:00Z`) + 86_400_000).toISOString().slice(0, 10));
    if (q.from && q.to && q.from > q.to) throw new HttpError(400, 'BAD_REQUEST', 'De periode eindigt voor ze begint.');
    return {
      ...(q.caseId ? { caseId: q.caseId } : {}),
      ...(q.userId ? { userId: q.userId } : {}),
      ...(q.orgId ? { orgId: q.orgId } : {}),
      ...(q.from ? { from: houseMidnight(q.from) } : {}),
      ...(to ? { to } : {}),
      ...(q.after ? { after: q.after } : {}),
      limit,
    };
  };
  const describe = (q: AccessSearchInput): string =>
    Object.entries(q)
      .filter(([k]) => k !== 'after')
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
  const view = (x: AccessRecord): AccessRecordView => ({
    ...x,
    userName: x.userId ? d.dir.nameOf(x.userId) : null,
    orgName: x.orgId ? (d.dir.org(x.orgId)?.name ?? x.orgId) : null,
  });

  // R-ACCESS: whether the logs are sealed, and what the last verification found.
  r.get('/verification', async (req, res) => {
    const [stored, seals] = await Promise.all([d.meta.getMeta(VERIFICATION_META), d.chain.listSeals()]);
    const last = seals.length > 0 ? (JSON.parse(seals.at(-1)!) as Seal) : null;
    const body: ChainStatusView = {
      sealing: d.sealKey !== null,
      lastSeal: last && { n: last.n, at: last.at },
      verification: keptVerification(stored, d.sealKey),
    };
    res.json(body);
  });

  // The cases to ask about, by title and table: to find one, not to read it.
  r.get('/cases', (req, res) => {
    logLook(req, res, 'read', 'privacy:cases');
    const cases: PrivacyCaseView[] = [...d.cases.all()]
      .map((c) => ({ id: c.id, title: c.title, tableId: c.tableId, createdAt: c.createdAt }))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    res.json({ cases });
  });

  // R-ACCESS, AVG art. 15: the register of requests for access, each due one month after receipt.
  type Stored = Omit<Art15RequestView, 'registeredBy'> & { registeredByUserId: string };
  const requestView = (s: Stored): Art15RequestView => {
    const { registeredByUserId, ...rest } = s;
    return { ...rest, registeredBy: d.dir.nameOf(registeredByUserId) };
  };
  const storedRequest = async (id: string): Promise<Stored> => {
    const json = /^av_[0-9a-f]{24}$/.test(id) ? await d.register.getRegister(ART15_REGISTER, id) : undefined;
    if (!json) throw new HttpError(404, 'NOT_FOUND');
    return JSON.parse(json) as Stored;
  };

  r.get('/requests', async (req, res) => {
    logLook(req, res, 'read', 'privacy:art15-register');
    const all = (await d.register.listRegister(ART15_REGISTER)).map((j) => requestView(JSON.parse(j) as Stored));
    all.sort((a, b) => (a.deliveredOn === null ? 0 : 1) - (b.deliveredOn === null ? 0 : 1) || a.dueOn.localeCompare(b.dueOn));
    res.json({ requests: all });
  });

  r.post('/requests', async (req, res) => {
    const body = parseBody(Art15RequestSchema, req.body);
    if (body.receivedOn > d.dir.today()) throw new HttpError(400, 'BAD_REQUEST', 'De datum van ontvangst ligt in de toekomst.');
    const { viewer } = sessionOf(res);
    // Nothing is registered that could not be logged (and an error never hides a write).
    if (!d.access.writable) throw new HttpError(503, 'UNAVAILABLE');
    const stored: Stored = {
      id: newId('av'),
      ...body,
      dueOn: addMonths(body.receivedOn, 1),
      deliveredOn: null,
      registeredByUserId: viewer.userId,
      registeredAt: new Date().toISOString(),
    };
    await d.register.putRegister(ART15_REGISTER, stored.id, JSON.stringify(stored));
    logLook(req, res, 'create', `privacy:art15-request ${stored.id}`);
    res.status(201).json({ request: requestView(stored) });
  });

  r.post('/requests/:id/delivered', async (req, res) => {
    const stored = await storedRequest(req.params.id);
    if (stored.deliveredOn !== null) throw new HttpError(409, 'CONFLICT', 'Dit verzoek is al afgehandeld.');
    if (!d.access.writable) throw new HttpError(503, 'UNAVAILABLE');
    const delivered: Stored = { ...stored, deliveredOn: d.dir.today() };
    await d.register.putRegister(ART15_REGISTER, stored.id, JSON.stringify(delivered));
    logLook(req, res, 'update', `privacy:art15-delivered ${stored.id}`);
    res.json({ request: requestView(delivered) });
  });

  // The report: everything held on the person in every case. Each case it shows is an access
  // record of its own (what, for which request), committed before the report goes out.
  r.get('/requests/:id/report', async (req, res) => {
    const request = requestView(await storedRequest(req.params.id));
    const found = casesOf(d.cases, request);
    const { viewer } = sessionOf(res);
    const look = houseRecord({ viewer, address: d.addressOf(req) }, 'read', `privacy:art15-report ${request.id}`, art15Purpose(request.id));
    if (!(await d.access.recordWritten([look, ...found.map(({ c }) => ({ ...look, caseId: c.id }))]))) throw new HttpError(503, 'UNAVAILABLE');
    const cases = [];
    for (const { c, person } of found) cases.push(await caseSection(c, person, d.dir, d.store));
    const body: Art15ReportView = { request, producedAt: new Date().toISOString(), retentionDays: d.dir.retentionDays, cases };
    res.json(body);
  });

  // R-RETAIN: the closed cases, from the first to be purged, and those purged (only their markers are left).
  r.get('/retention', async (req, res) => {
    logLook(req, res, 'read', 'privacy:retention');
    const closed: RetentionView[] = [...d.cases.all()].flatMap((c) =>
      c.closure
        ? [
            {
              caseId: c.id,
              title: c.title,
              tableId: c.tableId,
              closedOn: c.closure.closedOn,
              retainUntil: c.closure.retainUntil,
              extensions: c.closure.extensions.length,
              purgedAt: null,
            },
          ]
        : [],
    );
    // A marker that does not read (altered in the store) is left to the verification to report:
    // the list the privacy officer needs most then still comes up.
    const purged: RetentionView[] = (await d.purges.listPurges()).flatMap(({ caseId, marker }) => {
      let m: Partial<PurgeMarker>;
      try {
        m = JSON.parse(marker) as Partial<PurgeMarker>;
      } catch {
        return [];
      }
      if (typeof m.closedOn !== 'string' || typeof m.retainUntil !== 'string' || typeof m.at !== 'string') return [];
      return [{ caseId, title: null, tableId: null, closedOn: m.closedOn, retainUntil: m.retainUntil, extensions: 0, purgedAt: m.at }];
    });
    closed.sort((a, b) => a.retainUntil.localeCompare(b.retainUntil));
    purged.sort((a, b) => (b.purgedAt ?? '').localeCompare(a.purgedAt ?? ''));
    res.json({ closed, purged });
  });

  // R-RETAIN: the privacy officer moves a closed case's purge day later, with a recorded reason.
  r.post('/cases/:caseId/retention', async (req, res) => {
    const body = parseBody(RetentionExtensionSchema, req.body);
    const id = CaseIdSchema.safeParse(req.params.caseId);
    if (!id.success || !d.cases.get(id.data)) throw new HttpError(404, 'NOT_FOUND');
    const caseId = id.data;
    const { viewer } = sessionOf(res);
    if (!d.access.writable) throw new HttpError(503, 'UNAVAILABLE');
    const record = { ...houseRecord({ viewer, address: d.addressOf(req) }, 'update', 'case:extendRetention', PURPOSE_PRIVACY_REVIEW), caseId };
    const refused = await d.cases.withCase(caseId, async () => {
      const err = retentionExtensionError(d.cases.get(caseId)?.closure ?? null, body.until);
      if (err) return err.message;
      await d.cases.appendEntries(caseId, (c) =>
        retentionExtensionError(c.closure, body.until)
          ? null
          : [{ event: { type: 'case.retentionExtended', payload: body }, meta: { at: record.at, actorUserId: viewer.userId, actorOrgId: viewer.orgId } }],
      );
      return null;
    });
    if (refused) throw new HttpError(400, 'BAD_REQUEST', refused);
    d.access.record(record);
    res.json({ retainUntil: d.cases.get(caseId)?.closure?.retainUntil ?? body.until });
  });

  r.get('/access', async (req, res) => {
    const q = question(req);
    const search = toSearch(q, PAGE_RECORDS);
    logLook(req, res, 'read', `privacy:access ${describe(q)}`.trim(), q.caseId ?? null);
    const page = await d.store.searchAccess(search);
    res.json({ records: page.records.map(view), next: page.next });
  });

  // A selection as CSV (semicolons, UTF-8 with a byte order mark: what a Dutch spreadsheet opens).
  r.get('/access.csv', async (req, res) => {
    const q = question(req);
    toSearch(q, 1000); // a question that is not one is refused before it is logged
    logLook(req, res, 'export', `privacy:export ${describe(q)}`.trim(), q.caseId ?? null);
    const lines = [`\uFEFF${CSV_COLUMNS.join(';')}`];
    let after = q.after;
    let count = 0;
    let truncated = false;
    do {
      const page = await d.store.searchAccess(toSearch({ ...q, ...(after ? { after } : {}) }, 1000));
      // Every page goes further back, or the export ends (a cursor past the log's end moves nowhere).
      if (page.next !== null && after !== undefined && Number(page.next) >= Number(after)) page.next = null;
      // Between pages the other requests and sockets are served: an export takes its turns.
      await new Promise((resolve) => setImmediate(resolve));
      for (const x of page.records.map(view)) {
        if (count >= MAX_EXPORT_RECORDS) {
          truncated = true;
          break;
        }
        count++;
        lines.push(
          [
            x.at,
            x.action,
            x.operation,
            x.caseId ?? '',
            x.itemId ?? '',
            x.userId ?? '',
            x.userName ?? '',
            x.orgName ?? '',
            x.role,
            x.purpose,
            x.address,
            x.outcome,
          ]
            .map(csvField)
            .join(';'),
        );
      }
      after = page.next ?? undefined;
    } while (after && !truncated);
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="toegangslog-${new Date().toISOString().slice(0, 10)}.csv"`);
    if (truncated) res.setHeader('X-Casusbord-Truncated', String(MAX_EXPORT_RECORDS));
    res.send(`${lines.join('\r\n')}\r\n`);
  });

  return r;
}

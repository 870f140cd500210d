import { Router, type Request } from 'express';
import type { Organisation, Table, UserRole } from '../../shared/domain.js';
import { newId, type OrgId, type TableId, type UserId } from '../../shared/ids.js';
import { OrgInputSchema, OrgUpdateSchema, SignatureSchema, TableInputSchema, UserInputSchema, UserUpdateSchema } from '../../shared/schemas.js';
import { houseRecord, type AccessLog, type Actor } from '../audit/accessLog.js';
import { hashPassword } from '../auth/passwords.js';
import { requireRole, requireSession, sessionOf } from '../auth/routes.js';
import type { Sessions } from '../auth/sessions.js';
import type { Directory } from '../directory/directory.js';
import { HttpError, parseBody } from '../http/errors.js';
import type { UserRecord } from '../store/types.js';

export interface AdminDeps {
  dir: Directory;
  sessions: Sessions;
  access: AccessLog;
  addressOf: (req: Request) => string;
  /** Ends a user's live sessions when the account is disabled. */
  /** Resolves once every process has closed the connections of these sessions. */
  onSessionsEnded: (idHashes: string[]) => Promise<void>;
  /** R-PROTOCOL: takes an organisation off every case when its signature is revoked. */
  onSignatureRevoked: (orgId: OrgId, actor: Actor) => Promise<number>;
}

const publicUser = ({ passwordHash: _omit, ...u }: UserRecord) => u;

/** Functional management of the house: organisations, protocol signatures, people, tables. */
export function adminRoutes(d: AdminDeps): Router {
  const r = Router();
  r.use(requireSession(d.sessions));
  r.use(requireRole('admin'));
  const audit = (req: Request, operation: string): void =>
    d.access.record(houseRecord({ viewer: sessionOf(req.res!).viewer, address: d.addressOf(req) }, 'admin', operation, 'beheer'));
  const org = (id: string): Organisation => {
    const o = d.dir.org(id as OrgId);
    if (!o) throw new HttpError(404, 'NOT_FOUND');
    return o;
  };

  r.get('/overview', (_req, res) => {
    res.json({ orgs: d.dir.allOrgs(), users: d.dir.allUsers().map(publicUser), tables: d.dir.allTables() });
  });

  r.post('/orgs', async (req, res) => {
    const input = parseBody(OrgInputSchema, req.body);
    const o: Organisation = { id: newId<OrgId>('org'), ...input, protocolSignedAt: null, protocolSignedBy: null };
    await d.dir.putOrg(o);
    audit(req, `org:create ${o.id}`);
    res.status(201).json({ org: o });
  });

  r.patch('/orgs/:id', async (req, res) => {
    const input = parseBody(OrgUpdateSchema, req.body);
    const o: Organisation = { ...org(req.params.id as string), ...input };
    await d.dir.putOrg(o);
    audit(req, `org:update ${o.id} ${Object.keys(input).sort().join(',')}`);
    res.json({ org: o });
  });

  // R-PROTOCOL: recording (or revoking) the signature decides whether the org can join cases.
  r.put('/orgs/:id/signature', async (req, res) => {
    const input = parseBody(SignatureSchema, req.body);
    if (input.signed && !input.signedBy) throw new HttpError(400, 'BAD_REQUEST', 'Vul in wie namens de organisatie ondertekende.');
    const current = org(req.params.id as string);
    if (!input.signed && current.kind === 'zvh') throw new HttpError(400, 'BAD_REQUEST', 'Het Zorg- en Veiligheidshuis zelf blijft ondertekenaar.');
    const o: Organisation = {
      ...current,
      protocolSignedAt: input.signed ? new Date().toISOString() : null,
      protocolSignedBy: input.signed ? input.signedBy! : null,
    };
    await d.dir.putOrg(o);
    audit(req, `org:signature ${o.id} ${input.signed ? 'signed' : 'revoked'}`);
    const casesLeft = input.signed ? 0 : await d.onSignatureRevoked(o.id, { viewer: sessionOf(res).viewer, address: d.addressOf(req) });
    res.json({ org: o, casesLeft });
  });

  /** The privacy officer is a person of the house: a partner's staff cannot be given the log of every partner. */
  const houseRolesOnlyInHouse = (o: Organisation, roles: readonly UserRole[]): void => {
    if (roles.includes('privacy') && o.kind !== 'zvh')
      throw new HttpError(400, 'BAD_REQUEST', 'Alleen iemand van het Zorg- en Veiligheidshuis kan privacyfunctionaris zijn.');
    // Who supervises the processing does not also take part in it.
    if (roles.includes('privacy') && roles.length > 1) throw new HttpError(400, 'BAD_REQUEST', 'De privacyfunctionaris heeft geen andere rol.');
  };

  r.post('/users', async (req, res) => {
    const input = parseBody(UserInputSchema, req.body);
    houseRolesOnlyInHouse(org(input.orgId), input.roles);
    if (d.dir.userByUsername(input.username)) throw new HttpError(409, 'CONFLICT', 'Deze gebruikersnaam bestaat al.');
    const u: UserRecord = {
      id: newId<UserId>('usr'),
      username: input.username,
      displayName: input.displayName,
      orgId: input.orgId,
      roles: [...new Set(input.roles)],
      active: true,
      passwordHash: await hashPassword(input.password),
    };
    try {
      await d.dir.putUser(u);
    } catch (e) {
      // Two admins creating the same name at once: the store's uniqueness decides.
      if (/UNIQUE/.test(String(e))) throw new HttpError(409, 'CONFLICT', 'Deze gebruikersnaam bestaat al.');
      throw e;
    }
    audit(req, `user:create ${u.id}`);
    res.status(201).json({ user: publicUser(u) });
  });

  r.patch('/users/:id', async (req, res) => {
    const input = parseBody(UserUpdateSchema, req.body);
    const current = d.dir.userRecord(req.params.id as UserId);
    if (!current) throw new HttpError(404, 'NOT_FOUND');
    if (input.roles) houseRolesOnlyInHouse(org(current.orgId), input.roles);
    const u: UserRecord = {
      ...current,
      ...(input.displayName !== undefined ? { displayName: input.displayName } : {}),
      ...(input.roles !== undefined ? { roles: [...new Set(input.roles)] } : {}),
      ...(input.active !== undefined ? { active: input.active } : {}),
      ...(input.password !== undefined ? { passwordHash: await hashPassword(input.password) } : {}),
    };
    await d.dir.putUser(u);
    // A disabled account, new roles or a reset password take effect at once: its sessions end.
    if (input.active === false || input.password !== undefined || input.roles !== undefined) {
      await d.onSessionsEnded(await d.sessions.destroyAllOf(u.id));
    }
    audit(req, `user:update ${u.id} ${Object.keys(input).sort().join(',')}`);
    res.json({ user: publicUser(u) });
  });

  r.post('/tables', async (req, res) => {
    const input = parseBody(TableInputSchema, req.body);
    const t: Table = { id: newId<TableId>('tbl'), ...input };
    await d.dir.putTable(t);
    audit(req, `table:create ${t.id}`);
    res.status(201).json({ table: t });
  });

  return r;
}

import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_TEXT_NL } from '../../shared/errors.js';
import { MAX_MESSAGE_BYTES } from '../../shared/limits.js';
import { DEMO_PASSWORD, login, TestClient } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';

let srv: TestServer;
const hashOf = (cookie: string): string => createHash('sha256').update(cookie.split('=')[1]!).digest('base64url');
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => srv?.close());

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${srv.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('accounts and sessions', () => {
  it('logs in with an HttpOnly, SameSite=Strict session cookie and answers /api/me', async () => {
    const res = await post('/api/login', { username: 'ggz', password: DEMO_PASSWORD });
    expect(res.status).toBe(200);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('cb_session='))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(((await res.json()) as { me: unknown }).me).toMatchObject({ username: 'ggz', orgId: 'org_ggz', displayName: 'Klaske Wijnia' });
    const me = await fetch(`${srv.url}/api/me`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(me.status).toBe(200);
  });

  it('refuses a wrong password with LOGIN_FAILED, the same as for an unknown user', async () => {
    const wrong = await post('/api/login', { username: 'om', password: 'fout-wachtwoord' });
    const unknown = await post('/api/login', { username: 'niemand', password: 'fout-wachtwoord' });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: { code: 'LOGIN_FAILED', message: ERROR_TEXT_NL.LOGIN_FAILED } });
    expect(unknown.status).toBe(401);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('LOGIN_FAILED');
  });

  it('logout ends the session everywhere: HTTP answers 401 and live sockets are told and closed', async () => {
    const cookie = await login(srv.url, 'reclassering');
    const c = await TestClient.connect(srv.url, 'reclassering', cookie);
    const closed = new Promise<void>((resolve) => c.socket.once('disconnect', () => resolve()));
    const res = await fetch(`${srv.url}/api/logout`, { method: 'POST', headers: { cookie } });
    expect(res.status).toBe(204);
    await c.waitFor((r) => r.event === 'session:ended');
    await closed;
    expect((await fetch(`${srv.url}/api/me`, { headers: { cookie } })).status).toBe(401);
  });

  it('a disabled account loses its sessions and cannot log in', async () => {
    const admin = await login(srv.url, 'beheer');
    const cookie = await login(srv.url, 'politie2');
    const c = await TestClient.connect(srv.url, 'politie2', cookie);
    const res = await fetch(`${srv.url}/api/admin/users/usr_politie2`, {
      method: 'PATCH',
      headers: { cookie: admin, 'content-type': 'application/json' },
      body: JSON.stringify({ active: false }),
    });
    expect(res.status).toBe(200);
    await c.waitFor((r) => r.event === 'session:ended');
    expect((await post('/api/login', { username: 'politie2', password: DEMO_PASSWORD })).status).toBe(401);
  });
});

describe('sessions end their sockets', () => {
  it('logging out an expired session still closes its live sockets', async () => {
    const cookie = await login(srv.url, 'gemeente');
    const c = await TestClient.connect(srv.url, 'gemeente', cookie);
    const idHash = hashOf(cookie);
    // Idle for longer than allowed: the session no longer resolves.
    await srv.app.store.touchSession(idHash, 0);
    expect((await fetch(`${srv.url}/api/me`, { headers: { cookie } })).status).toBe(401);
    await fetch(`${srv.url}/api/logout`, { method: 'POST', headers: { cookie } });
    await c.waitFor((r) => r.event === 'session:ended');
  });

  it('the periodic check ends sockets whose session expired while they stayed open', async () => {
    const cookie = await login(srv.url, 'ggz2');
    const c = await TestClient.connect(srv.url, 'ggz2', cookie);
    const idHash = hashOf(cookie);
    await srv.app.store.touchSession(idHash, 0);
    await srv.app.sessionEnds.sweep();
    await c.waitFor((r) => r.event === 'session:ended');
  });

  it('a socket from another origin is refused at the handshake', async () => {
    const cookie = await login(srv.url, 'ggz');
    await expect(TestClient.connect(srv.url, 'ggz', cookie, { origin: 'https://evil.example' })).rejects.toThrow();
  });
});

describe('R-PROTOCOL administration', () => {
  it('R-PROTOCOL: revoking a signature takes the organisation off its cases at once', async () => {
    const member = await TestClient.connect(srv.url, 'gemeente');
    const caseId = [...srv.app.cases.all()].find((x) => x.title.startsWith('Casus R.'))!.id;
    expect((await member.cmd('case:open', { caseId })).ok).toBe(true);
    const admin = await login(srv.url, 'beheer');
    const res = await fetch(`${srv.url}/api/admin/orgs/org_leeuwarden/signature`, {
      method: 'PUT',
      headers: { cookie: admin, 'content-type': 'application/json' },
      body: JSON.stringify({ signed: false }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { casesLeft: number }).casesLeft).toBe(2);
    await member.waitFor((r) => r.event === 'case:patch' && JSON.stringify(r.args[0]).includes('"revoked"'));
    await member.waitFor((r) => r.event === 'cases:removed');
    member.close();
  });

  it('R-PROTOCOL: only an admin records a signature, after which the organisation can join a case', async () => {
    const chair = await login(srv.url, 'regisseur');
    const notAdmin = await fetch(`${srv.url}/api/admin/orgs/org_walde/signature`, {
      method: 'PUT',
      headers: { cookie: chair, 'content-type': 'application/json' },
      body: JSON.stringify({ signed: true, signedBy: 'Directeur' }),
    });
    expect(notAdmin.status).toBe(403);
    const c = await TestClient.connect(srv.url, 'regisseur', chair);
    const caseId = [...srv.app.cases.all()].find((x) => x.title.startsWith('Casus R.'))!.id;
    const participant = { orgId: 'org_walde', role: 'deelnemer', userIds: ['usr_thuisbegeleiding'] } as never;
    const before = await c.cmd('case:setParticipant', { caseId, participant });
    expect(before.ok ? null : before.error.code).toBe('NOT_SIGNED');
    const admin = await login(srv.url, 'beheer');
    const signed = await fetch(`${srv.url}/api/admin/orgs/org_walde/signature`, {
      method: 'PUT',
      headers: { cookie: admin, 'content-type': 'application/json' },
      body: JSON.stringify({ signed: true, signedBy: 'Directeur' }),
    });
    expect(signed.status).toBe(200);
    expect(((await signed.json()) as { org: { protocolSignedAt: string | null } }).org.protocolSignedAt).toEqual(expect.any(String));
    expect((await c.cmd('case:setParticipant', { caseId, participant })).ok).toBe(true);
    c.close();
  });
});

describe('HTTP bad input and operations', () => {
  it('answers malformed, oversized and wrongly typed bodies with the one error shape', async () => {
    expect((await post('/api/login', '{nope')).status).toBe(400);
    expect((await post('/api/login', { username: 'a' })).status).toBe(400);
    expect((await post('/api/login', { username: 'a', password: 'b', extra: 1 })).status).toBe(400);
    const big = await post('/api/login', { username: 'a', password: 'x'.repeat(MAX_MESSAGE_BYTES * 2) });
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({ error: { code: 'TOO_LARGE', message: ERROR_TEXT_NL.TOO_LARGE } });
    const form = await fetch(`${srv.url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'username=a&password=b',
    });
    expect(form.status).toBe(415);
    const crossSite = await post('/api/login', { username: 'ggz', password: DEMO_PASSWORD }, { origin: 'https://evil.example' });
    expect(crossSite.status).toBe(403);
    expect((await fetch(`${srv.url}/api/directory`)).status).toBe(401);
    expect((await fetch(`${srv.url}/api/nope`)).status).toBe(404);
  });

  it('serves /healthz and sends security headers with a CSP without inline scripts', async () => {
    const res = await fetch(`${srv.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-powered-by')).toBeNull();
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('R-ROLE: the directory lists staff only to chairs', async () => {
    const chair = (await (await fetch(`${srv.url}/api/directory`, { headers: { cookie: await login(srv.url, 'regisseur') } })).json()) as { people: unknown[] };
    const partner = (await (await fetch(`${srv.url}/api/directory`, { headers: { cookie: await login(srv.url, 'ggz') } })).json()) as { people: unknown[] };
    expect(chair.people.length).toBeGreaterThan(5);
    expect(partner.people).toEqual([]);
    expect(JSON.stringify(partner)).not.toContain('Casus');
  });
});

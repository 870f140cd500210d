import { once } from 'node:events';
import { createClient, type RedisClientType } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollabClose, type CaseSummary, type OpenResult } from '../../shared/protocol.js';
import { newId, type CaseId } from '../../shared/ids.js';
import type { RedisStore } from '../../server/store/redis.js';
import { DEMO_PASSWORD, login, TestClient } from '../support/client.js';
import { rawConn } from '../support/collab.js';
import { startRedis, type PrivateRedis } from '../support/redis.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { within } from '../support/wait.js';

// Real faults under a running server on a private Redis: stopped (SIGSTOP, a hang with its
// connections open), ended (SIGTERM), and started again still loading its data.
let redis: PrivateRedis;
let srv: TestServer;
let cookie: string;
let board: TestClient;
let caseId: CaseId;
let minutesDocId: string;
const opened: TestClient[] = [];

beforeAll(async () => {
  // DEBUG POPULATE gives a restart something to load for a few seconds.
  redis = await startRedis({ args: ['--enable-debug-command', 'local'] });
  srv = await startTestServer({ env: { REDIS_URL: redis.url, REDIS_PREFIX: newId('t') } });
  cookie = await login(srv.url, 'politie');
  board = await TestClient.connect(srv.url, 'politie', cookie);
  const list = (await board.waitFor((r) => r.event === 'cases:snapshot')).args[0] as CaseSummary[];
  caseId = list.find((c) => c.title.startsWith('Casus R.'))!.id;
  const open = await board.cmd('case:open', { caseId });
  if (!open.ok) throw new Error(open.error.code);
  minutesDocId = (open.data as Extract<OpenResult, { view: unknown }>).view.meta.minutesDocId!;
});

afterAll(async () => {
  board?.close();
  for (const c of opened) c.close();
  // A test that failed may have left it stopped: the server's close needs it to answer.
  redis?.signal('SIGCONT');
  try {
    await srv?.close();
  } finally {
    await redis?.stop();
  }
});

const status = async (path: string): Promise<number> => (await fetch(`${srv.url}${path}`)).status;

async function me(): Promise<{ status: number; code?: string; retryAfter: string | null }> {
  const res = await fetch(`${srv.url}/api/me`, { headers: { cookie } });
  const body = (await res.json()) as { error?: { code: string } };
  return { status: res.status, code: body.error?.code, retryAfter: res.headers.get('retry-after') };
}

async function tryLogin(): Promise<{ status: number; code?: string }> {
  const res = await fetch(`${srv.url}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'ggz', password: DEMO_PASSWORD }),
  });
  const body = (await res.json()) as { error?: { code: string } };
  return { status: res.status, code: body.error?.code };
}

/** A new socket on the session: 'connected', or the code its handshake was refused with. */
async function handshake(): Promise<string> {
  try {
    opened.push(await TestClient.connect(srv.url, 'politie', cookie));
    return 'connected';
  } catch (e) {
    return (e as Error).message;
  }
}

const addItem = async (text: string): Promise<string> => {
  const ack = await board.cmd('item:add', { caseId, phase: 'beeldvorming', text, visibility: { kind: 'table' } });
  return ack.ok ? 'ok' : ack.error.code;
};

const collabClose = async (): Promise<number> => rawConn(srv.url, minutesDocId, cookie).closed;

/** Everything that needs the store answers "later", and the session is not taken for absent. */
async function expectUnavailable(): Promise<void> {
  // First a read: a write sent into a hang may still be applied, and is not answered UNAVAILABLE
  // (P-ONCE); once the store is known to be down, nothing more is sent to it.
  const m = await me();
  expect(m).toMatchObject({ status: 503, code: 'UNAVAILABLE' });
  expect(Number(m.retryAfter)).toBeGreaterThan(0);
  expect(await addItem('Tijdens de storing.')).toBe('UNAVAILABLE');
  expect(await tryLogin()).toEqual({ status: 503, code: 'UNAVAILABLE' });
  expect(await handshake()).toBe('UNAVAILABLE');
  expect(await collabClose()).toBe(CollabClose.UNAVAILABLE);
  expect(await status('/healthz/ready')).toBe(503);
  expect(await status('/healthz')).toBe(503);
  expect(await status('/healthz/live')).toBe(200);
}

/** After the outage: ready, and the session made before it still works everywhere. */
async function expectServing(text: string): Promise<void> {
  await srv.app.readiness.whenReady();
  expect(await status('/healthz/ready')).toBe(200);
  expect((await me()).status).toBe(200);
  expect(await handshake()).toBe('connected');
  expect(await addItem(text)).toBe('ok');
  expect(await tryLogin()).toEqual({ status: 200, code: undefined });
}

describe('P-REDIS: Redis down is visible at once, and a session outlives the outage', () => {
  it('a Redis that hangs (SIGSTOP): commands, logins and handshakes answer UNAVAILABLE, not ready, live', async () => {
    redis.signal('SIGSTOP');
    try {
      await expectUnavailable();
    } finally {
      redis.signal('SIGCONT');
    }
    await expectServing('Na het hangen.');
  });

  it('a Redis that is gone, then loading after its restart: UNAVAILABLE, never UNAUTHENTICATED', async () => {
    const admin = createClient({ url: redis.url }) as RedisClientType;
    // Expected while the test stops or kills Redis; unheard, an 'error' would end the run.
    admin.on('error', () => undefined);
    await admin.connect();
    // Kept on disk as it stands, sessions included, with enough filler to load for seconds.
    await admin.sendCommand(['DEBUG', 'POPULATE', '40000', 'filler']);
    await admin.sendCommand(['SAVE']);
    admin.destroy();

    await redis.stop();
    await expectUnavailable();

    const storeClient = (srv.app.store as unknown as RedisStore).redis;
    await redis.restart({ args: ['--key-load-delay', '50', '--loading-process-events-interval-bytes', '1024'], until: 'Loading RDB' });
    // The server's connection is back, to a Redis that answers every command with LOADING.
    if (!storeClient.isReady) await within('the store client to be ready again', once(storeClient, 'ready'));
    await expectUnavailable();
    // Still loading when all of that was answered: it was the loading that was seen.
    const probe = createClient({ url: redis.url }) as RedisClientType;
    // Expected while the test stops or kills Redis; unheard, an 'error' would end the run.
    probe.on('error', () => undefined);
    await probe.connect();
    expect(await probe.info('persistence')).toMatch(/^loading:1/m);
    probe.destroy();

    await expectServing('Na het laden.');
  });
});

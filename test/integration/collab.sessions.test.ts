import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { newId, type CaseId, type UserId } from '../../shared/ids.js';
import { SESSION_MAX_AGE_MS } from '../../shared/limits.js';
import { COLLAB_PATH, CollabClose } from '../../shared/protocol.js';
import { login, TestClient } from '../support/client.js';
import { provider, rawConn, synced, textWhere, updateMessage } from '../support/collab.js';
import { startRedis, type PrivateRedis } from '../support/redis.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { frame, Op, rawWs, type RawWs } from '../support/wsframes.js';
import { discuss } from '../support/meetings.js';

// P-SESSION: a co-editing connection lives exactly as long as its session, on every process.

const hashOf = (cookie: string): string => createHash('sha256').update(cookie.split('=')[1]!).digest('base64url');

/** A y-websocket update message inserting `text` at the start, as a writer would send it. */
function typed(text: string): Buffer {
  const scratch = new Y.Doc();
  scratch.getText('text').insert(0, text);
  const message = updateMessage(Y.encodeStateAsUpdate(scratch));
  scratch.destroy();
  return message;
}

/** Minutes of a case with its meeting open: every participant may write them. */
async function openMeeting(url: string, chairCookie: string): Promise<{ chair: TestClient; caseId: CaseId; minutesDocId: string }> {
  const chair = await TestClient.connect(url, 'regisseur', chairCookie);
  const snap = await chair.waitFor((r) => r.event === 'cases:snapshot');
  const caseId = (snap.args[0] as { id: CaseId; title: string }[]).find((c) => c.title.startsWith('Casus R.'))!.id;
  const r = await chair.cmd('case:open', { caseId });
  if (!r.ok) throw new Error(r.error.code);
  const { minutesDocId, meetingOpen } = (r.data as { view: { meta: { minutesDocId: string; meetingOpen: boolean } } }).view.meta;
  if (!meetingOpen) await discuss(chair, caseId);
  return { chair, caseId, minutesDocId };
}

/**
 * A writer's raw connection, then the end of its session, then a frame typed after it: the
 * connection is closed with SESSION_ENDED, the text never reaches the reader (who does get a
 * marker written after it), and the old cookie cannot open the document again.
 */
async function endsWithSession(opts: {
  writer: TestServer;
  reader: TestServer;
  docId: string;
  writerCookie: string;
  readerCookie: string;
  end: () => Promise<void>;
  label: string;
}): Promise<void> {
  const reader = provider(opts.reader.url, opts.docId, opts.readerCookie);
  try {
    await synced(reader);
    const ws: RawWs = await rawWs(Number(new URL(opts.writer.url).port), `${COLLAB_PATH}/${opts.docId}`, { cookie: opts.writerCookie });
    expect(ws.status).toMatch(/^HTTP\/1\.1 101/);
    const before = `VOOR-${opts.label} `;
    ws.write(frame({ opcode: Op.BINARY, payload: typed(before) }));
    await textWhere(reader.doc, (t) => t.includes(before));
    await opts.end();
    // Typed after the end, before the writer has read the close.
    const after = `NA-${opts.label} `;
    ws.write(frame({ opcode: Op.BINARY, payload: typed(after) }));
    expect(await ws.closed).toBe(CollabClose.SESSION_ENDED);
    const marker = `MARKER-${opts.label} `;
    reader.doc.getText('text').insert(0, marker);
    await textWhere(reader.doc, (t) => t.includes(marker));
    // The marker went through the server after the frame: had the frame been applied, it would be here.
    const check = provider(opts.reader.url, opts.docId, opts.readerCookie);
    try {
      await synced(check);
      await textWhere(check.doc, (t) => t.includes(marker));
      expect(check.doc.getText('text').toString()).not.toContain(after);
    } finally {
      check.destroy();
    }
    expect(reader.doc.getText('text').toString()).not.toContain(after);
    const again = rawConn(opts.writer.url, opts.docId, opts.writerCookie);
    expect(await again.status).toBe(401);
  } finally {
    reader.destroy();
  }
}

interface Trigger {
  label: string;
  user: string;
  end: (cookie: string) => Promise<void>;
}

/**
 * Every way a session ends: logout and admin changes are made through `at`; idle expiry and
 * maximum age are found by the sweep of `holder`, the process that holds the connection.
 */
function triggers(at: () => TestServer, holder: () => TestServer, adminCookie: () => string): Trigger[] {
  const patchUser = async (userId: string, body: object): Promise<void> => {
    const res = await fetch(`${at().url}/api/admin/users/${userId}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', cookie: adminCookie() },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
  };
  return [
    {
      label: 'logout',
      user: 'politie',
      end: async (cookie) => {
        expect((await fetch(`${at().url}/api/logout`, { method: 'POST', headers: { cookie } })).status).toBe(204);
      },
    },
    { label: 'disabled', user: 'politie2', end: () => patchUser('usr_politie2', { active: false }) },
    { label: 'roles', user: 'om', end: () => patchUser('usr_om', { roles: ['chair'] }) },
    { label: 'password', user: 'ggz', end: () => patchUser('usr_ggz', { password: 'een-nieuw-wachtwoord-2026' }) },
    {
      label: 'idle',
      user: 'gemeente',
      end: async (cookie) => {
        await at().app.store.touchSession(hashOf(cookie), 0);
        await holder().app.sessionEnds.sweep();
      },
    },
    {
      label: 'maxage',
      user: 'woning',
      end: async (cookie) => {
        const now = Date.now();
        // The same session, started longer ago than a session may last (put keeps a start it already has).
        await at().app.store.deleteSession(hashOf(cookie));
        await at().app.store.putSession({ idHash: hashOf(cookie), userId: 'usr_woning' as UserId, createdAt: now - SESSION_MAX_AGE_MS - 1, lastSeenAt: now });
        await holder().app.sessionEnds.sweep();
      },
    },
  ];
}

/**
 * One test per trigger: the session is ended through `at` (where the reader is) while its
 * writer's connection is open on `holder`.
 */
function itOnEveryTrigger(
  title: (label: string) => string,
  at: () => TestServer,
  holder: () => TestServer,
  ctx: () => { adminCookie: string; chairCookie: string; minutesDocId: string },
): void {
  for (const t of triggers(at, holder, () => ctx().adminCookie)) {
    it(title(t.label), async () => {
      const cookie = await login(at().url, t.user);
      await endsWithSession({
        writer: holder(),
        reader: at(),
        docId: ctx().minutesDocId,
        writerCookie: cookie,
        readerCookie: ctx().chairCookie,
        end: () => t.end(cookie),
        label: at() === holder() ? t.label : `${t.label}-elders`,
      });
    });
  }
}

describe('P-SESSION: a co-editing connection ends with its session (one process)', () => {
  let srv: TestServer;
  let chair: TestClient;
  let chairCookie: string;
  let adminCookie: string;
  let minutesDocId: string;

  beforeAll(async () => {
    srv = await startTestServer({ commandsPerSecond: 10_000 });
    chairCookie = await login(srv.url, 'regisseur');
    adminCookie = await login(srv.url, 'beheer');
    ({ chair, minutesDocId } = await openMeeting(srv.url, chairCookie));
  });
  afterAll(async () => {
    chair?.close();
    await srv?.close();
  });

  itOnEveryTrigger(
    (label) => `P-SESSION: ${label} closes the open co-editing connection; nothing typed after it is applied; the cookie is refused`,
    () => srv,
    () => srv,
    () => ({ adminCookie, chairCookie, minutesDocId }),
  );
});

describe('P-SESSION: a co-editing connection ends with its session (across processes)', () => {
  let redis: PrivateRedis;
  let bus: PrivateRedis;
  let a: TestServer;
  let b: TestServer;
  let chair: TestClient;
  let chairCookie: string;
  let adminCookie: string;
  let minutesDocId: string;

  beforeAll(async () => {
    [redis, bus] = await Promise.all([startRedis(), startRedis()]);
    const env = { REDIS_URL: redis.url, REDIS_BUS_URL: bus.url, REDIS_PREFIX: newId('t') };
    a = await startTestServer({ env, commandsPerSecond: 10_000 });
    b = await startTestServer({ env, commandsPerSecond: 10_000 });
    chairCookie = await login(a.url, 'regisseur');
    adminCookie = await login(a.url, 'beheer');
    ({ chair, minutesDocId } = await openMeeting(a.url, chairCookie));
  });
  afterAll(async () => {
    chair?.close();
    await a?.close();
    await b?.close();
    await redis?.stop();
    await bus?.stop();
  });

  // Ended through process a; the connection is open on process b.
  itOnEveryTrigger(
    (label) => `P-SESSION: ${label} through one process closes the connection open on another`,
    () => a,
    () => b,
    () => ({ adminCookie, chairCookie, minutesDocId }),
  );
});

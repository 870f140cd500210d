import { randomBytes } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { newId, type CaseId } from '../../shared/ids.js';
import { COLLAB_PATH, SOCKET_PATH, type CaseSummary, type CaseView } from '../../shared/protocol.js';
import { MAX_DOC_UPDATE_BYTES } from '../../shared/limits.js';
import { login, TestClient } from '../support/client.js';
import { provider, synced, textWhere } from '../support/collab.js';
import { spawnServer, type ServerProcess } from '../support/process.js';
import { tempDir } from '../support/server.js';
import { closePayload, frame, Op, rawWs, upgradeThenReset, type FrameSpec } from '../support/wsframes.js';
import { startRedis, type PrivateRedis } from '../support/redis.js';

// The server runs as its own process, so a frame that ends it is seen as an exit, not as a
// crashed test worker.
let server: ServerProcess;
let dataDir: string;
let pol: TestClient;
let caseId: CaseId;
let view: CaseView;
const cookie: Record<string, string> = {};
const cleanup: (() => void)[] = [];

beforeAll(async () => {
  dataDir = tempDir();
  server = await spawnServer({ DATA_DIR: dataDir });
  for (const u of ['politie', 'ggz', 'regisseur']) cookie[u] = await login(server.url, u);
  pol = await TestClient.connect(server.url, 'politie', cookie.politie);
  const snap = await pol.waitFor((r) => r.event === 'cases:snapshot');
  caseId = (snap.args[0] as CaseSummary[]).find((c) => c.title.startsWith('Casus R.'))!.id;
  const r = await pol.cmd('case:open', { caseId });
  view = (r as { data: { view: CaseView } }).data.view;
});
afterAll(async () => {
  for (const f of cleanup) f();
  pol?.close();
  await server?.kill('SIGKILL');
});

/** The three kinds of endpoint a fuzzer reaches with one partner account (ggz). */
function endpoints(): { name: string; path: string }[] {
  const readable = view.items.find((i) => i.visibility.kind === 'table' && i.mine)!;
  // Restricted to the police: ggz gets the connection and an immediate close.
  const hidden = view.items.find((i) => i.visibility.kind === 'orgs' && i.mine)!;
  return [
    { name: 'socket.io', path: `${SOCKET_PATH}/?EIO=4&transport=websocket` },
    { name: 'collab (readable)', path: `${COLLAB_PATH}/${readable.textDocId}` },
    { name: 'collab (refused)', path: `${COLLAB_PATH}/${hidden.textDocId}` },
  ];
}

const utf8Bad = Buffer.from([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64]);

/** Every condition on which RFC 6455 §5 and §7 make a server fail the connection. */
const MUST_FAIL: { name: string; frames: FrameSpec[] }[] = [
  ...[1, 2, 4].map((rsv) => ({
    name: `reserved bit RSV${rsv === 4 ? 1 : rsv === 2 ? 2 : 3}`,
    frames: [{ opcode: Op.BINARY, rsv, payload: Buffer.from([0, 0]) }],
  })),
  ...[3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf].map((opcode) => ({ name: `unknown opcode ${opcode}`, frames: [{ opcode, payload: Buffer.from('x') }] })),
  ...[Op.PING, Op.PONG, Op.CLOSE].map((opcode) => ({
    name: `fragmented control frame ${opcode}`,
    frames: [{ opcode, fin: false, payload: Buffer.from([0x03, 0xe8]) }],
  })),
  { name: 'control frame over 125 bytes', frames: [{ opcode: Op.PING, payload: Buffer.alloc(126, 1) }] },
  { name: 'oversize payload claimed', frames: [{ opcode: Op.BINARY, payload: Buffer.alloc(0), declaredLength: BigInt(MAX_DOC_UPDATE_BYTES * 64) }] },
  { name: '64-bit length with the top bit set', frames: [{ opcode: Op.BINARY, declaredLength: 1n << 63n }] },
  { name: 'bad UTF-8 in a text frame', frames: [{ opcode: Op.TEXT, payload: utf8Bad }] },
  {
    name: 'bad UTF-8 in a fragmented text message',
    frames: [
      { opcode: Op.TEXT, fin: false, payload: utf8Bad.subarray(0, 12) },
      { opcode: Op.CONT, payload: utf8Bad.subarray(12) },
    ],
  },
  { name: 'bad UTF-8 in a close reason', frames: [{ opcode: Op.CLOSE, payload: closePayload(1000, utf8Bad) }] },
  ...[0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535].map((code) => ({
    name: `bad close code ${code}`,
    frames: [{ opcode: Op.CLOSE, payload: closePayload(code) }],
  })),
  { name: 'close frame with a one-byte payload', frames: [{ opcode: Op.CLOSE, payload: Buffer.from([0x03]) }] },
  { name: 'unmasked client frame', frames: [{ opcode: Op.BINARY, masked: false, payload: Buffer.from([0, 0]) }] },
  { name: 'continuation without a start', frames: [{ opcode: Op.CONT, payload: Buffer.from('x') }] },
  {
    name: 'new data frame inside a fragmented message',
    frames: [
      { opcode: Op.BINARY, fin: false, payload: Buffer.from([0]) },
      { opcode: Op.BINARY, payload: Buffer.from([0]) },
    ],
  },
];

async function stillServing(): Promise<void> {
  expect(server.proc.exitCode).toBeNull();
  const res = await fetch(`${server.url}/healthz`);
  expect(res.status).toBe(200);
}

/** The stored events (document updates among them) as they are now: a fuzzer must add nothing to them. */
function storeSnapshot(): { events: { case_id: string; version: number; actor_user: string; docId: string | null; newDocId: string | null }[] } {
  const db = new Database(path.join(dataDir, 'casusbord.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT case_id, version, actor_user, type, payload FROM events').all() as {
      case_id: string;
      version: number;
      actor_user: string;
      type: string;
      payload: string;
    }[];
    return {
      events: rows.map((r) => ({
        case_id: r.case_id,
        version: r.version,
        actor_user: r.actor_user,
        docId: r.type === 'doc.update' ? (JSON.parse(r.payload) as { docId: string }).docId : null,
        newDocId: r.type === 'item.added' ? (JSON.parse(r.payload) as { textDocId: string }).textDocId : null,
      })),
    };
  } finally {
    db.close();
  }
}

describe('P-FRAME: no frame a client sends can stop the server', () => {
  it('P-FRAME: every RFC 6455 §5/§7 failure fails only that connection, on both WebSocket endpoints', async () => {
    for (const ep of endpoints()) {
      for (const c of MUST_FAIL) {
        const ws = await rawWs(server.port, ep.path, { cookie: cookie.ggz! });
        expect(ws.status, `${ep.name}: ${c.name}`).toMatch(/^HTTP\/1\.1 101/);
        for (const f of c.frames) ws.write(frame(f));
        await ws.ended;
        // The server ended it: with a protocol-error close code where it still could send one.
        const code = ws.closeCode();
        if (ep.name === 'collab (readable)') expect([1002, 1007, 1009], `${ep.name}: ${c.name} closed with ${code}`).toContain(code);
      }
      await stillServing();
    }
    // Connections reset in the middle of the upgrade, before the server has answered, and just after.
    for (const ep of endpoints()) {
      await Promise.all(Array.from({ length: 50 }, (_, k) => upgradeThenReset(server.port, ep.path, k % 2 ? { cookie: cookie.ggz! } : {})));
      const sockets = await Promise.all(Array.from({ length: 20 }, () => rawWs(server.port, ep.path, { cookie: cookie.ggz! })));
      for (const ws of sockets) ws.sock.resetAndDestroy();
    }
    await stillServing();
  });

  it('P-FRAME: 10,000 random frames and byte sequences, sent while others work, stop nothing and change nothing', async () => {
    const before = storeSnapshot();
    const work = await newWork();
    const fuzz = (async () => {
      let sent = 0;
      let i = 0;
      while (sent < 10_000) {
        const ep = endpoints()[i++ % 3]!;
        const ws = await rawWs(server.port, ep.path, { cookie: cookie.ggz! });
        const n = 1 + (i % 25);
        const chunks = Array.from({ length: n }, () => randomChunk());
        ws.write(Buffer.concat(chunks));
        sent += n;
        ws.sock.end();
        await ws.ended;
      }
      return sent;
    })();
    const [sent, worked] = await Promise.all([fuzz, work.run()]);
    expect(sent).toBeGreaterThanOrEqual(10_000);
    expect(worked).toBeGreaterThan(0);
    await stillServing();
    await work.check();
    // Everything stored since the start was stored by the police's own work.
    const after = storeSnapshot();
    const known = new Set(before.events.map((e) => `${e.case_id}:${e.version}`));
    const added = after.events.filter((e) => !known.has(`${e.case_id}:${e.version}`));
    expect(new Set(added.map((e) => e.actor_user))).toEqual(new Set(['usr_politie']));
    // And the only text among it went into the document the police typed in and those of their new items.
    const theirs = new Set([work.docId, ...added.flatMap((e) => (e.newDocId ? [e.newDocId] : []))]);
    const written = added.flatMap((e) => (e.docId ? [e.docId] : []));
    expect(written).toContain(work.docId);
    expect(written.filter((id) => !theirs.has(id))).toEqual([]);
  });
});

/** A random frame, valid or not, or plain random bytes. */
function randomChunk(): Buffer {
  const r = randomBytes(8);
  const kind = r[0]! % 4;
  if (kind === 0) return randomBytes(1 + (r[1]! % 64));
  const len = kind === 3 ? r[2]! * 4 : r[2]! % 40;
  return frame({
    fin: (r[3]! & 1) === 0,
    rsv: r[4]! % 16 < 12 ? 0 : r[4]! % 8,
    opcode: r[5]! % 4 === 0 ? r[5]! % 16 : [Op.BINARY, Op.TEXT, Op.PING, Op.CLOSE, Op.CONT, Op.PONG][r[5]! % 6]!,
    payload: r[6]! % 3 === 0 ? Buffer.from([0, 2, ...randomBytes(len)]) : randomBytes(len),
    masked: r[7]! % 16 !== 0,
  });
}

/** The police add items and type in a text while a reader follows it live; check() proves it arrived. */
async function newWork(): Promise<{ docId: string; run(): Promise<number>; check(): Promise<void> }> {
  const r = await pol.cmd('item:add', { caseId, phase: 'beeldvorming', text: 'Werk tijdens het fuzzen.', visibility: { kind: 'table' } });
  if (!r.ok) throw new Error(r.error.code);
  const patch = await pol.waitFor((m) => m.event === 'case:patch' && JSON.stringify(m.args).includes(r.data.itemId));
  const ops = (patch.args[0] as { ops: { op: string; item?: { id: string; textDocId: string } }[] }).ops;
  const docId = ops.find((o) => o.item?.id === r.data.itemId)!.item!.textDocId;
  const writer = provider(server.url, docId, cookie.politie!, new Y.Doc());
  const reader = provider(server.url, docId, cookie.regisseur!, new Y.Doc());
  cleanup.push(
    () => writer.destroy(),
    () => reader.destroy(),
  );
  await Promise.all([synced(writer), synced(reader)]);
  let typed = '';
  return {
    docId,
    async run() {
      let n = 0;
      for (let k = 0; k < 40; k++) {
        writer.doc.getText('text').insert(writer.doc.getText('text').length, ` w${k}`);
        typed += ` w${k}`;
        const a = await pol.cmd('item:add', { caseId, phase: 'beeldvorming', text: `Nog een bericht ${k}.`, visibility: { kind: 'table' } });
        if (a.ok) n++;
      }
      return n;
    },
    async check() {
      await textWhere(reader.doc, (t) => t.endsWith(typed));
    },
  };
}

describe('P-FRAME: a reset while the upgrade waits for the store', () => {
  let redis: PrivateRedis;
  let onRedis: ServerProcess;
  afterAll(async () => {
    await onRedis?.kill('SIGKILL');
    await redis?.stop();
  });

  it('P-FRAME: connections reset while their session is read from Redis leave the server up', async () => {
    redis = await startRedis();
    onRedis = await spawnServer({ REDIS_URL: redis.url, REDIS_PREFIX: newId('t') });
    // A cookie of the right shape makes the upgrade wait for Redis; the reset lands in that wait.
    const cookieOf = (): string => `cb_session=${randomBytes(32).toString('base64url')}`;
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        Array.from({ length: 20 }, (_, k) => upgradeThenReset(onRedis.port, `${COLLAB_PATH}/doc_x${k}`, { cookie: cookieOf() }, (k % 4) * 0.5)),
      );
    }
    expect(onRedis.proc.exitCode).toBeNull();
    expect((await fetch(`${onRedis.url}/healthz`)).status).toBe(200);
  });
});

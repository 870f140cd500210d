import fc from 'fast-check';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../shared/errors.js';
import { newCommandId, type CaseId, type ItemId, type OrgId } from '../../shared/ids.js';
import { MAX_ITEM_TEXT_CHARS, MAX_MESSAGE_BYTES } from '../../shared/limits.js';
import { PROTOCOL_VERSION, SOCKET_PATH, type CaseSummary, type CaseView } from '../../shared/protocol.js';
import { COMMAND_NAMES, CommandSchemas } from '../../shared/schemas.js';
import { login, TestClient } from '../support/client.js';
import { buildHouse, idKindsOf, PROBES, shapeErrors, UNKNOWN, type IdKind, type Named } from '../support/existence.js';
import { propertyRuns, propertySeed, timeoutFor } from '../support/property.js';
import { startTestServer, type TestServer } from '../support/server.js';

// Bad input gets a typed error and changes nothing; the connection stays usable; the error never
// tells a hidden case from an absent one (R-ROLE).
let srv: TestServer;
let pol: TestClient;
let caseR: CaseId;
let caseT: CaseId;

// A run is a batch of random payloads: 15 runs (3,000 payloads) in the short mode.
const RUNS = propertyRuns(15);
const PAYLOADS_PER_RUN = 200;

const fingerprint = () => [...srv.app.cases.all()].map((c) => `${c.id}@${c.version}`).sort();

beforeAll(async () => {
  srv = await startTestServer({ commandsPerSecond: 100_000 });
  pol = await TestClient.connect(srv.url, 'politie');
  const all = [...srv.app.cases.all()];
  caseR = all.find((c) => c.title.startsWith('Casus R.'))!.id;
  caseT = all.find((c) => c.title.startsWith('Casus T.'))!.id;
});
afterAll(async () => {
  pol?.close();
  await srv?.close();
});

const isTypedError = (r: unknown): boolean => {
  const a = r as { ok?: unknown; error?: { code?: unknown; message?: unknown } };
  return a.ok === false && ERROR_CODES.includes(a.error?.code as never) && typeof a.error?.message === 'string';
};

describe('bad input changes nothing (R-ROLE, R-OWN)', () => {
  it('R-ROLE: thousands of malformed payloads get typed errors, the server stays up and unchanged', { timeout: timeoutFor(RUNS, 1_000) }, async () => {
    const before = fingerprint();
    const events = fc.oneof(fc.constantFrom(...COMMAND_NAMES), fc.string({ maxLength: 30 }));
    const payload = fc.oneof(
      fc.anything({ maxDepth: 4, withObjectString: true, withNullPrototype: true, withBigInt: false }),
      fc.record(
        {
          caseId: fc.oneof(fc.string(), fc.constant(caseR), fc.constant(caseT)),
          itemId: fc.string(),
          text: fc.string(),
          phase: fc.string(),
          visibility: fc.anything(),
        },
        { requiredKeys: [] },
      ),
      fc.constant({ __proto__: { polluted: true }, caseId: caseR }),
    );
    // Most inputs in a well-formed envelope; some as the bare first argument, or in a damaged one.
    const envelope = fc.oneof({ weight: 4, arbitrary: fc.constant('envelope' as const) }, fc.constant('bare' as const), fc.constant('damaged' as const));
    const damagedId = fc.oneof(fc.string({ maxLength: 80 }), fc.constant(undefined), fc.anything({ maxDepth: 1 }));
    const seed = propertySeed(42);
    let typed = 0;
    // Drawn run by run, so a long run never holds all its payloads at once.
    for (let run = 0; run < RUNS; run++) {
      const samples = fc.sample(fc.tuple(events, payload, envelope, damagedId), { numRuns: PAYLOADS_PER_RUN, seed: seed + run });
      for (let i = 0; i < samples.length; i += 100) {
        const batch = samples.slice(i, i + 100);
        const send = ([e, p, how, id]: (typeof batch)[number]) =>
          how === 'envelope' ? pol.raw(e, p) : how === 'bare' ? pol.rawArgs(e, p) : pol.rawArgs(e, { commandId: id, input: p });
        const answers = await Promise.all(batch.map((b) => send(b).catch((err: Error) => err)));
        answers.forEach((a, j) => {
          // A random payload can happen to be a valid read (opening a case one takes part in).
          const harmlessRead = (a as { ok?: boolean }).ok === true && ['case:open', 'case:leave'].includes(batch[j]![0]);
          expect(isTypedError(a) || harmlessRead, JSON.stringify(a).slice(0, 200)).toBe(true);
          typed++;
        });
      }
    }
    expect(typed).toBe(RUNS * PAYLOADS_PER_RUN);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    expect(fingerprint()).toEqual(before);
    const ok = await pol.cmd('case:open', { caseId: caseR });
    expect(ok.ok).toBe(true);
    expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
  });

  it('R-ROLE R-OWN: well-formed but unauthorised commands are refused and change nothing', async () => {
    const before = fingerprint();
    const view = ((await pol.cmd('case:open', { caseId: caseR })) as { data: { view: CaseView } }).data.view;
    const foreign = view.items.find((i) => !i.mine)!.id;
    const tries: [string, unknown, string][] = [
      ['case:open', { caseId: caseT }, 'NOT_FOUND'],
      ['item:add', { caseId: caseT, phase: 'beeldvorming', text: 'x', visibility: { kind: 'table' } }, 'NOT_FOUND'],
      ['case:setPhase', { caseId: caseR, phase: 'oordelen' }, 'FORBIDDEN'],
      ['case:removeParticipant', { caseId: caseR, orgId: 'org_ggz' }, 'FORBIDDEN'],
      ['item:edit', { caseId: caseR, itemId: foreign, text: 'overgenomen' }, 'FORBIDDEN'],
      ['item:withdraw', { caseId: caseR, itemId: foreign }, 'FORBIDDEN'],
      ['item:edit', { caseId: caseR, itemId: 'it_nietbestaand' as ItemId, text: 'x' }, 'NOT_FOUND'],
      ['item:add', { caseId: caseR, phase: 'beeldvorming', text: 'x'.repeat(MAX_ITEM_TEXT_CHARS + 1), visibility: { kind: 'table' } }, 'BAD_REQUEST'],
      ['item:add', { caseId: caseR, phase: 'beeldvorming', text: 'x', visibility: { kind: 'orgs', orgIds: ['org_walde' as OrgId] } }, 'BAD_REQUEST'],
      ['item:add', { caseId: caseR, phase: 'beeldvorming', text: 'x', visibility: { kind: 'table' }, orgId: 'org_ggz' }, 'BAD_REQUEST'],
      [
        'case:create',
        {
          tableId: 'tbl_topx',
          title: 't',
          subjectNote: '',
          goal: 'g',
          participants: [{ orgId: 'org_politie', role: 'voorzitter', userIds: ['usr_politie'] }],
          persons: [{ name: 'Betrokkene', birthDate: '1990-01-01' }],
          informDueDate: '2026-12-01',
        },
        'FORBIDDEN',
      ],
      ['case:open', { caseId: caseR, since: 'vervalst' }, ''],
    ];
    for (const [e, p, code] of tries) {
      const r = await pol.raw(e, p);
      if (code) expect([e, r]).toEqual([e, { ok: false, error: { code, message: expect.any(String) } }]);
    }
    expect(fingerprint()).toEqual(before);
  });

  it('P-ONCE P-EXIST: a command outside its envelope, or in a damaged one, is BAD_REQUEST whatever it names', async () => {
    const before = fingerprint();
    const input = (caseId: string) => ({ caseId, phase: 'beeldvorming', text: 'x', visibility: { kind: 'table' } });
    const envelopes: [string, (caseId: string) => unknown[]][] = [
      ['bare input (protocol 1)', (id) => [input(id)]],
      ['no envelope at all', () => []],
      ['no id', (id) => [{ input: input(id) }]],
      ['an id too short', (id) => [{ commandId: 'kort', input: input(id) }]],
      ['an id not a string', (id) => [{ commandId: 1_234_567_890_123_456, input: input(id) }]],
      ['an id with other characters', (id) => [{ commandId: 'a'.repeat(20) + '/', input: input(id) }]],
      ['an unknown field', (id) => [{ commandId: newCommandId(), input: input(id), extra: 1 }]],
    ];
    // Visible (caseR), hidden from the police (caseT) and unknown: one answer for all three.
    for (const [label, args] of envelopes) {
      for (const caseId of [caseR, caseT, 'cs_onbekend']) {
        expect([label, caseId, await pol.rawArgs('item:add', ...args(caseId))]).toEqual([
          label,
          caseId,
          { ok: false, error: { code: 'BAD_REQUEST', message: expect.any(String) } },
        ]);
      }
    }
    expect(fingerprint()).toEqual(before);
  });

  it('R-ROLE: a message over the size limit closes only that socket; the server stays up', async () => {
    const c = await TestClient.connect(srv.url, 'ggz');
    const closed = new Promise<void>((resolve) => c.socket.once('disconnect', () => resolve()));
    const input = { caseId: caseR, phase: 'beeldvorming' as const, text: 'x'.repeat(MAX_MESSAGE_BYTES * 2), visibility: { kind: 'table' as const } };
    c.socket.emit('item:add', { commandId: newCommandId(), input }, () => undefined);
    await closed;
    const again = await TestClient.connect(srv.url, 'ggz');
    expect((await again.cmd('case:open', { caseId: caseR })).ok).toBe(true);
    again.close();
  });

  it('R-ROLE: commands without an ack are dropped without effect', async () => {
    const before = fingerprint();
    const input = { caseId: caseR, phase: 'beeldvorming', text: 'zonder ack', visibility: { kind: 'table' } };
    (pol.socket as unknown as { emit: (e: string, p: unknown) => void }).emit('item:add', { commandId: newCommandId(), input });
    // The next acknowledged command is answered after the one before it was handled.
    expect((await pol.cmd('case:leave', { caseId: 'cs_x' as CaseId })).ok).toBe(false);
    expect(fingerprint()).toEqual(before);
  });

  it('R-ROLE: sockets without a session, or of another protocol version, are refused at the handshake', async () => {
    const refuse = (opts: { cookie?: string; version?: number }) =>
      new Promise<{ message: string; data: unknown }>((resolve, reject) => {
        const s = io(srv.url, {
          path: SOCKET_PATH,
          transports: ['websocket'],
          reconnection: false,
          forceNew: true,
          auth: { protocolVersion: opts.version ?? PROTOCOL_VERSION },
          extraHeaders: opts.cookie ? { cookie: opts.cookie } : {},
        });
        s.on('connect', () => reject(new Error('connected')));
        s.on('cases:snapshot' as never, () => reject(new Error('got data')));
        s.on('connect_error', (e: Error & { data?: unknown }) => {
          s.close();
          resolve({ message: e.message, data: e.data });
        });
      });
    expect((await refuse({})).message).toBe('UNAUTHENTICATED');
    expect((await refuse({ cookie: 'cb_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })).message).toBe('UNAUTHENTICATED');
    const cookie = await login(srv.url, 'ggz');
    const old = await refuse({ cookie, version: PROTOCOL_VERSION - 1 });
    expect(old).toEqual({ message: 'PROTOCOL_OUTDATED', data: { code: 'PROTOCOL_OUTDATED', message: expect.stringMatching(/Herlaad/) } });
  });

  it('R-ROLE: a flood from one socket is slowed with RATE_LIMITED, others are not', async () => {
    const limited = await startTestServer();
    try {
      const a = await TestClient.connect(limited.url, 'politie');
      const b = await TestClient.connect(limited.url, 'ggz');
      const answers = await Promise.all(Array.from({ length: 300 }, () => a.cmd('case:leave', { caseId: 'cs_x' as CaseId })));
      expect(answers.filter((r) => !r.ok && r.error.code === 'RATE_LIMITED').length).toBeGreaterThan(100);
      const snap = (await b.waitFor((r) => r.event === 'cases:snapshot')).args[0] as CaseSummary[];
      expect((await b.cmd('case:open', { caseId: snap[0]!.id })).ok).toBe(true);
      a.close();
      b.close();
    } finally {
      await limited.close();
    }
  });
});

describe('P-EXIST: no refusal tells a hidden thing from an unknown one', () => {
  const USERS = ['regisseur', 'regisseur2', 'politie', 'om', 'ggz'] as const;
  let clients: Record<(typeof USERS)[number], TestClient>;
  /** Kinds of id whose refusal must be NOT_FOUND, whatever else is wrong with the input. */
  const IN_A_CASE: IdKind[] = ['CaseId', 'ItemId', 'ConsentId', 'InterventionId'];

  beforeAll(async () => {
    clients = Object.fromEntries(await Promise.all(USERS.map(async (u) => [u, await TestClient.connect(srv.url, u)] as const))) as typeof clients;
  });
  afterAll(() => {
    for (const c of Object.values(clients ?? {})) c.close();
  });

  it('P-EXIST: every command of the command table has a probe, and its input is valid', () => {
    expect(Object.keys(PROBES).sort()).toEqual([...COMMAND_NAMES].sort());
    const n: Named = { ...UNKNOWN };
    for (const name of COMMAND_NAMES) expect([name, CommandSchemas[name].safeParse(PROBES[name].payload(n)).success]).toEqual([name, true]);
  });

  it('P-EXIST: every command naming an id answers a hidden one as an unknown one, byte for byte, with and without shape errors', async () => {
    const failures: string[] = [];
    let compared = 0;
    for (const name of COMMAND_NAMES) {
      const probe = PROBES[name];
      const kinds = idKindsOf(name);
      for (const who of ['ggz', 'regisseur'] as const) {
        // A fresh house per command and user: the last try, with visible ids, may change it.
        const sight = (await buildHouse(clients))[who];
        const me = clients[who];
        await me.raw('case:open', { caseId: sight.visible.CaseId });
        const versions = () => sight.cases.map((id) => srv.app.cases.get(id)!.version);
        const before = versions();
        const shapes: [string, (n: Named) => unknown][] = [['none', probe.payload], ...shapeErrors(probe)];
        for (const kind of kinds) {
          if (sight.public.includes(kind)) continue;
          const hidden = (sight.hidden[kind] ?? []).filter((o) => !(name === 'item:restrict' && sight.ownWithdrawn.includes(o.ItemId!)));
          // A new kind of id fails here until the house has one hidden from this user.
          expect(hidden.length, `${who}: no hidden ${kind} for ${name} in the test house`).toBeGreaterThan(0);
          for (const o of hidden) {
            const unknown: Named = Object.fromEntries(Object.keys(o).map((k) => [k, UNKNOWN[k]!]));
            for (const [shape, build] of shapes) {
              const b = JSON.stringify(await me.raw(name, build({ ...sight.visible, ...o })));
              const c = JSON.stringify(await me.raw(name, build({ ...sight.visible, ...unknown })));
              compared++;
              const label = `${who} ${name} ${JSON.stringify(o)} shape error: ${shape}`;
              if (b !== c) failures.push(`${label}: hidden ${b} but unknown ${c}`);
              else if (IN_A_CASE.includes(kind) && !b.includes('"code":"NOT_FOUND"')) failures.push(`${label}: ${b}`);
            }
          }
        }
        expect([name, who, versions()]).toEqual([name, who, before]);
        // The visible ids really are visible: none of their answers is NOT_FOUND. Valid input last.
        for (const [shape, build] of [...shapes.slice(1), shapes[0]!]) {
          const a = await me.raw(name, build(sight.visible));
          if (!a.ok && a.error.code === 'NOT_FOUND') failures.push(`${who} ${name} visible ids, shape error: ${shape}: NOT_FOUND`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(compared).toBeGreaterThan(300);
  });

  it('P-EXIST property: random damage to any command naming a hidden id is answered as for an unknown one', { timeout: timeoutFor(RUNS, 2_000) }, async () => {
    const house = await buildHouse(clients);
    // Every (command, user, hidden thing) the table yields; the house is never changed, as every try is refused.
    const combos = COMMAND_NAMES.flatMap((name) =>
      (['ggz', 'regisseur'] as const).flatMap((who) =>
        idKindsOf(name)
          .filter((k) => !house[who].public.includes(k))
          .flatMap((k) =>
            (house[who].hidden[k] ?? [])
              .filter((o) => !(name === 'item:restrict' && house[who].ownWithdrawn.includes(o.ItemId!)))
              .map((o) => ({ name, who, o })),
          ),
      ),
    );
    const edit = fc.record({ at: fc.nat(), value: fc.option(fc.anything({ maxDepth: 2 }), { nil: undefined }), twice: fc.boolean() });
    const tries = fc.record({ combo: fc.nat(), edits: fc.array(edit, { minLength: 1, maxLength: 3 }) });
    /** The same edits to both inputs: a field replaced, removed or (a list) doubled, or one added. */
    const damage = (input: unknown, edits: { at: number; value: unknown; twice: boolean }[]) => {
      const out = { ...(input as Record<string, unknown>) };
      for (const e of edits) {
        const keys = [...Object.keys(out), 'onbekend'];
        const k = keys[e.at % keys.length]!;
        if (e.twice && Array.isArray(out[k])) out[k] = [...(out[k] as unknown[]), ...(out[k] as unknown[])];
        else if (e.value === undefined) delete out[k];
        else out[k] = e.value;
      }
      return out;
    };
    const versions = () => house.ggz.cases.map((id) => srv.app.cases.get(id)!.version);
    const before = versions();
    const seed = propertySeed(13);
    for (let run = 0; run < RUNS; run++) {
      for (const t of fc.sample(tries, { numRuns: 40, seed: seed + run })) {
        const { name, who, o } = combos[t.combo % combos.length]!;
        const sight = house[who];
        const unknown: Named = Object.fromEntries(Object.keys(o).map((k) => [k, UNKNOWN[k]!]));
        const b = await clients[who].raw(name, damage(PROBES[name].payload({ ...sight.visible, ...o }), t.edits));
        const c = await clients[who].raw(name, damage(PROBES[name].payload({ ...sight.visible, ...unknown }), t.edits));
        expect({ name, who, o, edits: t.edits, answer: JSON.stringify(b) }).toEqual({ name, who, o, edits: t.edits, answer: JSON.stringify(c) });
      }
    }
    expect(versions()).toEqual(before);
  });
});

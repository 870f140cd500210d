import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../server/cases/commands/index.js';
import type { CaseId, UserId } from '../../shared/ids.js';
import { COMMAND_NAMES } from '../../shared/schemas.js';
import { TestClient } from '../support/client.js';
import { PROBES, UNKNOWN } from '../support/existence.js';
import { startTestServer, type TestServer } from '../support/server.js';

// The action the access log records for a command is the one its module declares, whether the
// command is refused or committed: no second table of actions to fall out of step.

let srv: TestServer;
let pol: TestClient;

beforeAll(async () => {
  srv = await startTestServer();
  pol = await TestClient.connect(srv.url, 'politie');
});
afterAll(async () => {
  pol?.close();
  await srv?.close();
});

const recordsOf = async (userId: string) => {
  await srv.app.access.flush();
  return srv.app.store.readAccess({ userId: userId as UserId });
};

describe('R-FILE: every command is logged with the action of its module', () => {
  it('R-FILE: a refused command of every kind is recorded as denied, with its module action', async () => {
    const user = srv.app.dir.userByUsername('politie')!;
    // Unknown cases and ids: every command is refused; case:create because the police is no chair.
    for (const name of COMMAND_NAMES) expect([name, (await pol.raw(name, PROBES[name].payload(UNKNOWN))).ok]).toEqual([name, false]);
    // An operation is the command's name, followed by what it concerns where that is more (a print: which).
    const logged = new Map((await recordsOf(user.id)).filter((r) => r.outcome === 'denied').map((r) => [r.operation.split(' ')[0], r.action]));
    // Leaving a case one has not open reads and changes nothing: nothing to record.
    const expected = COMMAND_NAMES.filter((n) => n !== 'case:leave').map((n) => [n, COMMANDS[n].action]);
    expect(Object.fromEntries(logged)).toEqual(Object.fromEntries(expected));
  });

  it('R-FILE: committed commands are recorded with their module action', async () => {
    const caseId = [...srv.app.cases.all()].find((c) => c.title.startsWith('Casus R.'))!.id as CaseId;
    const user = srv.app.dir.userByUsername('politie')!;
    const added = await pol.cmd('item:add', { caseId, phase: 'beeldvorming', text: 'voor het logboek', visibility: { kind: 'table' } });
    if (!added.ok) throw new Error(added.error.code);
    const { itemId } = added.data;
    expect((await pol.cmd('item:edit', { caseId, itemId, text: 'bijgewerkt' })).ok).toBe(true);
    expect((await pol.cmd('item:withdraw', { caseId, itemId })).ok).toBe(true);
    const changes = ['item:add', 'item:edit', 'item:withdraw'] as const;
    const ofChanges = new Set<string>(changes);
    const done = (await recordsOf(user.id)).filter((r) => r.outcome === 'ok' && r.itemId === itemId && ofChanges.has(r.operation));
    expect(done.map((r) => [r.operation, r.action])).toEqual(changes.map((n) => [n, COMMANDS[n].action]));
  });
});

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CaseId } from '../../shared/ids.js';
import type { CaseSummary } from '../../shared/protocol.js';
import { ConfigError, loadConfig } from '../../server/config.js';
import { TestClient } from '../support/client.js';
import { spawnServer, type ServerProcess } from '../support/process.js';
import { tempDir } from '../support/server.js';

let server: ServerProcess | undefined;
afterAll(async () => {
  await server?.kill('SIGKILL');
});

describe('operations', () => {
  it('validates the environment and names the bad variable', () => {
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: 'abc' })).toThrow(/PORT/);
    expect(() => loadConfig({ SEED_DEMO: 'misschien' })).toThrow(/SEED_DEMO/);
    expect(loadConfig({}).PORT).toBe(3000);
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
      cwd: path.resolve(import.meta.dirname, '../..'),
      env: { ...process.env, LOG_LEVEL: 'loud' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/LOG_LEVEL/);
  });

  it('R-FILE: logs carry no case content, and SIGTERM shuts down cleanly with everything kept', async () => {
    const dataDir = tempDir();
    server = await spawnServer({ DATA_DIR: dataDir, LOG_LEVEL: 'debug' });
    const pol = await TestClient.connect(server.url, 'politie');
    const snap = await pol.waitFor((r) => r.event === 'cases:snapshot');
    const caseId = (snap.args[0] as CaseSummary[])[0]!.id as CaseId;
    const canary = 'KANARIE-vertrouwelijk-7731';
    expect((await pol.cmd('case:open', { caseId })).ok).toBe(true);
    expect((await pol.cmd('item:add', { caseId, phase: 'beeldvorming', text: canary, visibility: { kind: 'table' } })).ok).toBe(true);
    // Bad input is logged as codes only, too.
    await pol.raw('item:add', { caseId, text: canary });
    const exit = await server.kill('SIGTERM');
    expect(exit.code).toBe(0);
    const out = server.output();
    expect(out).toContain('shutting down');
    expect(out).not.toContain(canary);
    expect(out).not.toMatch(/Casus R\.|Gezin B\.|Leeuwarden-Oost/);

    server = await spawnServer({ DATA_DIR: dataDir });
    const again = await TestClient.connect(server.url, 'politie');
    const r = await again.cmd('case:open', { caseId });
    expect(JSON.stringify(r)).toContain(canary);
    again.close();
    pol.close();
  });
});

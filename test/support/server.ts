import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCasusbord, type AppOptions, type Casusbord } from '../../server/app.js';
import { loadConfig } from '../../server/config.js';

export interface TestServer {
  app: Casusbord;
  url: string;
  dataDir: string;
  dbFile: string;
  close(): Promise<void>;
}

export function tempDir(prefix = 'casusbord-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A real server on an ephemeral port with its own SQLite file and the demo data. */
export async function startTestServer(opts: AppOptions & { dataDir?: string; env?: Record<string, string> } = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? tempDir();
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', SEED_DEMO: 'true', HOST: '127.0.0.1', PORT: '0', ...opts.env });
  const app = await createCasusbord(config, opts);
  const port = await app.listen(0, '127.0.0.1');
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    dataDir,
    dbFile: config.dbFile,
    async close() {
      await app.close();
    },
  };
}

import fs from 'node:fs';
import path from 'node:path';
import { SqliteStore } from '../../server/store/sqlite.js';
import { runStoreContract } from '../support/store.contract.js';
import { tempDir } from '../support/server.js';

runStoreContract('SQLite file', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'store.sqlite');
  return {
    store: new SqliteStore(file),
    reopen: async () => new SqliteStore(file),
    cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
});

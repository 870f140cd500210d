import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from './log.js';

const SOURCES = ['client', 'shared'];

function newestMtime(dir: string): number {
  let newest = 0;
  if (!fs.existsSync(dir)) return 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    newest = Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** `npm start` on a fresh checkout builds the client first; a current build is left alone. */
export async function ensureClientBuilt(clientDir: string, log: Logger): Promise<void> {
  const index = path.resolve(clientDir, 'index.html');
  const builtAt = fs.existsSync(index) ? fs.statSync(index).mtimeMs : 0;
  const sourceAt = Math.max(...SOURCES.map((d) => newestMtime(path.resolve(d))));
  if (builtAt > sourceAt) return;
  log.info({ clientDir }, builtAt ? 'client build is stale, rebuilding' : 'client not built yet, building');
  const { build } = await import('vite');
  await build({ configFile: path.resolve('client/vite.config.ts'), logLevel: 'warn', build: { outDir: path.resolve(clientDir), emptyOutDir: true } });
}

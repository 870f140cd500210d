import { spawn } from 'node:child_process';
import path from 'node:path';
import { createServer } from 'vite';

/**
 * `npm run dev`: the API server restarting on change (port 3000) and Vite's dev server with hot
 * reload (port 5173, proxying /api and /socket.io to 3000). Ctrl-C stops both.
 */
const api = spawn(process.execPath, ['--import', 'tsx', '--watch', 'server/index.ts'], {
  stdio: 'inherit',
  env: { ...process.env, CLIENT_BUILD: 'off' },
});
const vite = await createServer({ configFile: path.resolve('client/vite.config.ts') });
await vite.listen();
vite.printUrls();

const stop = async (): Promise<void> => {
  api.kill('SIGTERM');
  await vite.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
api.on('exit', (code) => {
  if (code !== null && code !== 0) void stop();
});

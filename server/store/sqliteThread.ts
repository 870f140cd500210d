import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * Starts a thread of the store (writer, checkpointer). It runs TypeScript like the rest of the
 * server: it registers tsx itself, since a worker does not inherit the loader hooks of the thread
 * that started it.
 */
export function startThread(entry: string, file: string): Worker {
  // The ESM entry of tsx's API (require.resolve would give the CommonJS one).
  const pkgFile = createRequire(import.meta.url).resolve('tsx/package.json');
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  const tsx = pathToFileURL(path.join(path.dirname(pkgFile), pkg.exports['./esm/api']!.import.default)).href;
  const url = new URL(entry, import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url)}); })`;
  return new Worker(boot, { eval: true, workerData: { file }, name: path.basename(entry, '.worker.ts') });
}

/** Asks the thread to close its connection and waits for its last word (or its end). */
export function stopThread(w: Worker, onClosed: (fn: () => void) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    onClosed(resolve);
    w.once('exit', () => resolve());
    w.ref();
    // The writer and the checkpointer take the same word.
    w.postMessage('close');
  }).then(() => void w.unref());
}

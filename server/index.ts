import { SocketClosedUnexpectedlyError } from 'redis';
import { ConfigError, loadConfig } from './config.js';
import { createCasusbord } from './app.js';
import { ensureClientBuilt } from './buildClient.js';
import { createLogger } from './log.js';
import { StartError } from './startError.js';

/** A bad configuration, or a data directory, database file or Redis that cannot serve: said, exit 2. */
function stopIfUnfit(e: unknown): void {
  if (e instanceof ConfigError || e instanceof StartError) {
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    stopIfUnfit(e);
    throw e;
  }
  const log = createLogger(config.LOG_LEVEL);
  // While Redis restarts, @redis/client now and then emits "socket closed unexpectedly" on an
  // emitter nobody listens to (about one restart in ten in test/integration/cluster.test.ts, also
  // before this code's clients changed; every client here has an error listener). The clients
  // reconnect on their own, so that one error is logged; anything else still ends the process.
  process.on('uncaughtException', (err) => {
    if (err instanceof SocketClosedUnexpectedlyError) {
      log.warn({ err: err.message }, 'Redis connection dropped; reconnecting');
      return;
    }
    process.stderr.write(`${err.stack ?? String(err)}\n`);
    process.exit(1);
  });
  if (config.CLIENT_BUILD === 'auto') await ensureClientBuilt(config.CLIENT_DIR, log);
  let app;
  try {
    app = await createCasusbord(config, { logger: log });
  } catch (e) {
    stopIfUnfit(e);
    throw e;
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Only now: whoever acts on this line (a supervisor, a test) may stop the process at once, and
  // before the handlers above a SIGTERM ends it on the spot, without closing anything.
  const port = await app.listen();
  log.info({ port, db: config.dbFile }, `Casusbord luistert op http://localhost:${port}`);
}

void main();

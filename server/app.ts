import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express, { type Request } from 'express';
import helmet from 'helmet';
import { MAX_MESSAGE_BYTES } from '../shared/limits.js';
import { adminRoutes } from './admin/routes.js';
import { AccessLog } from './audit/accessLog.js';
import { authRoutes } from './auth/routes.js';
import { Sessions } from './auth/sessions.js';
import { CaseService } from './cases/service.js';
import type { Config } from './config.js';
import { Directory } from './directory/directory.js';
import { errorHandler, HttpError, requireJsonSameOrigin } from './http/errors.js';
import { createLogger, type Logger } from './log.js';
import { Cursors } from './realtime/cursor.js';
import { clientAddress, Realtime, sameOrigin } from './realtime/socket.js';
import { Collab } from './collab/collab.js';
import { COLLAB_PATH, SOCKET_PATH } from '../shared/protocol.js';
import { seedDemo } from './seed/demo.js';
import { SqliteStore } from './store/sqlite.js';
import { RedisStore } from './store/redis.js';
import { RedisCluster, SingleProcess, type Cluster } from './cluster/cluster.js';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { Store } from './store/types.js';

export interface AppOptions {
  logger?: Logger;
  store?: Store;
  /** Commands per second per socket; tests of other things raise it to drive load quickly. */
  commandsPerSecond?: number;
  /** Pause that ends an editing burst of collaborative text. */
  burstMs?: number;
}

export interface Casusbord {
  readonly http: http.Server;
  readonly store: Store;
  readonly cases: CaseService;
  readonly dir: Directory;
  readonly realtime: Realtime;
  readonly collab: Collab;
  readonly cursors: Cursors;
  readonly access: AccessLog;
  readonly log: Logger;
  listen(port?: number, host?: string): Promise<number>;
  /** Graceful: refuse new work, close sockets, flush the access log, close the store. */
  close(): Promise<void>;
}

/** Another process is writing the demo data: start only once it is all there. */
async function waitForSeed(store: Store, log: Logger): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await store.getMeta('seeded'))) {
    if (Date.now() > deadline) throw new Error('demo data was claimed by another process but never completed');
    log.info('waiting for another process to finish the demo data');
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface OpenedStore {
  store: Store;
  cluster: Cluster;
  adapter?: ReturnType<typeof createAdapter>;
  closeAdapter: () => Promise<void>;
}

/** SQLite by default; with REDIS_URL, Redis plus the links between processes. */
async function openStore(config: Config, log: Logger, given?: Store): Promise<OpenedStore> {
  const none = async (): Promise<void> => undefined;
  if (given) return { store: given, cluster: new SingleProcess(), closeAdapter: none };
  if (!config.REDIS_URL) return { store: new SqliteStore(config.dbFile), cluster: new SingleProcess(), closeAdapter: none };
  const store = await RedisStore.connect(config.REDIS_URL, config.REDIS_PREFIX);
  const cluster = await RedisCluster.connect(store.redis, store.keyNames, log);
  const adapterClient = store.redis.duplicate();
  adapterClient.on('error', () => undefined);
  await adapterClient.connect();
  log.info({ prefix: config.REDIS_PREFIX }, 'using Redis');
  return {
    store,
    cluster,
    adapter: createAdapter(adapterClient, { streamName: `${config.REDIS_PREFIX}:socket.io` }),
    closeAdapter: async () => {
      if (adapterClient.isOpen) await adapterClient.quit();
    },
  };
}

export async function createCasusbord(config: Config, opts: AppOptions = {}): Promise<Casusbord> {
  const log = opts.logger ?? createLogger(config.LOG_LEVEL);
  const { store, cluster, adapter, closeAdapter } = await openStore(config, log, opts.store);
  // With several processes on one store, only the one that claims the seed writes it.
  const claim = randomBytes(8).toString('hex');
  if (config.SEED_DEMO && !(await store.getMeta('seeded')) && (await store.initMeta('seeding', claim)) === claim) {
    await seedDemo(store);
    await store.initMeta('seeded', new Date().toISOString());
    log.info('demo data seeded');
  } else if (config.SEED_DEMO) {
    await waitForSeed(store, log);
  }
  const dir = new Directory(store, () => cluster.directoryChanged());
  await dir.load();
  cluster.onDirectory(() => void dir.load().catch((err: unknown) => log.error({ err }, 'directory reload failed')));
  const access = new AccessLog(store, log);
  const cases = new CaseService(store, dir, access, log, cluster);
  await cases.load();
  const cursors = new Cursors(Buffer.from(await store.initMeta('cursor-key', randomBytes(32).toString('base64')), 'base64'));
  const sessions = new Sessions(store, dir);
  const addressOf = (req: Request): string => clientAddress(req.headers, req.socket.remoteAddress, config.TRUST_PROXY);

  const app = express();
  app.disable('x-powered-by');
  if (config.TRUST_PROXY > 0) app.set('trust proxy', config.TRUST_PROXY);
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          connectSrc: ["'self'"],
          fontSrc: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          ...(config.COOKIE_SECURE ? { upgradeInsecureRequests: [] } : {}),
        },
      },
      strictTransportSecurity: config.COOKIE_SECURE,
    }),
  );
  let closing = false;
  app.get('/healthz', (_req, res) => {
    res.status(closing ? 503 : 200).json({ status: closing ? 'stopping' : 'ok' });
  });
  app.use('/api', requireJsonSameOrigin, express.json({ limit: MAX_MESSAGE_BYTES }));
  // Case data is never cached by browsers or proxies.
  app.use('/api', (_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });

  const server = http.createServer(app);
  const realtime = new Realtime(server, {
    sessions,
    dir,
    cases,
    access,
    cursors,
    log,
    commandsPerSecond: opts.commandsPerSecond ?? config.COMMANDS_PER_SECOND,
    trustProxy: config.TRUST_PROXY,
    adapter,
  });
  const endSessions = (ids: string[]): void => realtime.endSessions(ids);
  app.use('/api', authRoutes({ store, dir, sessions, access, cookieSecure: config.COOKIE_SECURE, addressOf, onLogout: endSessions }));
  app.use(
    '/api/admin',
    adminRoutes({
      dir,
      sessions,
      access,
      addressOf,
      onSessionsEnded: endSessions,
      onSignatureRevoked: (orgId, actor) => cases.removeOrganisationEverywhere(orgId, actor),
    }),
  );
  app.use('/api', () => {
    throw new HttpError(404, 'NOT_FOUND');
  });

  const clientDir = path.resolve(config.CLIENT_DIR);
  const indexHtml = path.join(clientDir, 'index.html');
  app.use(express.static(clientDir, { index: false, maxAge: '1h' }));
  app.get('/{*splat}', (_req, res, next) => {
    if (!fs.existsSync(indexHtml)) return next(new HttpError(404, 'NOT_FOUND', 'De webapplicatie is nog niet gebouwd (npm run build).'));
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(indexHtml);
  });
  app.use(errorHandler(log));

  const collab = new Collab({ store, sessions, cases, dir, access, log, addressOf: (req) => clientAddress(req.headers, req.socket.remoteAddress, config.TRUST_PROXY), burstMs: opts.burstMs, cluster });
  // Socket.IO handles its own path; the collaboration endpoint claims its own; all else is refused.
  server.on('upgrade', (req, socket, head) => {
    if (req.url?.startsWith(`${COLLAB_PATH}/`)) {
      if (!sameOrigin(req.headers)) return void socket.destroy();
      void collab.handleUpgrade(req, socket, head);
    } else if (!req.url?.startsWith(`${SOCKET_PATH}/`)) socket.destroy();
  });

  return {
    http: server,
    store,
    cases,
    dir,
    realtime,
    collab,
    cursors,
    access,
    log,
    listen(port = config.PORT, host = config.HOST) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    async close() {
      if (closing) return;
      closing = true;
      await collab.close();
      await realtime.close();
      server.closeAllConnections();
      await access.flush();
      await cluster.close();
      await closeAdapter();
      await store.close();
    },
  };
}

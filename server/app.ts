import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request } from 'express';
import { MAX_MESSAGE_BYTES } from '../shared/limits.js';
import { adminRoutes } from './admin/routes.js';
import { MeetingDiscussions } from './meetings/discussions.js';
import { Sealer } from './audit/chain.js';
import type { CaseId } from '../shared/ids.js';
import { meetingRoutes } from './meetings/routes.js';
import { AccessLog } from './audit/accessLog.js';
import { authRoutes } from './auth/routes.js';
import { SessionEnds } from './auth/sessionEnds.js';
import { Sessions } from './auth/sessions.js';
import { CaseService } from './cases/service.js';
import type { Config } from './config.js';
import { Directory } from './directory/directory.js';
import { errorHandler, HttpError, requireJsonSameOrigin } from './http/errors.js';
import { healthRoutes, Readiness } from './http/health.js';
import { clientAddress, sameOrigin } from './http/request.js';
import { createLogger, type Logger } from './log.js';
import { Cursors } from './realtime/cursor.js';
import { Realtime } from './realtime/socket.js';
import { Collab } from './collab/collab.js';
import { COLLAB_PATH, SOCKET_PATH } from '../shared/protocol.js';
import { ensureDemoData } from './seed/demo.js';
import { openStore } from './store/open.js';
import { securityHeaders } from './http/security.js';
import { listenMetrics, Metrics, metricsRoute } from './metrics/metrics.js';
import { clientApp } from './http/client.js';
import type { Store } from './store/types.js';
import { personRoutes } from './persons/routes.js';
import { Retention } from './retention/retention.js';
import { privacyRoutes } from './privacy/routes.js';
import { RoomScreens } from './room/screens.js';
import { RoomTokens } from './room/tokens.js';

export interface AppOptions {
  logger?: Logger;
  store?: Store;
  /** Commands per second per socket; tests of other things raise it to drive load quickly. */
  commandsPerSecond?: number;
  /** Pause that ends an editing burst of collaborative text. */
  burstMs?: number;
  /** Keepalive period of co-editing connections (COLLAB_KEEPALIVE_MS); tests shorten it. */
  collabKeepaliveMs?: number;
  /** The clock of login throttling: tests move it instead of waiting. */
  loginNow?: () => number;
  /** The house's day (YYYY-MM-DD): tests move it instead of waiting for midnight. */
  today?: () => string;
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
  readonly sessionEnds: SessionEnds;
  readonly discussions: MeetingDiscussions;
  /** Seals the logs (R-ACCESS) when SEAL_KEY is set. */
  readonly sealer: Sealer | null;
  /** R-RETAIN: purges closed cases whose retention passed. */
  readonly retention: Retention;
  /** Whether it can serve now (/healthz/ready), and what fails when not. */
  readonly readiness: Readiness;
  /** Prometheus metrics, when METRICS_PORT or METRICS_TOKEN is set. */
  readonly metrics: Metrics | null;
  /** The metrics listener's port once listening (METRICS_PORT), else null. */
  readonly metricsPort: number | null;
  readonly log: Logger;
  listen(port?: number, host?: string): Promise<number>;
  /** Graceful: refuse new work, close sockets, flush the access log, close the store. */
  close(): Promise<void>;
}

export async function createCasusbord(config: Config, opts: AppOptions = {}): Promise<Casusbord> {
  const log = opts.logger ?? createLogger(config.LOG_LEVEL);
  const { store, cluster, adapter, closeAdapter, links, storeLinks } = await openStore(config, log, opts.store);
  if (config.SEED_DEMO) await ensureDemoData(store, log, { holdHalfway: config.TEST_HOLD_DEMO_SEED });
  const dir = new Directory(store, () => cluster.directoryChanged(), opts.today, log, config.PERSON_BSN, config.RETENTION_DAYS);
  await dir.load();
  const reloadDirectory = (): void => void dir.load().catch((err: unknown) => log.error({ err }, 'directory reload failed'));
  cluster.onDirectory(reloadDirectory);
  cluster.onResync(reloadDirectory);
  const access = new AccessLog(store, log, storeLinks);
  const cases = new CaseService(store, dir, access, log, cluster);
  await cases.load();
  const discussions = new MeetingDiscussions(dir, cases, log);
  discussions.start();
  const sealKey = config.SEAL_KEY ? Buffer.from(config.SEAL_KEY, 'base64') : null;
  const sealer = sealKey && new Sealer(store, sealKey, () => [...cases.all()].map((c): [CaseId, number] => [c.id, c.version]), log);
  const stopSealing = sealer?.start(config.SEAL_INTERVAL_MS) ?? (() => undefined);
  if (!sealer) log.warn('SEAL_KEY is not set: the access log and the case logs are not sealed');
  const retention = new Retention({ cases, store, dir, access, cluster, sealer: sealer || null, sealKey, log, accessDays: config.ACCESS_RETENTION_DAYS });
  const stopRetention = retention.start(config.RETENTION_SWEEP_MS);
  // The store answers again after an outage (after loading, too, unlike the client's 'ready'):
  // a commit whose answer was lost, or another process's, may be in the log unseen here.
  for (const l of storeLinks) {
    l.onChange((ready) => {
      if (!ready) return;
      reloadDirectory();
      void cases.catchUpAll();
    });
  }
  // A notice lost between processes is made up by the case's next one; a case that goes quiet
  // after it would stay behind here for good. (While the store is away, its return catches up.)
  // One process (SQLite) has no other to miss a notice from.
  const catchUpTimer =
    storeLinks.length === 0
      ? null
      : setInterval(() => {
          if (!storeLinks.every((l) => l.ready)) return;
          void cases.catchUpAll();
          // Directory notices are made up the same way (a closed meeting, a disabled account).
          reloadDirectory();
        }, config.CLUSTER_CATCHUP_MS);
  catchUpTimer?.unref();
  const cursors = new Cursors(Buffer.from(await store.initMeta('cursor-key', randomBytes(32).toString('base64')), 'base64'));
  const sessions = new Sessions(store, dir, log);
  const sessionEnds = new SessionEnds(sessions, cluster, log);
  const addressOf = (req: Request): string => clientAddress(req.headers, req.socket.remoteAddress, config.TRUST_PROXY);

  const app = express();
  app.disable('x-powered-by');
  if (config.TRUST_PROXY > 0) app.set('trust proxy', config.TRUST_PROXY);
  app.use(securityHeaders(config.COOKIE_SECURE));
  let closing = false;
  const readiness = new Readiness(links, access, () => closing);
  app.use(healthRoutes(readiness));
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
    sessionEnds,
    commandsPerSecond: opts.commandsPerSecond ?? config.COMMANDS_PER_SECOND,
    trustProxy: config.TRUST_PROXY,
    presence: cluster,
    adapter,
  });
  const endSessions = (ids: string[]): Promise<void> => sessionEnds.end(ids);
  app.use('/api', authRoutes({ store, dir, sessions, access, cookieSecure: config.COOKIE_SECURE, addressOf, onLogout: endSessions, now: opts.loginNow }));
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
  const roomTokens = new RoomTokens(Buffer.from(await store.initMeta('room-key', randomBytes(32).toString('base64')), 'base64'));
  const roomScreens = new RoomScreens(realtime.io, { dir, cases, access, tokens: roomTokens, log, trustProxy: config.TRUST_PROXY });
  app.use('/api/meetings', meetingRoutes({ dir, sessions, access, cases, addressOf, log, roomTokens }));
  app.use('/api/persons', personRoutes({ dir, sessions, access, cases, addressOf }));
  app.use(
    '/api/privacy',
    privacyRoutes({ dir, sessions, access, store, chain: store, meta: store, purges: store, register: store, sealKey, cases, addressOf }),
  );
  app.use('/api', () => {
    throw new HttpError(404, 'NOT_FOUND');
  });
  // Before the client's fallback, which would answer any path with the app.
  let metrics: Metrics | null = null;
  app.get(
    '/metrics',
    metricsRoute(() => metrics, config.METRICS_TOKEN),
  );

  app.use(clientApp(config.CLIENT_DIR));
  app.use(errorHandler(log));

  const collab = new Collab({
    store,
    sessions,
    sessionEnds,
    cases,
    dir,
    access,
    log,
    addressOf: (req) => clientAddress(req.headers, req.socket.remoteAddress, config.TRUST_PROXY),
    burstMs: opts.burstMs,
    keepaliveMs: opts.collabKeepaliveMs,
    cluster,
  });
  // Text typed before a crash cut its editing burst off reaches the board before anyone is served.
  const boardCopies = await collab.catchUpBoard();
  if (boardCopies > 0) log.info({ items: boardCopies }, 'board texts brought up to their documents');
  // After the board and co-editing: its commit listener runs once they have delivered.
  if (config.METRICS_PORT !== undefined || config.METRICS_TOKEN) metrics = new Metrics({ realtime, collab, cases, access, links });
  let metricsServer: http.Server | null = null;
  // Socket.IO handles its own path; the collaboration endpoint claims its own; all else is refused.
  server.on('upgrade', (req, socket, head) => {
    // Node stops handling an upgraded socket's errors: a peer that resets it while the upgrade
    // waits (for the session in Redis, say) would otherwise end the process.
    socket.on('error', (err: Error & { code?: string }) => log.debug({ code: err.code }, 'upgrade socket failed'));
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
    sessionEnds,
    discussions,
    sealer,
    retention,
    readiness,
    log,
    metrics,
    get metricsPort() {
      return metricsServer ? (metricsServer.address() as AddressInfo).port : null;
    },
    async listen(port = config.PORT, host = config.HOST) {
      if (metrics && config.METRICS_PORT !== undefined)
        metricsServer = await listenMetrics(metrics, config.METRICS_PORT, config.METRICS_HOST, config.METRICS_TOKEN, log);
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
      if (catchUpTimer) clearInterval(catchUpTimer);
      discussions.stop();
      stopSealing();
      stopRetention();
      sessionEnds.close();
      // No new connections; the open ones finish what they sent before they are closed.
      server.close();
      await realtime.drain();
      await collab.close();
      roomScreens.close();
      await realtime.close();
      server.closeAllConnections();
      await access.flush();
      await cluster.close();
      await closeAdapter();
      // Requests still running while the rest closed may have logged since the first flush.
      await access.flush();
      await store.close();
      const ms = metricsServer;
      if (ms) {
        const closed = new Promise((resolve) => ms.close(resolve));
        ms.closeAllConnections();
        await closed;
      }
    },
  };
}

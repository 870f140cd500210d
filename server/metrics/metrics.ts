import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Ack } from '../../shared/protocol.js';
import { isCommandName } from '../../shared/schemas.js';
import type { SessionHolder } from '../auth/sessionEnds.js';
import type { Committed } from '../cases/service.js';
import { HttpError } from '../http/errors.js';
import type { Logger } from '../log.js';
import type { LinkHealth } from '../store/health.js';

/**
 * What the server exposes to metrics, by the events and getters it already has. Labels name only
 * fixed things (command names, error codes, link names): never a case, a person or a text.
 */
export interface MetricsSources {
  /** The board's Socket.IO server: its sockets on this process, and every command answered. */
  realtime: Pick<SessionHolder, 'sessionHashes'> & { events: { on(event: 'answered', fn: (event: string, ack: Ack<unknown>) => void): unknown } };
  /** Co-editing: its connections, and the Yjs documents loaded here. */
  collab: SessionHolder & { readonly loaded: number };
  cases: { onCommitted(fn: (c: Committed) => void): unknown };
  access: { readonly backlog: number };
  /** Each Redis the process needs (none on SQLite). */
  links: readonly LinkHealth[];
}

// Commits take a fsync (SQLite) or a Redis round trip: 0.5 ms up; deliveries a projection per viewer.
const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

const countOf = (it: Iterable<unknown>): number => {
  let n = 0;
  for (const _ of it) n++;
  return n;
};

/** The Prometheus metrics of one server process, in a registry of its own. */
export class Metrics {
  readonly registry = new Registry();

  constructor(s: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'casusbord_board_connections',
      help: 'Board (Socket.IO) connections open on this process',
      registers,
      collect() {
        this.set(countOf(s.realtime.sessionHashes()));
      },
    });
    new Gauge({
      name: 'casusbord_coediting_connections',
      help: 'Co-editing (y-websocket) connections open on this process',
      registers,
      collect() {
        this.set(countOf(s.collab.sessionHashes()));
      },
    });
    new Gauge({
      name: 'casusbord_yjs_documents_loaded',
      help: 'Yjs documents held in memory on this process',
      registers,
      collect() {
        this.set(s.collab.loaded);
      },
    });
    new Gauge({
      name: 'casusbord_access_log_backlog_records',
      help: 'Access-log records not yet written (gathered, being written, or kept after a failed write)',
      registers,
      collect() {
        this.set(s.access.backlog);
      },
    });
    new Gauge({
      name: 'casusbord_redis_link_up',
      help: 'Whether each Redis link answers (1) or not (0)',
      labelNames: ['link'],
      registers,
      collect() {
        for (const l of s.links) this.set({ link: l.name }, l.ready ? 1 : 0);
      },
    });
    const commands = new Counter({
      name: 'casusbord_commands_total',
      help: 'Board commands answered, by command and outcome (ok, or the error code)',
      labelNames: ['command', 'outcome'],
      registers,
    });
    // Whatever a client names, the label is a known command or "unknown": bounded, and its own.
    s.realtime.events.on('answered', (event, ack) =>
      commands.inc({ command: isCommandName(event) ? event : 'unknown', outcome: ack.ok ? 'ok' : ack.error.code }),
    );
    const commit = new Histogram({
      name: 'casusbord_commit_seconds',
      help: 'Time the store took to commit a change of this process (events and access record, durable)',
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    const delivery = new Histogram({
      name: 'casusbord_delivery_seconds',
      help: "Time from a commit's arrival on this process (origin local: stored here; remote: read from another's) until every open board and co-editing connection here was served",
      labelNames: ['origin'],
      buckets: LATENCY_BUCKETS_S,
      registers,
    });
    // Registered after the board and co-editing listeners, so this runs once they have delivered.
    s.cases.onCommitted((c) => {
      if (c.storeMs !== undefined) commit.observe(c.storeMs / 1000);
      delivery.observe({ origin: c.local ? 'local' : 'remote' }, (performance.now() - c.announcedAt) / 1000);
    });
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * Whether a request carries the token as `Authorization: Bearer <token>`. Compared as digests of
 * equal length in constant time, so neither the token's length nor its prefix leaks by timing.
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer (\S+)$/.exec(header ?? '')?.[1] ?? '';
  return timingSafeEqual(digest(given), digest(token));
}

/**
 * GET /metrics on the main port: only with a token configured (404 otherwise, as for any path
 * nothing serves), and only to a request that carries it (401).
 */
export function metricsRoute(metricsNow: () => Metrics | null, token: string | undefined): RequestHandler {
  return (req, res, next) => {
    const metrics = metricsNow();
    if (!metrics || !token) return next(new HttpError(404, 'NOT_FOUND'));
    if (!bearerMatches(req.headers.authorization, token)) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      return next(new HttpError(401, 'UNAUTHENTICATED'));
    }
    metrics.text().then(({ contentType, body }) => void res.type(contentType).send(body), next);
  };
}

/** Metrics on a listener of their own (METRICS_PORT): GET /metrics and nothing else; the token too when one is set. */
export async function listenMetrics(metrics: Metrics, port: number, host: string, token: string | undefined, log: Logger): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') return void res.writeHead(404).end();
    if (token && !bearerMatches(req.headers.authorization, token)) return void res.writeHead(401, { 'WWW-Authenticate': 'Bearer' }).end();
    metrics.text().then(
      ({ contentType, body }) => res.writeHead(200, { 'Content-Type': contentType }).end(body),
      (err: unknown) => {
        log.error({ err }, 'metrics failed');
        res.writeHead(500).end();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  log.info({ port: (server.address() as AddressInfo).port, host }, 'metrics listening');
  return server;
}

import path from 'node:path';
import { z } from 'zod';
import { CLUSTER_CATCHUP_EVERY_MS, DEFAULT_RETENTION_DAYS, MAX_COMMANDS_PER_SECOND } from '../shared/limits.js';
import { CHAOS_PATTERN } from './cluster/chaos.js';

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

const ConfigSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATA_DIR: z.string().min(1).default('./data'),
  /** SQLite file; defaults to DATA_DIR/casusbord.sqlite. */
  DB_FILE: z.string().min(1).optional(),
  SEED_DEMO: bool.default(true),
  /** Whether the house records the BSN of the persons its cases concern (off: name and birth date only). */
  PERSON_BSN: bool.default(false),
  /** R-RETAIN: days a closed case is kept, counted from its closing day (the house's own term). */
  RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(DEFAULT_RETENTION_DAYS),
  /** With it, the store is Redis and several processes serve one board; without, embedded SQLite. */
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .optional(),
  /**
   * Optional second Redis for what passes between processes (commit notices, co-editing relays,
   * the Socket.IO adapter), kept apart from the durable one: with an fsync per write, Redis sends
   * nothing, pub/sub messages included, until the fsync of its turn is done. Needs no persistence.
   */
  REDIS_BUS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .optional(),
  /**
   * With REDIS_URL: how often every case's log is read past what this process holds, so a commit
   * notice lost between processes is made up even when the case goes quiet after it.
   */
  CLUSTER_CATCHUP_MS: z.coerce.number().int().min(100).max(600_000).default(CLUSTER_CATCHUP_EVERY_MS),
  /** Key prefix in Redis: one per environment (or test run) sharing a Redis. */
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,40}$/)
    .default('casusbord'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Set behind HTTPS: the session cookie then carries Secure. */
  COOKIE_SECURE: bool.default(false),
  /** Number of proxy hops to trust for the client address (X-Forwarded-For), e.g. 1 behind a load balancer. */
  TRUST_PROXY: z.coerce.number().int().min(0).max(10).default(0),
  /** Where the built client lives; `npm start` builds it there when missing or stale. */
  CLIENT_DIR: z.string().min(1).default('./dist/client'),
  /** auto: build the client at start when missing or stale; off: serve what is there. */
  CLIENT_BUILD: z.enum(['auto', 'off']).default('auto'),
  /** Commands one socket may send per second (bursts of twice that) before RATE_LIMITED. */
  COMMANDS_PER_SECOND: z.coerce.number().int().min(1).max(100_000).default(MAX_COMMANDS_PER_SECOND),
  /** Serves /metrics (Prometheus) on a listener of its own at this port (0 picks a free one). */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** Interface of the metrics listener: loopback unless the scraper is elsewhere. */
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** Serves /metrics on the main port to `Authorization: Bearer <token>`; required on METRICS_PORT too when set. */
  METRICS_TOKEN: z
    .string()
    .regex(/^[\x21-\x7e]{32,256}$/, 'must be 32 to 256 printable characters without spaces')
    .optional(),
  /**
   * R-ACCESS: the key (base64, at least 32 bytes) that seals the access log and the case logs
   * (audit/chain.ts). Keep it out of the store and its backups. Without it nothing is sealed.
   */
  SEAL_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/=_-]{43,}$/, 'must be at least 32 bytes, base64')
    .optional(),
  /** How often the logs are sealed. */
  SEAL_INTERVAL_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
  /** R-RETAIN: days an access record is kept (NEN 7513 asks at least five years); its purge needs SEAL_KEY. */
  ACCESS_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(1_826),
  /** R-RETAIN: how often closed cases whose retention passed are looked for and purged. */
  RETENTION_SWEEP_MS: z.coerce.number().int().min(100).max(86_400_000).default(3_600_000),
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  /**
   * Tests only (NODE_ENV=test): the demo seed stops half-way, logs "demo data held half-way" and
   * waits to be killed, so a test can kill a first start at that moment (test/integration/start.test.ts).
   */
  TEST_HOLD_DEMO_SEED: bool.default(false),
  /**
   * Tests only (NODE_ENV=test), with REDIS_URL: `<seed>[,<drop rate>,<max delay ms>]`. What this
   * process hears from the others is delayed at random and some case notices are lost
   * (server/cluster/chaos.ts; test/integration/cluster.chaos.test.ts).
   */
  TEST_LINK_CHAOS: z.string().regex(CHAOS_PATTERN, 'must be <seed> or <seed>,<drop rate 0..1>,<max delay ms>').optional(),
});

export type Config = z.infer<typeof ConfigSchema> & { dbFile: string };

/** Reads and validates the environment; a bad value stops start-up with a message naming it. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const known = Object.fromEntries(Object.keys(ConfigSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]));
  const parsed = ConfigSchema.safeParse(known);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message} (got ${JSON.stringify(known[String(i.path[0])])})`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  if (c.METRICS_PORT !== undefined && c.METRICS_PORT !== 0 && c.METRICS_PORT === c.PORT) {
    throw new ConfigError('Invalid configuration:\n  METRICS_PORT: must differ from PORT (to serve metrics on the main port, set METRICS_TOKEN)');
  }
  if (c.TEST_HOLD_DEMO_SEED && c.NODE_ENV !== 'test') {
    throw new ConfigError('Invalid configuration:\n  TEST_HOLD_DEMO_SEED: only for tests, with NODE_ENV=test');
  }
  if (c.TEST_LINK_CHAOS !== undefined && c.NODE_ENV !== 'test') {
    throw new ConfigError('Invalid configuration:\n  TEST_LINK_CHAOS: only for tests, with NODE_ENV=test');
  }
  return { ...c, dbFile: c.DB_FILE ?? path.join(c.DATA_DIR, 'casusbord.sqlite') };
}

export class ConfigError extends Error {}

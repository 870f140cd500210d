import { createAdapter } from '@socket.io/redis-streams-adapter';
import { createClient, type RedisClientType } from 'redis';
import { chaosSettings, LinkChaos } from '../cluster/chaos.js';
import { RedisCluster, SingleProcess, type Cluster } from '../cluster/cluster.js';
import type { Config } from '../config.js';
import { logRedisErrors, type Logger } from '../log.js';
import { guardStore, RedisHealth, type LinkHealth } from './health.js';
import { RedisStore } from './redis.js';
import { checkRedis } from './redisCheck.js';
import { closeRedis } from './redisClose.js';
import { SqliteStore } from './sqlite.js';
import { checkSqliteFile } from './sqliteCheck.js';
import type { Store } from './types.js';

export interface OpenedStore {
  store: Store;
  cluster: Cluster;
  adapter?: ReturnType<typeof createAdapter>;
  closeAdapter: () => Promise<void>;
  /** The links the server needs to serve (each Redis), for readiness; none for SQLite. */
  links: LinkHealth[];
  /** Of those, the store's own: what the access log is written through. */
  storeLinks: LinkHealth[];
}

/**
 * SQLite by default; with REDIS_URL, Redis plus the links between processes, which run over
 * REDIS_BUS_URL when it is set (a Redis without persistence) and over the store's Redis otherwise.
 * Checks first that the file or each Redis can serve: if not, a StartError says which and why.
 */
export async function openStore(config: Config, log: Logger, given?: Store): Promise<OpenedStore> {
  const none = async (): Promise<void> => undefined;
  // A store handed in (tests) serves one process: two apps on one such store would not see
  // each other's commits or lock each other's documents.
  if (given) return { store: given, cluster: new SingleProcess(), closeAdapter: none, links: [], storeLinks: [] };
  if (!config.REDIS_URL) {
    const checked = checkSqliteFile(config.dbFile);
    log.info({ db: config.dbFile, ms: checked.ms }, 'database file checked');
    const store = new SqliteStore(
      config.dbFile,
      (err) => {
        // Fail-stop: without its writer the server can commit nothing, not even its access log.
        log.fatal({ err }, 'SQLite writer thread stopped; exiting');
        process.exit(1);
      },
      (err) => log.warn({ err: err.message }, 'SQLite checkpoints'),
    );
    return { store, cluster: new SingleProcess(), closeAdapter: none, links: [], storeLinks: [] };
  }
  await checkRedis('REDIS_URL', config.REDIS_URL, log);
  if (config.REDIS_BUS_URL) await checkRedis('REDIS_BUS_URL', config.REDIS_BUS_URL, log);
  const redisStore = await RedisStore.connect(config.REDIS_URL, config.REDIS_PREFIX, log, { failFast: true });
  const storeHealth = new RedisHealth('store', redisStore.redis, log);
  const store = guardStore(redisStore, storeHealth);
  const links: LinkHealth[] = [storeHealth];
  let bus: RedisClientType | null = null;
  if (config.REDIS_BUS_URL) {
    bus = createClient({ url: config.REDIS_BUS_URL }) as RedisClientType;
    logRedisErrors(bus, 'bus', log);
    await bus.connect();
    links.push(new RedisHealth('bus', bus, log));
  }
  // The links between processes keep the offline queue, unlike the store: a commit notice
  // published while the bus reconnects is sent late rather than lost (a late one is applied, or
  // caught up from the log, like any other).
  // Their clients are duplicates of this one, which is never connected itself.
  const busTemplate = bus ?? redisStore.redis.duplicate({ disableOfflineQueue: false });
  const chaos = config.TEST_LINK_CHAOS === undefined ? undefined : new LinkChaos(chaosSettings(config.TEST_LINK_CHAOS));
  if (chaos) log.warn({ chaos: config.TEST_LINK_CHAOS }, 'the link between processes is lossy (TEST_LINK_CHAOS)');
  const cluster = await RedisCluster.connect(busTemplate, redisStore.keyNames, log, bus ? redisStore.redis : undefined, chaos);
  // (The adapter needs it too: it reads its stream in a loop that retries at once on an error.)
  const adapterClient = subscriptionsHandled(busTemplate.duplicate(), log);
  logRedisErrors(adapterClient, 'socket.io adapter', log);
  await adapterClient.connect();
  log.info({ prefix: config.REDIS_PREFIX, bus: bus !== null }, 'using Redis');
  return {
    store,
    cluster,
    adapter: createAdapter(adapterClient, { streamName: `${config.REDIS_PREFIX}:socket.io` }),
    closeAdapter: async () => {
      for (const l of links) l.close();
      await closeRedis(adapterClient);
      if (bus) await closeRedis(bus);
    },
    links,
    storeLinks: [storeHealth],
  };
}

/**
 * The Socket.IO adapter subscribes on duplicates of its client without waiting for the answer: a
 * link that breaks before it comes rejects a promise nobody holds, and an unhandled rejection
 * ends the process. Each duplicate's subscriptions are handled here (logged; the client
 * subscribes again when it reconnects).
 */
function subscriptionsHandled(client: RedisClientType, log: Logger): RedisClientType {
  const duplicate = client.duplicate.bind(client);
  const handled = ((...args: Parameters<RedisClientType['duplicate']>) => {
    const d = duplicate(...args);
    const subscribe = d.subscribe.bind(d);
    d.subscribe = ((...a: Parameters<typeof subscribe>) => {
      const p = subscribe(...a);
      p.catch((err: unknown) => log.warn({ err: (err as Error).message }, 'socket.io adapter subscription failed'));
      return p;
    }) as typeof d.subscribe;
    return d;
  }) as RedisClientType['duplicate'];
  client.duplicate = handled;
  return client;
}

import { createAdapter } from '@socket.io/redis-streams-adapter';
import { RedisCluster, SingleProcess, type Cluster } from '../cluster/cluster.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { RedisStore } from './redis.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './types.js';

export interface OpenedStore {
  store: Store;
  cluster: Cluster;
  adapter?: ReturnType<typeof createAdapter>;
  closeAdapter: () => Promise<void>;
}

/** SQLite by default; with REDIS_URL, Redis plus the links between processes. */
export async function openStore(config: Config, log: Logger, given?: Store): Promise<OpenedStore> {
  const none = async (): Promise<void> => undefined;
  if (given) return { store: given, cluster: new SingleProcess(), closeAdapter: none };
  if (!config.REDIS_URL) {
    const store = new SqliteStore(config.dbFile, (err) => {
      // Fail-stop: without its writer the server can commit nothing, not even its access log.
      log.fatal({ err }, 'SQLite writer thread stopped; exiting');
      process.exit(1);
    });
    return { store, cluster: new SingleProcess(), closeAdapter: none };
  }
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


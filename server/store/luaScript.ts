import { createHash } from 'node:crypto';
import type { RedisClientType } from 'redis';

/**
 * A Lua script run by its SHA1 (EVALSHA), so its text crosses the wire and is hashed by Redis only
 * when Redis does not hold it yet: on first use, and after a restart emptied its script cache.
 * A NOSCRIPT answer means nothing ran, so sending the text then (EVAL) cannot apply a change twice.
 */
export class LuaScript {
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: RedisClientType, keys: string[], args: (string | Buffer)[]): Promise<unknown> {
    try {
      return await client.sendCommand(['EVALSHA', this.sha, String(keys.length), ...keys, ...args]);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return client.sendCommand(['EVAL', this.source, String(keys.length), ...keys, ...args]);
    }
  }
}

import { ConnectionTimeoutError, createClient, ErrorReply, SocketClosedUnexpectedlyError } from 'redis';
import { REDIS_START_TIMEOUT_MS } from '../../shared/limits.js';
import type { Logger } from '../log.js';
import { StartError } from '../startError.js';

/** The URL as a message may show it: any password replaced by ***. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.href;
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//***@');
  }
}

class NoAnswer extends Error {}

/** What went wrong, in the words of the start's one line. */
function describe(e: unknown): string {
  if (e instanceof NoAnswer || e instanceof ConnectionTimeoutError) return `no answer within ${REDIS_START_TIMEOUT_MS / 1000} s`;
  if (e instanceof ErrorReply) return `Redis refused: ${e.message}`;
  if (e instanceof SocketClosedUnexpectedlyError) return 'the connection was closed without an answer (not a Redis server?)';
  const err = e as { code?: unknown; message?: unknown };
  // Refused, unknown host, unreachable network: the system's words name the code and the address.
  if (typeof err?.code === 'string') return `cannot connect: ${String(err.message)}`;
  // What is left came from reading the reply: something answered, but not in Redis's protocol.
  return `not a Redis server (${String(err?.message ?? e)})`;
}

const LOADING_POLL_MS = 200;
const LOADING_LOG_EVERY_MS = 5_000;

/**
 * Checks at start that `url` (from the variable `name`) is a Redis that answers: the clients of
 * the store and of the links retry forever, so an unreachable or wrong URL left the start
 * hanging in silence. Connects once, without retrying, and sends PING; the connection's first
 * error, or no answer within REDIS_START_TIMEOUT_MS, throws a StartError naming the variable, the
 * URL without its password, and what went wrong. A Redis still loading its data after a restart
 * is waited for, and logged: it is the right server, only not ready yet.
 */
export async function checkRedis(name: string, url: string, log: Logger): Promise<void> {
  const shown = redactRedisUrl(url);
  let password = '';
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    // Not a URL the WHATWG parser takes: createClient says so below.
  }
  const fail = (e: unknown): StartError => {
    const why = describe(e);
    return new StartError(`${name} ${shown}: ${password ? why.replaceAll(password, '***') : why}`);
  };
  let client;
  try {
    client = createClient({ url, socket: { connectTimeout: REDIS_START_TIMEOUT_MS, reconnectStrategy: false } });
  } catch (e) {
    throw new StartError(`${name} ${shown}: not a usable Redis URL (${(e as Error).message})`);
  }
  let onError: ((e: Error) => void) | null = null;
  client.on('error', (e: Error) => onError?.(e));
  // A reply that is not Redis's protocol is told only as an error of the client; the command
  // waits on. So the first of: the reply, the connection's first error, the bound.
  const bounded = <T>(work: () => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const end = (): void => {
        clearTimeout(timer);
        onError = null;
      };
      const timer = setTimeout(() => {
        end();
        reject(new NoAnswer());
      }, REDIS_START_TIMEOUT_MS);
      onError = (e) => {
        end();
        reject(e);
      };
      work().then(
        (v) => {
          end();
          resolve(v);
        },
        (e: unknown) => {
          end();
          reject(e as Error);
        },
      );
    });
  try {
    let loggedAt = 0;
    for (;;) {
      let reply: string;
      try {
        reply = await bounded(async () => {
          if (!client.isOpen) await client.connect();
          return client.ping();
        });
      } catch (e) {
        if (!(e instanceof ErrorReply && e.message.startsWith('LOADING'))) throw fail(e);
        if (Date.now() - loggedAt >= LOADING_LOG_EVERY_MS) {
          log.warn({ variable: name }, 'Redis is loading its data; the start waits for it');
          loggedAt = Date.now();
        }
        await new Promise((r) => setTimeout(r, LOADING_POLL_MS));
        continue;
      }
      if (reply !== 'PONG') throw fail(new Error(`it answered PING with ${JSON.stringify(reply).slice(0, 80)}`));
      return;
    }
  } finally {
    if (client.isOpen) client.destroy();
  }
}

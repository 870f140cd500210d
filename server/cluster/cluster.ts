import { randomBytes } from 'node:crypto';
import type { RedisClientType } from 'redis';
import type { CaseId } from '../../shared/ids.js';
import type { Logger } from '../log.js';
import type { RedisKeys } from '../store/keys.js';

/** A process's link to the other server processes of the same board. */
export interface Cluster {
  /** Tells the others a case log grew, so they catch up and deliver to their own sockets. */
  caseCommitted(caseId: CaseId, version: number): void;
  /** Tells the others the directory (organisations, people, tables) changed. */
  directoryChanged(): void;
  onCase(fn: (caseId: CaseId, version: number) => void): void;
  onDirectory(fn: () => void): void;
  /** Relays a collaborative-text message (update or awareness) to the same document elsewhere. */
  publishDoc(docId: string, message: Uint8Array): void;
  subscribeDoc(docId: string, fn: (message: Uint8Array) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** One process: nothing to tell anyone. */
export class SingleProcess implements Cluster {
  caseCommitted(): void {}
  directoryChanged(): void {}
  onCase(): void {}
  onDirectory(): void {}
  publishDoc(): void {}
  async subscribeDoc(): Promise<() => Promise<void>> {
    return async () => undefined;
  }
  async close(): Promise<void> {}
}

const ID_BYTES = 12;

/**
 * Several processes over Redis pub/sub. Messages carry the sender's id, so a process never
 * handles its own. What crosses is only "case X is at version N" — every process reads the events
 * from the shared log itself and runs them through its own per-viewer delivery — and Yjs
 * messages between processes that have the same document open.
 */
export class RedisCluster implements Cluster {
  private readonly id = randomBytes(ID_BYTES);
  private readonly caseFns: ((caseId: CaseId, version: number) => void)[] = [];
  private readonly dirFns: (() => void)[] = [];

  private constructor(
    private readonly pub: RedisClientType,
    private readonly sub: RedisClientType,
    private readonly keys: RedisKeys,
    private readonly log: Logger,
  ) {}

  static async connect(client: RedisClientType, keys: RedisKeys, log: Logger): Promise<RedisCluster> {
    const pub = client.duplicate() as RedisClientType;
    const sub = client.duplicate() as RedisClientType;
    pub.on('error', () => undefined);
    sub.on('error', () => undefined);
    await Promise.all([pub.connect(), sub.connect()]);
    const c = new RedisCluster(pub, sub, keys, log);
    await sub.subscribe(keys.caseChannel, (raw: string) => c.onCaseMessage(raw));
    return c;
  }

  private onCaseMessage(raw: string): void {
    try {
      const m = JSON.parse(raw) as { from: string; kind: 'case' | 'directory'; caseId?: CaseId; version?: number };
      if (m.from === this.id.toString('hex')) return;
      if (m.kind === 'directory') for (const fn of this.dirFns) fn();
      else if (m.caseId && typeof m.version === 'number') for (const fn of this.caseFns) fn(m.caseId, m.version);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'bad cluster message');
    }
  }

  private publish(body: object): void {
    this.pub.publish(this.keys.caseChannel, JSON.stringify({ from: this.id.toString('hex'), ...body })).catch((err: unknown) => {
      // Others catch up on their next notification or reconnect; log and go on.
      this.log.warn({ err: (err as Error).message }, 'cluster publish failed');
    });
  }

  caseCommitted(caseId: CaseId, version: number): void {
    this.publish({ kind: 'case', caseId, version });
  }
  directoryChanged(): void {
    this.publish({ kind: 'directory' });
  }
  onCase(fn: (caseId: CaseId, version: number) => void): void {
    this.caseFns.push(fn);
  }
  onDirectory(fn: () => void): void {
    this.dirFns.push(fn);
  }

  publishDoc(docId: string, message: Uint8Array): void {
    const framed = Buffer.concat([this.id, Buffer.from(message)]);
    this.pub.sendCommand(['PUBLISH', this.keys.docChannel(docId), framed]).catch((err: unknown) => {
      this.log.warn({ err: (err as Error).message }, 'doc relay failed');
    });
  }

  async subscribeDoc(docId: string, fn: (message: Uint8Array) => void): Promise<() => Promise<void>> {
    const channel = this.keys.docChannel(docId);
    const listener = (raw: Buffer): void => {
      if (raw.subarray(0, ID_BYTES).equals(this.id)) return;
      fn(new Uint8Array(raw.subarray(ID_BYTES)));
    };
    await this.sub.subscribe(channel, listener, true);
    return async () => {
      await this.sub.unsubscribe(channel, listener, true);
    };
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.sub.quit(), this.pub.quit()]);
  }
}

import net from 'node:net';

export interface TcpProxy {
  port: number;
  /**
   * The next connection that sends a chunk matching `request` is cut the moment the other side's
   * answer to it (a chunk matching `reply`) arrives: the answer never reaches the sender.
   * Resolves when the cut is made.
   */
  cutAnswer(request: (toTarget: string) => boolean, reply: (fromTarget: string) => boolean): Promise<void>;
  /** Until release, new connections are refused (the target seems down); those open stay. */
  hold(): void;
  /** Until flow, what the target sends is kept back, in order (a slow way back). */
  holdAnswers(): void;
  flow(): void;
  release(): Promise<void>;
  close(): Promise<void>;
}

/** A TCP proxy to a local port, for faults on the way: an answer lost after the target acted on it. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let armed: { request: (s: string) => boolean; reply: (s: string) => boolean; done: () => void; conn: net.Socket | null } | null = null;
  const open = new Set<net.Socket>();
  let heldBack: (() => void)[] | null = null;
  const server = net.createServer((client) => {
    const target = net.connect(targetPort, '127.0.0.1');
    open.add(client).add(target);
    const end = (): void => {
      client.destroy();
      target.destroy();
      open.delete(client);
      open.delete(target);
    };
    client.on('error', end).on('close', end);
    target.on('error', end).on('close', end);
    client.on('data', (chunk: Buffer) => {
      if (armed && !armed.conn && armed.request(chunk.toString('latin1'))) armed.conn = client;
      target.write(chunk);
    });
    target.on('data', (chunk: Buffer) => {
      if (armed?.conn === client && armed.reply(chunk.toString('latin1'))) {
        const done = armed.done;
        armed = null;
        end();
        done();
        return;
      }
      if (heldBack) heldBack.push(() => client.write(chunk));
      else client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    cutAnswer(request, reply) {
      return new Promise((done) => (armed = { request, reply, done, conn: null }));
    },
    hold() {
      // Not listening: a connection is refused, as by a stopped server.
      server.close();
    },
    holdAnswers() {
      heldBack ??= [];
    },
    flow() {
      const writes = heldBack ?? [];
      heldBack = null;
      for (const w of writes) w();
    },
    release() {
      if (server.listening) return Promise.resolve();
      return new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
    close() {
      for (const s of open) s.destroy();
      if (!server.listening) return Promise.resolve();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

import { randomBytes } from 'node:crypto';
import net from 'node:net';

/** RFC 6455 frame fields, each settable to a value a server must refuse. */
export interface FrameSpec {
  fin?: boolean;
  /** RSV1..3 as three bits (0..7). */
  rsv?: number;
  opcode: number;
  payload?: Buffer;
  /** Unmasked: a client must mask every frame (§5.1). */
  masked?: boolean;
  /** Declares this length instead of the payload's own (an oversize claim, a 64-bit length with the top bit). */
  declaredLength?: bigint;
}

export const Op = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;

/** Encodes one frame as a client would put it on the wire, however wrong its fields. */
export function frame(f: FrameSpec): Buffer {
  const payload = f.payload ?? Buffer.alloc(0);
  const len = f.declaredLength ?? BigInt(payload.length);
  const masked = f.masked ?? true;
  const head: number[] = [((f.fin ?? true) ? 0x80 : 0) | ((f.rsv ?? 0) << 4) | (f.opcode & 0x0f)];
  const maskBit = masked ? 0x80 : 0;
  let ext = Buffer.alloc(0);
  if (len < 126n) head.push(maskBit | Number(len));
  else if (len < 0x10000n) {
    head.push(maskBit | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(Number(len));
  } else {
    head.push(maskBit | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(len);
  }
  if (!masked) return Buffer.concat([Buffer.from(head), ext, payload]);
  const key = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i]! ^= key[i % 4]!;
  return Buffer.concat([Buffer.from(head), ext, key, body]);
}

export const closePayload = (code: number, reason: Buffer | string = ''): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, typeof reason === 'string' ? Buffer.from(reason) : reason]);
};

/** A WebSocket spoken byte by byte: the upgrade, then whatever frames a test writes. */
export interface RawWs {
  sock: net.Socket;
  /** The HTTP status line of the upgrade answer. */
  status: string;
  /** Bytes after the upgrade answer. */
  received(): Buffer;
  /** Resolves when the server has ended the TCP connection (or it failed). */
  ended: Promise<void>;
  /** Resolves with the code of the server's first close frame; answered with a close, as a client does. */
  closed: Promise<number>;
  /** The close code of the first close frame the server sent, once it has ended. */
  closeCode(): number | null;
  write(b: Buffer): void;
}

function upgradeRequest(port: number, path: string, headers: Record<string, string>): string {
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/**
 * Sends an upgrade and resets the connection (TCP RST) `afterMs` after it is written (a fault
 * injected into the window while the server decides, not a wait for anything).
 */
export function upgradeThenReset(port: number, path: string, headers: Record<string, string> = {}, afterMs = 0): Promise<void> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.on('error', () => undefined);
    sock.once('close', () => resolve());
    sock.once('connect', () =>
      sock.write(upgradeRequest(port, path, headers), () => {
        if (afterMs === 0) sock.resetAndDestroy();
        else setTimeout(() => sock.resetAndDestroy(), afterMs);
      }),
    );
  });
}

/** Opens a TCP connection and sends a WebSocket upgrade for `path` with the given headers. */
export function rawWs(port: number, path: string, headers: Record<string, string> = {}): Promise<RawWs> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let status: string | null = null;
    let settled = false;
    let closedWith: ((code: number) => void) | null = null;
    const closed = new Promise<number>((res) => (closedWith = res));
    const ended = new Promise<void>((res) => {
      sock.once('close', () => res());
    });
    // A reset while writing is expected when the server fails the connection first.
    sock.on('error', () => undefined);
    const closeFrameIn = (): void => {
      const code = firstCloseCode(buf);
      if (code === null || !closedWith) return;
      closedWith(code);
      closedWith = null;
      raw.write(frame({ opcode: Op.CLOSE, payload: closePayload(code === 1005 ? 1000 : code) }));
    };
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (status !== null) return closeFrameIn();
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      status = buf.subarray(0, buf.indexOf('\r\n')).toString();
      buf = buf.subarray(end + 4);
      settled = true;
      resolve(raw);
      closeFrameIn();
    });
    sock.once('close', () => {
      if (!settled) {
        settled = true;
        if (status === null) reject(new Error(`connection closed before the upgrade answer on ${path}`));
      }
    });
    const raw: RawWs = {
      sock,
      get status() {
        return status ?? '';
      },
      received: () => buf,
      ended,
      closed,
      closeCode: () => firstCloseCode(buf),
      write: (b) => {
        if (!sock.destroyed && sock.writable) sock.write(b);
      },
    };
    sock.once('connect', () => sock.write(upgradeRequest(port, path, headers)));
  });
}

/** Reads server frames (unmasked) and returns the code of the first close frame, if any. */
function firstCloseCode(buf: Buffer): number | null {
  let i = 0;
  while (i + 2 <= buf.length) {
    const op = buf[i]! & 0x0f;
    let len = buf[i + 1]! & 0x7f;
    let at = i + 2;
    if (len === 126) {
      if (at + 2 > buf.length) return null;
      len = buf.readUInt16BE(at);
      at += 2;
    } else if (len === 127) {
      if (at + 8 > buf.length) return null;
      len = Number(buf.readBigUInt64BE(at));
      at += 8;
    }
    if (op === Op.CLOSE) return len >= 2 && at + 2 <= buf.length ? buf.readUInt16BE(at) : 1005;
    i = at + len;
  }
  return null;
}

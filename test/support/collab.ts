import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { COLLAB_PATH } from '../../shared/protocol.js';

/** A stock y-websocket provider in Node, authenticated by the session cookie like a browser. */
export function provider(url: string, docId: string, cookie: string, doc = new Y.Doc()): WebsocketProvider {
  class WithCookie extends WebSocket {
    constructor(u: string, protocols?: string | string[]) {
      super(u, protocols, { headers: { cookie } });
    }
  }
  return new WebsocketProvider(`${url.replace(/^http/, 'ws')}${COLLAB_PATH}`, docId, doc, {
    WebSocketPolyfill: WithCookie as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    maxBackoffTime: 200,
  });
}

export function synced(p: WebsocketProvider): Promise<void> {
  if (p.synced) return Promise.resolve();
  return new Promise((resolve) => {
    const on = (s: boolean): void => {
      if (s) {
        p.off('sync', on);
        resolve();
      }
    };
    p.on('sync', on);
  });
}

/** Resolves once the document's text satisfies the predicate (checked on every change). */
export function textWhere(doc: Y.Doc, pred: (t: string) => boolean, timeoutMs = 10_000): Promise<string> {
  const text = doc.getText('text');
  if (pred(text.toString())) return Promise.resolve(text.toString());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      text.unobserve(on);
      reject(new Error(`timed out; text is ${JSON.stringify(text.toString())}`));
    }, timeoutMs);
    const on = (): void => {
      if (pred(text.toString())) {
        clearTimeout(timer);
        text.unobserve(on);
        resolve(text.toString());
      }
    };
    text.observe(on);
  });
}

/** A raw WebSocket on a document: records every byte it receives, and how it ended. */
export interface RawConn {
  ws: WebSocket;
  received: Buffer[];
  status: Promise<number>;
  closed: Promise<number>;
}

export function rawConn(url: string, docId: string, cookie?: string): RawConn {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${COLLAB_PATH}/${docId}`, { headers: cookie ? { cookie } : {} });
  const received: Buffer[] = [];
  ws.on('message', (m: Buffer) => received.push(Buffer.from(m)));
  const status = new Promise<number>((resolve) => {
    ws.once('open', () => resolve(101));
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', () => resolve(0));
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  return { ws, received, status, closed };
}

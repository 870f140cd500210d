import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import WebSocket from 'ws';
import * as syncProtocol from 'y-protocols/sync';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { COLLAB_PATH } from '../../shared/protocol.js';
import type { CaseId } from '../../shared/ids.js';
import type { DocStore, EventLog } from '../../server/store/types.js';
import { genesisUpdate } from '../../server/collab/text.js';
import { WAIT_MS, when } from './wait.js';

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

export function synced(p: WebsocketProvider, ms = WAIT_MS): Promise<void> {
  const subscribe = (fn: () => void): (() => void) => {
    p.on('sync', fn);
    return () => p.off('sync', fn);
  };
  return when(`the provider of ${p.roomname} to sync`, () => p.synced, subscribe, ms).then(() => undefined);
}

/** Resolves once the document's text satisfies the predicate (checked on every change). */
export function textWhere(doc: Y.Doc, pred: (t: string) => boolean, timeoutMs = 10_000): Promise<string> {
  const text = doc.getText('text');
  if (pred(text.toString())) return Promise.resolve(text.toString());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      text.unobserve(on);
      reject(new Error(`waited ${timeoutMs} ms for a text where ${pred.toString()}; text is ${JSON.stringify(text.toString())}`));
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

/** A `ws` client on a document (it answers pings, as a browser does), recording what it receives. */
export interface WsConn {
  ws: WebSocket;
  received: Buffer[];
  closed: Promise<number>;
}

export function wsOpen(url: string, docId: string, cookie: string): Promise<WsConn> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${COLLAB_PATH}/${docId}`, { headers: { cookie } });
  const received: Buffer[] = [];
  ws.on('message', (m: Buffer) => received.push(Buffer.from(m)));
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, received, closed }));
    ws.once('error', reject);
  });
}

/** A y-websocket awareness message speaking for one client id. */
export function awarenessMessage(clientId: number, clock: number, state: object | null): Buffer {
  const inner = encoding.createEncoder();
  encoding.writeVarUint(inner, 1);
  encoding.writeVarUint(inner, clientId);
  encoding.writeVarUint(inner, clock);
  encoding.writeVarString(inner, JSON.stringify(state));
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, 1);
  encoding.writeVarUint8Array(enc, encoding.toUint8Array(inner));
  return Buffer.from(encoding.toUint8Array(enc));
}

/** A y-websocket update message carrying `update`. */
export function updateMessage(update: Uint8Array): Buffer {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, 0);
  syncProtocol.writeUpdate(enc, update);
  return Buffer.from(encoding.toUint8Array(enc));
}

/** A document's text as the store holds it: its snapshot (or its item's first text) and the case log's entries of it after that. */
export async function storedText(store: DocStore & EventLog, caseId: CaseId, docId: string): Promise<string> {
  const snap = await store.readDocSnapshot(docId);
  const doc = new Y.Doc();
  try {
    if (snap) Y.applyUpdate(doc, snap.state);
    for (const row of await store.readEvents(caseId, snap?.version ?? 0)) {
      const p = row.payload as { docId?: string; update?: string; textDocId?: string; text?: string };
      const first = row.type === 'item.added' && p.textDocId === docId && p.text !== undefined ? genesisUpdate(p.text) : null;
      if (first) Y.applyUpdate(doc, first);
      if (row.type === 'doc.update' && p.docId === docId && p.update) Y.applyUpdate(doc, Buffer.from(p.update, 'base64'));
    }
    return doc.getText('text').toString();
  } finally {
    doc.destroy();
  }
}

/** A piece of text as a Yjs update holds it: its writer's client id, the clock of its first character, and the characters. */
export interface TextPiece {
  client: number;
  clock: number;
  str: string;
}

/** The pieces of text a Yjs update holds. */
export function piecesOfUpdate(update: Uint8Array): TextPiece[] {
  return Y.decodeUpdate(update).structs.flatMap((s) =>
    s instanceof Y.Item && s.content instanceof Y.ContentString ? [{ client: s.id.client, clock: s.id.clock, str: s.content.str }] : [],
  );
}

/**
 * The pieces of text a y-websocket message carries (a sync step 2 or an update), as its structs
 * hold them, whether or not a document could apply them yet: what a reader was handed.
 */
export function piecesIn(message: Uint8Array): TextPiece[] {
  const d = decoding.createDecoder(message);
  if (decoding.readVarUint(d) !== 0) return [];
  const kind = decoding.readVarUint(d);
  if (kind !== syncProtocol.messageYjsSyncStep2 && kind !== syncProtocol.messageYjsUpdate) return [];
  return piecesOfUpdate(decoding.readVarUint8Array(d));
}

/** The strings of text a y-websocket message carries. */
export const textsIn = (message: Uint8Array): string[] => piecesIn(message).map((p) => p.str);

/** A sync step 1 of a client that holds nothing: the server answers with the whole document. */
function askForAll(): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, 0);
  syncProtocol.writeSyncStep1(enc, new Y.Doc());
  return encoding.toUint8Array(enc);
}

/** A reader's co-editing connection that asks for the whole document and records every message it is sent. */
export interface Recorder {
  ws: WebSocket;
  received: Buffer[];
  /** Every piece of text it was handed so far, in order. */
  texts(): string[];
  /** Resolves once a piece of text it was handed satisfies the predicate (checked on every message). */
  handed(what: string, pred: (texts: string[]) => boolean, ms?: number): Promise<void>;
  /** The close code, once closed (1006 when it never opened). */
  closed: Promise<number>;
}

export function recorder(url: string, docId: string, cookie: string): Recorder {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${COLLAB_PATH}/${docId}`, { headers: { cookie } });
  const received: Buffer[] = [];
  const texts: string[] = [];
  ws.on('message', (m: Buffer) => {
    received.push(Buffer.from(m));
    texts.push(...textsIn(m));
  });
  ws.on('error', () => undefined);
  ws.once('open', () => ws.send(askForAll()));
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  return {
    ws,
    received,
    texts: () => texts,
    handed: (what, pred, ms = WAIT_MS) =>
      when(
        what,
        () => pred(texts),
        (fn) => {
          ws.on('message', fn);
          return () => ws.off('message', fn);
        },
        ms,
      ).then(() => undefined),
    closed,
  };
}

const isSyncStep2 = (m: Uint8Array): boolean => m.length > 1 && m[0] === 0 && m[1] === syncProtocol.messageYjsSyncStep2;

/**
 * Asks the server for the document (sync step 1) and resolves once a sync step 2 arrives after it,
 * or the connection is gone: the server has then handled what was sent on it before, and what it
 * sent before has arrived. (A step 2 that refuses an earlier update of a reader ends it too: a
 * little early, never late.)
 */
export async function roundTrip(r: Recorder, ms = WAIT_MS): Promise<void> {
  if (r.ws.readyState !== WebSocket.OPEN) return;
  const from = r.received.length;
  r.ws.send(askForAll());
  await when(
    'an answer on a co-editing connection',
    () => r.ws.readyState !== WebSocket.OPEN || r.received.slice(from).some(isSyncStep2),
    (fn) => {
      r.ws.on('message', fn);
      r.ws.on('close', fn);
      return () => {
        r.ws.off('message', fn);
        r.ws.off('close', fn);
      };
    },
    ms,
  );
}

import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { z } from 'zod';
import type { OrgId } from '../../../shared/ids.js';
import { MAX_DOC_BYTES, MAX_NAME_CHARS } from '../../../shared/limits.js';
import { COLLAB_MESSAGE_REFUSED, COLLAB_PATH, CollabClose } from '../../../shared/protocol.js';
import { diff, spliceDelta, type TextDelta } from './textsync.js';

/**
 * 'verbinden': the text has not come from the server yet; 'verbonden': live; 'offline': shown
 * from the last sync, edits merge on reconnect; 'gesloten': destroyed, nothing of it is kept.
 */
export type CollabStatus = 'verbinden' | 'verbonden' | 'offline' | 'gesloten';

/** Another person with the text open, as the server vouches for them, and their cursor now. */
export interface Peer {
  clientId: number;
  name: string;
  orgId: OrgId;
  colour: string;
  /** Indices into `text`; head is where the caret is. */
  cursor: { anchor: number; head: number } | null;
}

/** A change to `text`: `local` when this tab typed it (the editor already shows it). */
export type TextListener = (delta: TextDelta, local: boolean) => void;

export interface CollabOptions {
  readOnly: boolean;
  /** Longest text the server keeps (MAX_ITEM_TEXT_CHARS, MAX_MINUTES_CHARS); whole documents are capped at MAX_DOC_BYTES. */
  maxChars?: number;
}

/** Origin of this tab's own edits; anything else (server, undo) is shown as a remote change. */
const LOCAL = Symbol('local');
/** The server may hold this much more than our encoded state: updates stored since compaction. */
const DOC_BYTES_MARGIN = 16 * 1024;
/** Refused upgrades in a row, while the app's socket is up, that mean "no access" (HTTP 404). */
const REFUSALS_MEANING_REVOKED = 3;

export const TOO_LONG_TEXT = 'De tekst is te lang; deze wijziging is niet bewaard.';

// The server rewrites `user`; still, data from the network is parsed before it is shown.
const PeerState = z.object({
  user: z.object({
    name: z.string().max(MAX_NAME_CHARS),
    orgId: z.string().min(1).max(64),
    colour: z.string().regex(/^#[0-9a-fA-F]{6}$/),
  }),
  cursor: z.object({ anchor: z.unknown(), head: z.unknown() }).nullish(),
});

interface Conn {
  doc: Y.Doc;
  text: Y.Text;
  provider: WebsocketProvider;
  undo: Y.UndoManager | null;
  /** Synced once: what `text` shows comes from this copy. */
  shown: boolean;
  /** The current socket got as far as open (a refused upgrade never does). */
  opened: boolean;
  refusals: number;
}

const collabUrl = (): string => `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${COLLAB_PATH}`;

/**
 * One collaborative text (`ydoc.getText('text')`) at the collaboration endpoint. What is
 * writable is decided by the server; `readOnly` mirrors it so no edit is made that the server
 * would refuse. On revocation (close code 4403, or upgrades refused while the server is up) the
 * provider and the Y.Doc are destroyed at once and nothing of the text is kept.
 */
export class CollabText {
  /** The text as shown: the server's once synced, with this tab's edits. */
  text = $state('');
  status = $state<CollabStatus>('verbinden');
  /** Synced at least once: the text may be shown and edited. */
  ready = $state(false);
  readOnly = $state(false);
  /** The right to read it ended; everything of it is gone. */
  revoked = $state(false);
  /** The last local edit was refused here (too long); cleared by the next edit that fits. */
  problem = $state<string | null>(null);
  peers = $state.raw<Peer[]>([]);

  #conn: Conn | null = null;
  /** A fresh copy being synced after write access ended; see setReadOnly. */
  #next: Conn | null = null;
  #listeners: TextListener[] = [];
  #lastCursor = 'null';
  readonly #maxChars: number | undefined;

  constructor(
    readonly docId: string,
    options: CollabOptions,
    /** The app's own socket is connected, so the server is up. */
    private readonly serverReachable: () => boolean,
    private readonly onEnded: (text: CollabText) => void,
  ) {
    this.readOnly = options.readOnly;
    this.#maxChars = options.maxChars;
    this.#conn = this.#connect();
  }

  /** Follow changes of `text`; returns the unsubscribe. */
  subscribe(listener: TextListener): () => void {
    this.#listeners.push(listener);
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  /** Apply one local edit in one transaction; false (and nothing changed) when not allowed. */
  replace(index: number, remove: number, insert: string): boolean {
    const conn = this.#conn;
    if (!conn?.shown || this.readOnly || this.status === 'gesloten') return false;
    const length = conn.text.length;
    if (index < 0 || remove < 0 || index + remove > length) return false;
    if (insert.length > remove && this.#tooLong(conn, length - remove + insert.length, insert.length)) {
      this.problem = TOO_LONG_TEXT;
      return false;
    }
    conn.doc.transact(() => {
      if (remove > 0) conn.text.delete(index, remove);
      if (insert) conn.text.insert(index, insert);
    }, LOCAL);
    this.problem = null;
    return true;
  }

  undo(): void {
    if (!this.readOnly) this.#conn?.undo?.undo();
  }

  redo(): void {
    if (!this.readOnly) this.#conn?.undo?.redo();
  }

  /** Share where this user's caret and selection are; readers share only that they are there. */
  setCursor(selection: { anchor: number; head: number } | null): void {
    const conn = this.#conn;
    if (!conn?.shown || this.status === 'gesloten') return;
    const at = (i: number) => Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(conn.text, Math.min(i, conn.text.length)));
    const cursor = selection && !this.readOnly ? { anchor: at(selection.anchor), head: at(selection.head) } : null;
    const key = JSON.stringify(cursor);
    if (key === this.#lastCursor) return;
    this.#lastCursor = key;
    conn.provider.awareness.setLocalStateField('cursor', cursor);
  }

  /**
   * Follow the server's decision on writing. Losing write access also swaps in a fresh copy
   * from the server once it has synced: edits the server refused must not stay on screen.
   */
  setReadOnly(readOnly: boolean): void {
    if (readOnly === this.readOnly || this.status === 'gesloten') return;
    this.readOnly = readOnly;
    const conn = this.#conn;
    if (!conn) return;
    if (!readOnly) {
      if (conn.shown && !conn.undo) conn.undo = newUndo(conn);
      return;
    }
    conn.undo?.destroy();
    conn.undo = null;
    this.problem = null;
    this.setCursor(null);
    if (this.#next) this.#drop(this.#next);
    if (conn.shown) this.#next = this.#connect();
  }

  /** Close the connection and forget the text. Safe to call more than once. */
  destroy(): void {
    this.#end(false);
  }

  #connect(): Conn {
    const doc = new Y.Doc();
    const text = doc.getText('text');
    const provider = new WebsocketProvider(collabUrl(), encodeURIComponent(this.docId), doc, {
      // Nothing goes through BroadcastChannel: other tabs may belong to other users.
      disableBc: true,
      // 4400–4499: the server decided; reconnecting cannot help.
      shouldReconnect: (event) => !(event.code >= 4400 && event.code < 4500),
    });
    const conn: Conn = { doc, text, provider, undo: null, shown: false, opened: false, refusals: 0 };
    // The server refused this tab's last edit (the text would be too long): say so, and show the
    // server's text again instead of what it did not keep.
    provider.messageHandlers[COLLAB_MESSAGE_REFUSED] = () => queueMicrotask(() => this.#refused(conn));
    provider.awareness.setLocalState({ cursor: null });
    text.observe((event, tr) => this.#onText(conn, event.delta, tr.origin === LOCAL));
    provider.awareness.on('change', () => {
      if (conn === this.#conn) this.#refreshPeers();
    });
    provider.on('status', ({ status }) => {
      if (status === 'connected') {
        conn.opened = true;
        conn.refusals = 0;
      } else if (status === 'connecting') {
        conn.opened = false;
      }
      this.#refreshStatus();
    });
    provider.on('sync', (synced) => this.#onSync(conn, synced));
    provider.on('connection-close', (event) => {
      if (!event || conn.opened || !this.serverReachable()) return;
      // The upgrade was refused while the server is up: 404 for a document we may no longer read.
      if (++conn.refusals >= REFUSALS_MEANING_REVOKED) queueMicrotask(() => this.#end(true));
    });
    // Emitted last, after the provider gave up on a 44xx close.
    provider.on('closed', ({ code }) => this.#end(code === CollabClose.REVOKED || code === CollabClose.FORBIDDEN));
    return conn;
  }

  #refused(conn: Conn): void {
    if (conn !== this.#conn || this.status === 'gesloten') return;
    this.problem = TOO_LONG_TEXT;
    if (this.#next) this.#drop(this.#next);
    if (conn.shown) this.#next = this.#connect();
  }

  #onText(conn: Conn, delta: TextDelta, local: boolean): void {
    if (conn !== this.#conn || !conn.shown) return;
    this.text = conn.text.toString();
    this.#refreshPeers();
    for (const listener of this.#listeners) listener(delta, local);
  }

  #onSync(conn: Conn, synced: boolean): void {
    if (synced && !conn.shown && (conn === this.#conn || conn === this.#next)) {
      conn.shown = true;
      this.ready = true;
      if (conn === this.#next) {
        const old = this.#conn;
        this.#conn = conn;
        this.#next = null;
        this.#lastCursor = 'null';
        if (old) this.#drop(old);
      }
      if (!this.readOnly) conn.undo = newUndo(conn);
      const before = this.text;
      this.text = conn.text.toString();
      const change = diff(before, this.text);
      this.#refreshPeers();
      if (change) for (const listener of this.#listeners) listener(spliceDelta(change), false);
    }
    this.#refreshStatus();
  }

  #refreshStatus(): void {
    if (this.status === 'gesloten') return;
    const conn = this.#conn;
    if (!conn?.shown) this.status = 'verbinden';
    else this.status = conn.provider.wsconnected && conn.provider.synced ? 'verbonden' : 'offline';
  }

  #refreshPeers(): void {
    const conn = this.#conn;
    if (!conn?.shown) {
      this.peers = [];
      return;
    }
    const peers: Peer[] = [];
    for (const [clientId, state] of conn.provider.awareness.getStates()) {
      if (clientId === conn.doc.clientID) continue;
      const parsed = PeerState.safeParse(state);
      if (!parsed.success) continue;
      const { user, cursor } = parsed.data;
      const anchor = cursor ? indexOf(conn, cursor.anchor) : null;
      const head = cursor ? indexOf(conn, cursor.head) : null;
      peers.push({
        clientId,
        name: user.name,
        orgId: user.orgId as OrgId,
        colour: user.colour,
        cursor: anchor !== null && head !== null ? { anchor, head } : null,
      });
    }
    peers.sort((a, b) => a.name.localeCompare(b.name, 'nl') || a.clientId - b.clientId);
    this.peers = peers;
  }

  /** Would this text be more than the server keeps? Cheap until the document gets large. */
  #tooLong(conn: Conn, newLength: number, inserted: number): boolean {
    if (this.#maxChars !== undefined && newLength > this.#maxChars) return true;
    // At most 3 UTF-8 bytes per UTF-16 unit; only near the cap is the real size worth computing.
    if (newLength * 3 < MAX_DOC_BYTES / 2) return false;
    return Y.encodeStateAsUpdate(conn.doc).length + inserted * 3 + DOC_BYTES_MARGIN > MAX_DOC_BYTES;
  }

  #drop(conn: Conn): void {
    conn.undo?.destroy();
    conn.provider.destroy();
    conn.doc.destroy();
  }

  #end(revoked: boolean): void {
    if (this.status === 'gesloten') return;
    this.status = 'gesloten';
    this.revoked = revoked;
    for (const conn of [this.#conn, this.#next]) if (conn) this.#drop(conn);
    this.#conn = null;
    this.#next = null;
    this.text = '';
    this.ready = false;
    this.peers = [];
    this.problem = null;
    this.#listeners = [];
    this.onEnded(this);
  }
}

function newUndo(conn: Conn): Y.UndoManager {
  return new Y.UndoManager(conn.text, { trackedOrigins: new Set([LOCAL]) });
}

/** A cursor's relative position (JSON from awareness) as an index, or null when it is not ours to place. */
function indexOf(conn: Conn, json: unknown): number | null {
  if (!json || typeof json !== 'object') return null;
  try {
    const abs = Y.createAbsolutePositionFromRelativePosition(Y.createRelativePositionFromJSON(json), conn.doc);
    return abs && abs.type === conn.text ? Math.min(abs.index, conn.text.length) : null;
  } catch {
    return null;
  }
}

/**
 * Every CollabText of the open board. The board clears it when the case is left or revoked, so
 * no connection outlives the right or the wish to see its text.
 */
export class CollabHub {
  #open: CollabText[] = [];

  constructor(private readonly serverReachable: () => boolean) {}

  open(docId: string, options: CollabOptions): CollabText {
    const text = new CollabText(docId, options, this.serverReachable, (t) => {
      this.#open = this.#open.filter((x) => x !== t);
    });
    this.#open.push(text);
    return text;
  }

  closeAll(): void {
    for (const text of this.#open) text.destroy();
  }

  get size(): number {
    return this.#open.length;
  }
}

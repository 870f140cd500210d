import type { CaseId } from '../../../shared/ids.js';
import type { CaseSummary } from '../../../shared/protocol.js';
import { Api } from './api.js';
import { Board } from './board.svelte.js';
import { CaseList } from './cases.svelte.js';
import { CollabHub } from './collab.svelte.js';
import { CaseConsents } from './consents.svelte.js';
import { Connection } from './connection.svelte.js';
import { DirectoryStore } from './directory.svelte.js';
import { MeetingPlanner } from './meetings.svelte.js';
import { href, Router } from './router.svelte.js';
import { Session } from './session.svelte.js';

export const REVOKED_TEXT = 'U neemt niet meer deel aan deze casus.';
const SESSION_ENDED_TEXT = 'Uw sessie is beëindigd. Log opnieuw in.';

/**
 * Wires the stores together and owns the flows between them: sign in, sign out, and what a
 * server event means for each store. Components get the stores through context.
 */
export class AppState {
  readonly api = new Api();
  readonly router = new Router();
  readonly session = new Session(this.api);
  readonly directory = new DirectoryStore(this.api);
  readonly connection = new Connection();
  readonly cases = new CaseList();
  /** For chairs: the meetings of every table, to plan them and put cases on their agendas. */
  readonly planner = new MeetingPlanner(this.api);
  /** The open board's co-edited texts; a refused upgrade counts only while the server is up. */
  readonly collab = new CollabHub(() => this.connection.connected);
  readonly board = new Board(
    this.connection,
    (id) => this.#revoked(id),
    () => this.session.me?.orgId ?? null,
    () => this.collab.closeAll(),
  );
  readonly consents = new CaseConsents(this.board, this.session);
  /** A message for the overview, e.g. that a case was taken away while it was open. */
  notice = $state<string | null>(null);

  constructor() {
    this.api.onUnauthenticated = () => this.signedOut(SESSION_ENDED_TEXT);
  }

  async init(): Promise<void> {
    const me = await this.session.load();
    if (me) this.#start();
  }

  async login(username: string, password: string): Promise<string | null> {
    const error = await this.session.login(username, password);
    if (!error) this.#start();
    return error;
  }

  async logout(): Promise<void> {
    this.#stop();
    await this.session.logout();
    this.router.go(href.overview);
  }

  /** The server ended the session, or a request found none: back to the login page. */
  signedOut(notice: string | null): void {
    if (this.session.status !== 'ingelogd') return;
    this.#stop();
    this.session.clear(notice);
  }

  #start(): void {
    this.notice = null;
    void this.directory.load();
    if (this.session.isChair) void this.planner.load();
    this.connection.start({
      bind: (socket) => {
        socket.on('cases:snapshot', (list) => this.cases.replace(Array.isArray(list) ? list : []));
        socket.on('cases:upsert', (summary) => {
          const before = this.cases.get(summary.id);
          this.cases.upsert(summary);
          this.#discussionBegan(before, summary);
        });
        socket.on('cases:removed', (caseId) => {
          this.cases.remove(caseId);
          this.board.receiveRemoved(caseId);
        });
        socket.on('case:patch', (patch) => this.board.receivePatch(patch));
        socket.on('presence:update', (update) => this.board.receivePresence(update));
        socket.on('session:ended', () => this.signedOut(SESSION_ENDED_TEXT));
      },
      onConnect: () => this.board.onConnect(),
      onDisconnect: () => this.board.onDisconnect(),
      onUnauthenticated: () => this.signedOut(SESSION_ENDED_TEXT),
    });
  }

  #stop(): void {
    this.connection.stop();
    this.board.reset();
    this.cases.reset();
    this.directory.reset();
    this.planner.reset();
    this.notice = null;
  }

  /**
   * A case of mine comes up in the meeting: whoever follows that meeting (its page, or the
   * overview) is taken to the case's board. Someone busy on another board is left there.
   */
  #discussionBegan(before: CaseSummary | undefined, after: CaseSummary): void {
    const now = after.agenda.find((a) => a.state === 'running');
    if (!now || before?.agenda.some((a) => a.meetingId === now.meetingId && a.state === 'running')) return;
    const route = this.router.route;
    if (route.name === 'overview' || (route.name === 'meeting' && route.meetingId === now.meetingId)) this.router.go(href.board(after.id));
  }

  #revoked(caseId: CaseId): void {
    this.cases.remove(caseId);
    this.notice = REVOKED_TEXT;
    this.router.go(href.overview);
  }
}

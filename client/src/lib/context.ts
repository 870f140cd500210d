import { createContext } from 'svelte';
import type { AdminStore } from './admin.svelte.js';
import type { AppState } from './app.svelte.js';
import type { Board } from './board.svelte.js';
import type { CaseList } from './cases.svelte.js';
import type { CollabHub } from './collab.svelte.js';
import type { CaseConsents } from './consents.svelte.js';
import type { Connection } from './connection.svelte.js';
import type { DirectoryStore } from './directory.svelte.js';
import type { MeetingPlanner } from './meetings.svelte.js';
import type { Router } from './router.svelte.js';
import type { Session } from './session.svelte.js';

// Typed context pairs: a component asks for the one store it needs.
export const [getApp, setApp] = createContext<AppState>();
export const [getSession, setSession] = createContext<Session>();
export const [getDirectory, setDirectory] = createContext<DirectoryStore>();
export const [getConnection, setConnection] = createContext<Connection>();
export const [getCases, setCases] = createContext<CaseList>();
export const [getBoard, setBoard] = createContext<Board>();
export const [getConsents, setConsents] = createContext<CaseConsents>();
export const [getRouter, setRouter] = createContext<Router>();
export const [getCollab, setCollab] = createContext<CollabHub>();
export const [getPlanner, setPlanner] = createContext<MeetingPlanner>();

/** Called once by the root component. */
export function provideStores(app: AppState): void {
  setApp(app);
  setSession(app.session);
  setDirectory(app.directory);
  setConnection(app.connection);
  setCases(app.cases);
  setBoard(app.board);
  setConsents(app.consents);
  setRouter(app.router);
  setCollab(app.collab);
  setPlanner(app.planner);
}

/** The admin screen's store lives only while that screen is open. */
export const [getAdmin, setAdmin] = createContext<AdminStore>();

import { CaseIdSchema, MeetingIdSchema, type CaseId, type MeetingId } from '../../../shared/ids.js';

/** The board itself, the user's own take-home list of the same open case (R-TAKEHOME), or the plan to print (the chair's). */
export type BoardView = 'bord' | 'meeneemlijst' | 'plan';

export type Route =
  | { name: 'overview' }
  | { name: 'board'; caseId: CaseId; view: BoardView }
  | { name: 'meeting'; meetingId: MeetingId }
  | { name: 'admin' }
  | { name: 'privacy'; caseId: CaseId | null }
  | { name: 'persons' }
  | { name: 'art15'; requestId: string }
  | { name: 'notFound' };

export const href = {
  overview: '#/',
  admin: '#/beheer',
  privacy: '#/toegangslog',
  /** The access log of one case (from the house's person search: one person's cases, one by one). */
  caseLog: (id: CaseId) => `#/toegangslog/${encodeURIComponent(id)}`,
  persons: '#/personen',
  art15: (id: string) => `#/inzage/${encodeURIComponent(id)}`,
  board: (id: CaseId) => `#/casus/${encodeURIComponent(id)}`,
  takeHome: (id: CaseId) => `#/casus/${encodeURIComponent(id)}/meeneemlijst`,
  plan: (id: CaseId) => `#/casus/${encodeURIComponent(id)}/plan`,
  meeting: (id: MeetingId) => `#/overleg/${encodeURIComponent(id)}`,
};

function decoded(raw: string): string | null {
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

export function parseHash(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  if (path === '/' || path === '') return { name: 'overview' };
  if (path === '/beheer') return { name: 'admin' };
  if (path === '/toegangslog') return { name: 'privacy', caseId: null };
  const log = /^\/toegangslog\/([^/]+)$/.exec(path);
  if (log) {
    const id = CaseIdSchema.safeParse(decoded(log[1]!));
    return id.success ? { name: 'privacy', caseId: id.data } : { name: 'notFound' };
  }
  if (path === '/personen') return { name: 'persons' };
  const art15 = /^\/inzage\/(av_[0-9a-f]{24})$/.exec(path);
  if (art15) return { name: 'art15', requestId: art15[1]! };
  const meeting = /^\/overleg\/([^/]+)$/.exec(path);
  if (meeting) {
    const id = MeetingIdSchema.safeParse(decoded(meeting[1]!));
    return id.success ? { name: 'meeting', meetingId: id.data } : { name: 'notFound' };
  }
  const m = /^\/casus\/([^/]+)(?:\/(meeneemlijst|plan))?$/.exec(path);
  if (m) {
    let raw: string;
    try {
      raw = decodeURIComponent(m[1]!);
    } catch {
      return { name: 'notFound' };
    }
    const id = CaseIdSchema.safeParse(raw);
    return id.success ? { name: 'board', caseId: id.data, view: (m[2] as BoardView | undefined) ?? 'bord' } : { name: 'notFound' };
  }
  return { name: 'notFound' };
}

/** A hash router: the server serves one page, the hash says which screen it shows. */
export class Router {
  route = $state<Route>(parseHash(window.location.hash));

  constructor() {
    window.addEventListener('hashchange', () => {
      this.route = parseHash(window.location.hash);
    });
  }

  go(hash: string): void {
    if (window.location.hash === hash) this.route = parseHash(hash);
    else window.location.hash = hash;
  }
}

import type { Me } from '../../../shared/protocol.js';
import type { Api } from './api.js';
import { errorText } from './errors.js';
import { RETRYING_TEXT, retryDelay, wait } from './retry.js';

export type SessionStatus = 'laden' | 'uitgelogd' | 'ingelogd';

/** Who is logged in. The session itself is an HttpOnly cookie the client never sees. */
export class Session {
  me = $state.raw<Me | null>(null);
  status = $state<SessionStatus>('laden');
  /** A sentence for the login page, e.g. why the user was sent back to it. */
  notice = $state<string | null>(null);

  isAdmin = $derived(this.me?.roles.includes('admin') ?? false);
  isChair = $derived(this.me?.roles.includes('chair') ?? false);
  isPrivacy = $derived(this.me?.roles.includes('privacy') ?? false);
  /** The house finds persons across cases: its chairs and its privacy officer (the server decides). */
  searchesPersons = $derived(this.isChair || this.isPrivacy);

  constructor(private readonly api: Api) {}

  /**
   * Ask the server whether the cookie still holds a session. While the server cannot say
   * (UNAVAILABLE) it is asked again, with a growing wait: that is not "logged out".
   */
  async load(): Promise<Me | null> {
    let res = await this.api.request<{ me: Me }>('GET', '/api/me', undefined, false);
    for (let attempt = 0; !res.ok && res.error.code === 'UNAVAILABLE'; attempt++) {
      this.notice = RETRYING_TEXT;
      await wait(retryDelay(attempt));
      res = await this.api.request<{ me: Me }>('GET', '/api/me', undefined, false);
    }
    this.notice = null;
    if (res.ok) {
      this.#signIn(res.data.me);
      return res.data.me;
    }
    this.status = 'uitgelogd';
    if (res.error.code !== 'UNAUTHENTICATED') this.notice = errorText(res.error);
    return null;
  }

  /** Returns the Dutch error to show, or null when logged in. */
  async login(username: string, password: string): Promise<string | null> {
    const res = await this.api.request<{ me: Me }>('POST', '/api/login', { username, password }, false);
    if (!res.ok) return errorText(res.error);
    this.#signIn(res.data.me);
    return null;
  }

  async logout(): Promise<void> {
    await this.api.request<null>('POST', '/api/logout', undefined, false);
    this.clear(null);
  }

  /** Forget the user locally (after logout, or when the server ended the session). */
  clear(notice: string | null): void {
    this.me = null;
    this.status = 'uitgelogd';
    this.notice = notice;
  }

  #signIn(me: Me): void {
    this.me = me;
    this.status = 'ingelogd';
    this.notice = null;
  }
}

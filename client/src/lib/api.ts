import { type ClientError, localError, type Result, toClientError } from './errors.js';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH';

/**
 * JSON over same-origin HTTP. The session is an HttpOnly cookie, so nothing here holds a token.
 * Every failure becomes a Result with Dutch text; nothing throws to the caller.
 */
export class Api {
  /** Called when a request meets 401 on a route that needs a session. */
  onUnauthenticated: () => void = () => {};

  get<T>(path: string): Promise<Result<T>> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<Result<T>> {
    return this.request<T>('POST', path, body);
  }

  put<T>(path: string, body: unknown): Promise<Result<T>> {
    return this.request<T>('PUT', path, body);
  }

  patch<T>(path: string, body: unknown): Promise<Result<T>> {
    return this.request<T>('PATCH', path, body);
  }

  /** `expectAuth: false` for the routes that answer 401 as part of their meaning (login, me). */
  async request<T>(method: Method, path: string, body?: unknown, expectAuth = true): Promise<Result<T>> {
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        credentials: 'same-origin',
        headers: body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      return { ok: false, error: localError('OFFLINE') };
    }
    if (res.status === 204) return { ok: true, data: null as T };
    const json: unknown = await res.json().catch(() => undefined);
    if (res.ok) {
      return json === undefined ? { ok: false, error: localError('INTERNAL') } : { ok: true, data: json as T };
    }
    const error: ClientError =
      json && typeof json === 'object' && 'error' in json
        ? toClientError((json as { error: unknown }).error)
        : localError(res.status === 401 ? 'UNAUTHENTICATED' : res.status === 403 ? 'FORBIDDEN' : res.status === 503 ? 'UNAVAILABLE' : 'INTERNAL');
    if (error.code === 'UNAUTHENTICATED' && expectAuth) this.onUnauthenticated();
    return { ok: false, error };
  }
}

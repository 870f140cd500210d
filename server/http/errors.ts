import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import { appError, type ErrorCode } from '../../shared/errors.js';
import { UNAVAILABLE_RETRY_AFTER_MS } from '../../shared/limits.js';
import type { Logger } from '../log.js';
import { unavailability } from '../store/health.js';

/** The one error shape of the HTTP API: `{ error: { code, message } }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message?: string,
  ) {
    super(message ?? code);
  }
}

export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body);
  if (!r.success) throw new HttpError(400, 'BAD_REQUEST');
  return r.data;
}

/**
 * State-changing requests must be JSON from our own origin: with the SameSite=Strict cookie this
 * shuts out cross-site form posts.
 */
export const requireJsonSameOrigin: RequestHandler = (req: Request, _res: Response, next: NextFunction) => {
  if (req.method === 'GET' || req.method === 'HEAD') return next();
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    if (host !== req.headers.host) return next(new HttpError(403, 'FORBIDDEN'));
  }
  if (req.headers['content-length'] !== '0' && req.headers['content-length'] !== undefined && !req.is('application/json')) {
    return next(new HttpError(415, 'BAD_REQUEST'));
  }
  next();
};

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    if (err instanceof HttpError) {
      res.status(err.status).json({ error: appError(err.code, err.message === err.code ? undefined : err.message) });
      return;
    }
    const e = err as { type?: string; status?: number };
    if (e.type === 'entity.too.large') {
      res.status(413).json({ error: appError('TOO_LARGE') });
      return;
    }
    if (e.type === 'entity.parse.failed' || e.type === 'encoding.unsupported' || e.status === 400) {
      res.status(400).json({ error: appError('BAD_REQUEST') });
      return;
    }
    // P-REDIS: the store cannot serve now (a session among what it could not look up): "later",
    // never "not logged in".
    if (unavailability(err)) {
      res.setHeader('Retry-After', String(UNAVAILABLE_RETRY_AFTER_MS / 1000));
      res.status(503).json({ error: appError('UNAVAILABLE') });
      return;
    }
    log.error({ err }, 'request failed');
    res.status(500).json({ error: appError('INTERNAL') });
  };
}

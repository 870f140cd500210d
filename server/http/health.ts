import { Router, type Request, type Response } from 'express';
import type { AccessLog } from '../audit/accessLog.js';
import type { LinkHealth } from '../store/health.js';

/**
 * Whether this process can serve now: not stopping, each Redis it needs answering (and not
 * loading), its access log writable (P-READLOG). What is failing is named, for the operator.
 */
export class Readiness {
  private readonly listeners: (() => void)[] = [];

  constructor(
    private readonly links: readonly LinkHealth[],
    private readonly access: AccessLog,
    private readonly stopping: () => boolean,
  ) {
    for (const l of links) l.onChange(() => this.changed());
    access.onChange(() => this.changed());
  }

  /** What keeps the process from serving, by name: 'stopping', a link ('store', 'bus'), 'access-log'. */
  failing(): string[] {
    const out: string[] = [];
    if (this.stopping()) out.push('stopping');
    for (const l of this.links) if (!l.ready) out.push(l.name);
    if (!this.access.writable) out.push('access-log');
    return out;
  }

  get ready(): boolean {
    return this.failing().length === 0;
  }

  /** Resolves once ready (at once when it is). */
  whenReady(): Promise<void> {
    return this.when(true);
  }

  /** Resolves once not ready (at once when it is not). */
  whenNotReady(): Promise<void> {
    return this.when(false);
  }

  private when(ready: boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        if (this.ready !== ready) return false;
        resolve();
        return true;
      };
      if (check()) return;
      const fn = (): void => {
        if (check()) this.listeners.splice(this.listeners.indexOf(fn), 1);
      };
      this.listeners.push(fn);
    });
  }

  private changed(): void {
    for (const fn of [...this.listeners]) fn();
  }
}

/**
 * Liveness and readiness. `/healthz/live`: the process runs and answers (a supervisor restarts it
 * when not). `/healthz/ready`: it can serve now (a load balancer sends it work); 503 while it
 * cannot, with what fails. `/healthz` means readiness, as it did before the two were split.
 */
export function healthRoutes(readiness: Readiness): Router {
  const r = Router();
  r.get('/healthz/live', (_req, res) => {
    res.json({ status: 'live' });
  });
  const ready = (_req: Request, res: Response): void => {
    const failing = readiness.failing();
    if (failing.length === 0) return void res.json({ status: 'ok' });
    res.status(503).json({ status: failing.includes('stopping') ? 'stopping' : 'unavailable', failing });
  };
  r.get('/healthz/ready', ready);
  r.get('/healthz', ready);
  return r;
}

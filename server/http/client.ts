import fs from 'node:fs';
import path from 'node:path';
import express, { Router } from 'express';
import { HttpError } from './errors.js';

/** The built single-page client: its files, and index.html for every other path. */
export function clientApp(dir: string): Router {
  const clientDir = path.resolve(dir);
  const indexHtml = path.join(clientDir, 'index.html');
  const r = Router();
  r.use(express.static(clientDir, { index: false, maxAge: '1h' }));
  r.get('/{*splat}', (_req, res, next) => {
    if (!fs.existsSync(indexHtml)) return next(new HttpError(404, 'NOT_FOUND', 'De webapplicatie is nog niet gebouwd (npm run build).'));
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(indexHtml);
  });
  return r;
}

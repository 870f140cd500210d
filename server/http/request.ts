type Headers = Record<string, string | string[] | undefined>;

/** Where a request came from: the socket peer, or the proxy's X-Forwarded-For when trusted. */
export function clientAddress(headers: Headers, peer: string | undefined, trustProxy: number): string {
  const fwd = headers['x-forwarded-for'];
  if (trustProxy > 0 && typeof fwd === 'string') {
    const hops = fwd.split(',').map((s) => s.trim());
    return hops[Math.max(0, hops.length - trustProxy)] ?? peer ?? 'unknown';
  }
  return peer ?? 'unknown';
}

/** Browsers send Origin on WebSocket upgrades: only our own origin may open a socket. */
export function sameOrigin(headers: Headers): boolean {
  const origin = headers.origin;
  if (origin === undefined) return true;
  try {
    return typeof origin === 'string' && new URL(origin).host === headers.host;
  } catch {
    return false;
  }
}

/** How long stopping waits for a Redis client's pending commands before it drops them. */
const REDIS_CLOSE_MS = 1_000;

interface Closable {
  readonly isOpen: boolean;
  close(): Promise<void>;
  destroy(): void;
}

/**
 * Closes a client once its pending commands are answered, or after REDIS_CLOSE_MS drops them: a
 * Redis that hangs (or a client queueing for a link that is away) must not hold a stop up.
 */
export async function closeRedis(client: Closable, ms = REDIS_CLOSE_MS): Promise<void> {
  if (!client.isOpen) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const closed = client.close().then(
    () => true,
    () => false,
  );
  const inTime = await Promise.race([closed, late]);
  clearTimeout(timer);
  // close() marks the client closed at once, so isOpen tells nothing here: a client whose
  // commands were not answered in time is destroyed, which drops its queue and its socket.
  if (inTime) return;
  try {
    client.destroy();
  } catch {
    // Closed meanwhile: nothing is left to drop.
  }
}

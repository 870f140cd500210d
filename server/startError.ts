/**
 * A start that cannot go on because of something outside the code: a data directory, a database
 * file or a Redis that cannot serve. Its message is one line for the operator that names the path
 * or URL and what is wrong; the process then stops with exit code 2, as for a bad configuration.
 */
export class StartError extends Error {
  constructor(problem: string) {
    super(`Cannot start: ${problem}`);
  }
}

/** What a system error says, without the path Node adds (the message names it once, its own way). */
export function systemReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const message = String(err?.message ?? e);
  if (!err?.code) return message;
  // Node: "ENOTDIR: not a directory, mkdir '/a/b'" → "not a directory (ENOTDIR)".
  const m = /^[A-Z0-9_]+: ([^,]+)/.exec(message);
  return m ? `${m[1]} (${err.code})` : `${message} (${err.code})`;
}

import type { CommandResults } from '../../../shared/protocol.js';
import { type CommandName, commandSchema } from '../../../shared/schemas.js';
import type { Connection } from './connection.svelte.js';
import { errorText } from './errors.js';
import { RETRYING_TEXT, retryDelay, wait } from './retry.js';
import { check, type FieldLabels } from './validate.js';

/** Tries of one command answered UNAVAILABLE (about 20 s in all) before the answer is shown as final. */
const UNAVAILABLE_TRIES = 6;

/**
 * One form's or button's command: checked with the server's own schema, sent, and its busy
 * flag and Dutch error kept for the component. The change itself shows when its patch arrives.
 * A command the server could not serve now (UNAVAILABLE: certainly not applied) is sent again
 * after a growing wait, while the user is told so.
 */
export class Command {
  busy = $state(false);
  error = $state<string | null>(null);

  constructor(private readonly connection: Connection) {}

  /** Resolves to the command's data, or undefined when it was refused (see `error`). */
  async run<N extends CommandName>(name: N, input: unknown, labels: FieldLabels = {}): Promise<{ data: CommandResults[N] } | undefined> {
    if (this.busy) return undefined;
    const checked = check(commandSchema(name), input, labels);
    if (!checked.ok) {
      this.error = checked.message;
      return undefined;
    }
    this.busy = true;
    this.error = null;
    let res = await this.connection.send(name, checked.data);
    for (let attempt = 0; !res.ok && res.error.code === 'UNAVAILABLE' && attempt < UNAVAILABLE_TRIES - 1; attempt++) {
      this.error = RETRYING_TEXT;
      await wait(retryDelay(attempt));
      res = await this.connection.send(name, checked.data);
    }
    this.busy = false;
    if (!res.ok) {
      this.error = errorText(res.error);
      return undefined;
    }
    this.error = null;
    return { data: res.data };
  }

  /** A problem found before sending, shown like a refusal. */
  fail(message: string): void {
    this.error = message;
  }

  clear(): void {
    this.error = null;
  }
}

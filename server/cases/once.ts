import { z } from 'zod';
import { appError } from '../../shared/errors.js';
import { CaseIdSchema, ConsentIdSchema, ItemIdSchema, PersonIdSchema, type CommandId, type UserId } from '../../shared/ids.js';
import type { Ack } from '../../shared/protocol.js';
import type { CommandName } from '../../shared/schemas.js';
import type { CommandRecord, EventLog } from '../store/types.js';

/** What a committed command answered, as its record keeps it for a retry. */
const CommandAnswerRow = z.strictObject({
  name: z.string(),
  data: z.union([
    z.null(),
    z.strictObject({ caseId: CaseIdSchema }),
    z.strictObject({ itemId: ItemIdSchema }),
    z.strictObject({ requestId: ConsentIdSchema }),
    z.strictObject({ personId: PersonIdSchema }),
  ]),
});
type CommandAnswer = z.infer<typeof CommandAnswerRow>;
/** The data a committed command answered, as its record gives it back. */
export type RecordedAnswer = CommandAnswer['data'];

/** The command a run belongs to: what its commit records with its events. */
export interface CommandTag {
  userId: UserId;
  commandId: CommandId;
  name: CommandName;
}

/** The record of a command's commit, with the answer a retry will get. */
export function commandRecord(tag: CommandTag, data: RecordedAnswer, at: number): CommandRecord {
  return { userId: tag.userId, commandId: tag.commandId, answer: JSON.stringify({ name: tag.name, data } satisfies CommandAnswer), at };
}

/** A retry of a committed command: the answer it had. */
export function recordedAck(answer: string, name: CommandName): Ack<RecordedAnswer> {
  const a = CommandAnswerRow.parse(JSON.parse(answer));
  // The id of another command: a client's mistake, not a retry.
  if (a.name !== name) return { ok: false, error: appError('BAD_REQUEST') };
  return { ok: true, data: a.data };
}

/**
 * P-ONCE: a client's command runs at most once per user and command id. A retry of one that
 * committed is answered from its record (nothing runs, nothing is delivered again); a retry that
 * comes while the first run is still going on in this process waits for its answer. Between
 * processes the store decides: an append of a command recorded meanwhile is refused
 * (CommandDoneError) and answered from the record.
 */
export class CommandOnce {
  private readonly running = new Map<string, { name: CommandName; answer: Promise<Ack<unknown>> }>();

  constructor(
    private readonly store: EventLog,
    private readonly now: () => number = Date.now,
  ) {}

  /** `replayed`: told when the answer came from the record (the commit may not be applied here yet). */
  run(tag: CommandTag, work: () => Promise<Ack<unknown>>, replayed: (answer: Ack<RecordedAnswer>) => void): Promise<Ack<unknown>> {
    const key = `${tag.userId} ${tag.commandId}`;
    const running = this.running.get(key);
    if (running) return running.name === tag.name ? running.answer : Promise.resolve({ ok: false, error: appError('BAD_REQUEST') });
    const answer = this.first(tag, work, replayed);
    this.running.set(key, { name: tag.name, answer });
    const done = (): void => void this.running.delete(key);
    answer.then(done, done);
    return answer;
  }

  private async first(tag: CommandTag, work: () => Promise<Ack<unknown>>, replayed: (answer: Ack<RecordedAnswer>) => void): Promise<Ack<unknown>> {
    const recorded = await this.store.commandAnswer(tag.userId, tag.commandId, this.now());
    if (recorded === undefined) return work();
    const answer = recordedAck(recorded, tag.name);
    replayed(answer);
    return answer;
  }
}

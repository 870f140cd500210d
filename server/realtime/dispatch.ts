import { appError } from '../../shared/errors.js';
import type { CommandId } from '../../shared/ids.js';
import type { Ack } from '../../shared/protocol.js';
import { CommandEnvelopeSchema, isCommandName, parseCommand, type CommandCall } from '../../shared/schemas.js';
import { unavailability } from '../store/health.js';
import type { Boards } from './boards.js';
import type { BoardSocket, RealtimeContext } from './context.js';
import type { SocketSessions } from './sessions.js';

/** Every inbound event of a board socket, known or not: parsed, looked up, run, answered through its ack. */
export class Dispatch {
  constructor(
    private readonly ctx: RealtimeContext,
    private readonly boards: Boards,
    private readonly sessions: SocketSessions,
    /** Every command answered, by the event name the client sent (for metrics). */
    private readonly answered: (event: string, ack: Ack<unknown>) => void = () => undefined,
  ) {}

  async dispatch(socket: BoardSocket, event: string, args: unknown[]): Promise<void> {
    const { d } = this.ctx;
    const last = args.at(-1);
    const ack = typeof last === 'function' ? (last as (r: Ack<unknown>) => void) : null;
    // Commands without an ack cannot be answered; they are dropped unread.
    if (!ack) return;
    const reply = (r: Ack<unknown>): void => {
      if (socket.connected) ack(r);
      this.answered(event, r);
    };
    // Stopping: what was received before is finished (drain); what comes now is for another process.
    if (this.ctx.stopping) return reply({ ok: false, error: appError('UNAVAILABLE') });
    if (!this.ctx.st(socket).bucket.take()) return reply({ ok: false, error: appError('RATE_LIMITED') });
    this.sessions.confirm(socket);
    if (!isCommandName(event)) return reply({ ok: false, error: appError('UNKNOWN_COMMAND') });
    // P-ONCE: the command's id and its input. A bad envelope is refused alike whatever it names.
    const envelope = CommandEnvelopeSchema.safeParse(args.length > 1 ? args[0] : undefined);
    if (!envelope.success) return reply({ ok: false, error: appError('BAD_REQUEST') });
    const { commandId, input } = envelope.data;
    const call = parseCommand(event, input);
    try {
      // P-EXIST: invalid input that names what the user may not see is refused as unknown first.
      if (!call) return reply(await d.cases.refuseMalformed(event, input, this.ctx.actor(socket)));
      reply(await this.execute(socket, call, commandId));
    } catch (err) {
      // UNAVAILABLE only when the command was certainly not applied: then sending it again is safe.
      const unavailable = unavailability(err);
      if (unavailable && !unavailable.maybeApplied) return reply({ ok: false, error: appError('UNAVAILABLE') });
      d.log.error({ err, command: event, userId: socket.data.viewer.userId }, 'command failed');
      reply({ ok: false, error: appError('INTERNAL') });
    }
  }

  private async execute(socket: BoardSocket, call: CommandCall, commandId: CommandId): Promise<Ack<unknown>> {
    switch (call.name) {
      case 'case:open':
        return this.boards.open(socket, call.input);
      case 'case:leave': {
        const { caseId } = call.input;
        if (!this.ctx.st(socket).open.has(caseId)) return { ok: false, error: appError('NOT_FOUND') };
        this.boards.leave(socket, caseId);
        return { ok: true, data: null };
      }
      case 'case:print':
        return this.boards.print(socket, call.input);
      // Reads above run again on a retry; what changes something runs once per command id.
      default:
        return this.ctx.d.cases.command(commandId, call, this.ctx.actor(socket));
    }
  }
}

import type { MeetingId, TableId } from '../../../shared/ids.js';
import type { MeetingView } from '../../../shared/protocol.js';
import type { MeetingInput } from '../../../shared/schemas.js';
import type { Api } from './api.js';
import { errorText, type Result } from './errors.js';
import { isPast } from './format.js';

/** The meetings the house's chairs plan: when and where, none of their cases (GET /api/meetings). */
export class MeetingPlanner {
  meetings = $state<MeetingView[]>([]);
  loaded = $state(false);
  error = $state<string | null>(null);
  busy = $state(false);

  constructor(private readonly api: Api) {}

  reset(): void {
    this.meetings = [];
    this.loaded = false;
    this.error = null;
  }

  async load(): Promise<void> {
    const res = await this.api.get<{ meetings: MeetingView[] }>('/api/meetings');
    if (res.ok) {
      this.meetings = res.data.meetings;
      this.error = null;
    } else this.error = errorText(res.error);
    this.loaded = true;
  }

  /** Meetings of a table that still take cases. */
  openAt(tableId: TableId): MeetingView[] {
    return this.meetings.filter((m) => m.tableId === tableId && m.closedAt === null && !isPast(m.date));
  }

  plan(input: MeetingInput): Promise<MeetingView | null> {
    if (this.busy) return Promise.resolve(null);
    return this.#change(this.api.post<{ meeting: MeetingView }>('/api/meetings', input));
  }

  close(id: MeetingId): Promise<MeetingView | null> {
    if (this.busy) return Promise.resolve(null);
    return this.#change(this.api.post<{ meeting: MeetingView }>(`/api/meetings/${encodeURIComponent(id)}/close`));
  }

  async #change(request: Promise<Result<{ meeting: MeetingView }>>): Promise<MeetingView | null> {
    this.busy = true;
    this.error = null;
    const res = await request;
    this.busy = false;
    if (!res.ok) {
      this.error = errorText(res.error);
      return null;
    }
    const m = res.data.meeting;
    this.meetings = [...this.meetings.filter((x) => x.id !== m.id), m].sort((a, b) => (a.date + a.startTime).localeCompare(b.date + b.startTime));
    return m;
  }
}

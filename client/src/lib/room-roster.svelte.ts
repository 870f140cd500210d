import type { MeetingId, UserId } from '../../../shared/ids.js';
import type { RoomPersonView } from '../../../shared/protocol.js';
import type { Api } from './api.js';
import { errorText } from './errors.js';

/** How often the chair's list of who is in the room is read again: partners mark themselves in. */
const ROSTER_REFRESH_MS = 5_000;

const meetingPath = (id: MeetingId): string => `/api/meetings/${encodeURIComponent(id)}`;

/**
 * R-ROOM, the chair's side: who is recorded in the room, whom to expect there (the people of the
 * meeting's cases), recording who enters and leaves, and opening the room screen.
 */
export class RoomRoster {
  room = $state<RoomPersonView[]>([]);
  expected = $state<RoomPersonView[]>([]);
  loaded = $state(false);
  busy = $state(false);
  error = $state<string | null>(null);
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly api: Api,
    private readonly meetingId: MeetingId,
  ) {}

  inRoom(userId: UserId): boolean {
    return this.room.some((p) => p.userId === userId);
  }

  async load(): Promise<void> {
    const res = await this.api.get<{ room: RoomPersonView[]; expected: RoomPersonView[] }>(`${meetingPath(this.meetingId)}/room`);
    if (res.ok) {
      this.room = res.data.room;
      this.expected = res.data.expected;
      this.error = null;
    } else this.error = errorText(res.error);
    this.loaded = true;
  }

  /** Reads the list again every few seconds while the page shows it. */
  follow(): () => void {
    void this.load();
    this.#timer = setInterval(() => void this.load(), ROSTER_REFRESH_MS);
    return () => {
      if (this.#timer) clearInterval(this.#timer);
      this.#timer = null;
    };
  }

  async set(userId: UserId, present: boolean): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.error = null;
    const res = await this.api.post<{ meeting: { room: RoomPersonView[] } }>(
      `${meetingPath(this.meetingId)}/room`,
      present ? { enter: [userId] } : { leave: [userId] },
    );
    this.busy = false;
    if (res.ok) this.room = res.data.meeting.room;
    else this.error = errorText(res.error);
  }

  /** A device link for the room screen; the token is kept out of the chair's own address bar. */
  async screenLink(): Promise<string | null> {
    this.error = null;
    const res = await this.api.post<{ token: string }>(`${meetingPath(this.meetingId)}/screen`);
    if (!res.ok) {
      this.error = errorText(res.error);
      return null;
    }
    return `${window.location.origin}${window.location.pathname}#/zaal/${res.data.token}`;
  }
}

/** R-ROOM, a participant's side: marking oneself in the room (leaving is the chair's to record). */
export class MyRoomPlace {
  inRoom = $state<boolean | null>(null);
  busy = $state(false);
  error = $state<string | null>(null);

  constructor(
    private readonly api: Api,
    private readonly meetingId: MeetingId,
  ) {}

  async load(): Promise<void> {
    const res = await this.api.get<{ inRoom: boolean }>(`${meetingPath(this.meetingId)}/room/me`);
    if (res.ok) this.inRoom = res.data.inRoom;
  }

  async enter(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.error = null;
    const res = await this.api.post<{ inRoom: boolean }>(`${meetingPath(this.meetingId)}/room/me`);
    this.busy = false;
    if (res.ok) this.inRoom = res.data.inRoom;
    else this.error = errorText(res.error);
  }
}

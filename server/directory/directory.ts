import type { Meeting, MeetingRoom, Organisation, RoomChange, Table, User } from '../../shared/domain.js';
import type { MeetingId, OrgId, TableId, UserId } from '../../shared/ids.js';
import type { DirectoryLookup } from '../../shared/rules/commands.js';
import { houseDay } from '../../shared/day.js';
import { DEFAULT_RETENTION_DAYS } from '../../shared/limits.js';
import type { Logger } from '../log.js';
import type { DirectoryStore, UserRecord } from '../store/types.js';

/**
 * The house's organisations, people, tables and meetings, held in memory for the rule functions and kept in
 * step with the store by the admin routes, which write through here.
 */
export class Directory implements DirectoryLookup {
  private orgs = new Map<OrgId, Organisation>();
  private users = new Map<UserId, UserRecord>();
  private byUsername = new Map<string, UserRecord>();
  private tables = new Map<TableId, Table>();
  private meetings = new Map<MeetingId, Meeting>();
  private rooms = new Map<MeetingId, MeetingRoom>();
  private readonly meetingListeners = new Set<(changed: Meeting[], reloaded: boolean) => void>();
  private readonly changeListeners = new Set<() => void>();
  /** Per reload now reading the store: the changes written here meanwhile, applied again after it. */
  private readonly reading = new Set<(() => void)[]>();

  constructor(
    private readonly store: DirectoryStore,
    /** Called after every change, so other processes reload. */
    private readonly changed: () => void = () => undefined,
    /** The house's day (tests move it). */
    readonly today: () => string = () => houseDay(),
    private readonly log?: Logger,
    /** Whether the house records the BSN of the persons of its cases (PERSON_BSN). */
    readonly recordsBsn = false,
    /** R-RETAIN: days a closed case is kept (RETENTION_DAYS). */
    readonly retentionDays = DEFAULT_RETENTION_DAYS,
  ) {}

  async load(): Promise<void> {
    const written: (() => void)[] = [];
    this.reading.add(written);
    try {
      this.loaded(
        await Promise.all([this.store.listOrgs(), this.store.listUsers(), this.store.listTables(), this.store.listMeetings(), this.store.listMeetingRooms()]),
        written,
      );
    } finally {
      this.reading.delete(written);
    }
  }

  /**
   * A reload may have read the store before a change written here meanwhile (a notice from another
   * process, the periodic catch-up): that change is applied again on top, or a meeting planned a
   * moment ago would be unknown to the next command.
   */
  private loaded(
    [orgs, users, tables, meetings, rooms]: [Organisation[], UserRecord[], Table[], Meeting[], MeetingRoom[]],
    written: readonly (() => void)[],
  ): void {
    this.orgs = new Map(orgs.map((o) => [o.id, o]));
    this.users = new Map(users.map((u) => [u.id, u]));
    this.byUsername = new Map(users.map((u) => [u.username, u]));
    this.tables = new Map(tables.map((t) => [t.id, t]));
    const before = this.meetings;
    this.meetings = new Map(meetings.map((m) => [m.id, m]));
    const changed = meetings.filter((m) => shownChange(before.get(m.id), m));
    const held = this.rooms;
    this.rooms = new Map(rooms.map((r) => [r.meetingId, newer(held.get(r.meetingId), r)]));
    for (const apply of written) apply();
    if (changed.length > 0) this.meetingsChanged(changed, true);
    this.tellListeners();
  }

  /** Hears of every load and every change written here: people, their organisations or rooms may differ. */
  onChanged(fn: () => void): void {
    this.changeListeners.add(fn);
  }

  /**
   * Hears of meetings changed in what their cases show (day, place, link, chair, closing): written
   * here, or found changed by a reload (another process wrote them; `reloaded`).
   */
  onMeetingsChanged(fn: (changed: Meeting[], reloaded: boolean) => void): void {
    this.meetingListeners.add(fn);
  }
  private meetingsChanged(changed: Meeting[], reloaded: boolean): void {
    for (const fn of this.meetingListeners) fn(changed, reloaded);
  }

  /** Sets a change written here in memory, now and after every reload that is reading meanwhile. */
  private apply(change: () => void): void {
    change();
    for (const written of this.reading) written.push(change);
  }

  /** After a change written here: this process's listeners, then the other processes. */
  private told(): void {
    this.tellListeners();
    this.changed();
  }

  /** A listener that fails must not keep the others, or the other processes, from hearing. */
  private tellListeners(): void {
    for (const fn of this.changeListeners) {
      try {
        fn();
      } catch (err) {
        this.log?.error({ err }, 'directory change listener failed');
      }
    }
  }

  org(id: OrgId): Organisation | undefined {
    return this.orgs.get(id);
  }
  user(id: UserId): User | undefined {
    return this.users.get(id);
  }
  userRecord(id: UserId): UserRecord | undefined {
    return this.users.get(id);
  }
  userByUsername(username: string): UserRecord | undefined {
    return this.byUsername.get(username);
  }
  table(id: TableId): Table | undefined {
    return this.tables.get(id);
  }
  allOrgs(): Organisation[] {
    return [...this.orgs.values()];
  }
  allUsers(): UserRecord[] {
    return [...this.users.values()];
  }
  allTables(): Table[] {
    return [...this.tables.values()];
  }
  meeting(id: MeetingId): Meeting | undefined {
    return this.meetings.get(id);
  }
  allMeetings(): Meeting[] {
    return [...this.meetings.values()];
  }
  /** Who is recorded in a meeting's room (R-ROOM). */
  room(id: MeetingId): readonly UserId[] {
    return this.rooms.get(id)?.userIds ?? [];
  }
  /** A person's display name; an unknown id (a removed account) shows neutrally. */
  readonly nameOf = (id: string): string => this.users.get(id as UserId)?.displayName ?? 'Onbekende gebruiker';

  async putOrg(org: Organisation): Promise<void> {
    await this.store.putOrg(org);
    this.apply(() => this.orgs.set(org.id, org));
    this.told();
  }
  async putUser(user: UserRecord): Promise<void> {
    await this.store.putUser(user);
    this.apply(() => {
      const previous = this.users.get(user.id);
      if (previous && previous.username !== user.username) this.byUsername.delete(previous.username);
      this.users.set(user.id, user);
      this.byUsername.set(user.username, user);
    });
    this.told();
  }
  async putTable(table: Table): Promise<void> {
    await this.store.putTable(table);
    this.apply(() => this.tables.set(table.id, table));
    this.changed();
  }
  /** False when the stored meeting was closed meanwhile (elsewhere): nothing is written, and it is read again. */
  async putMeeting(meeting: Meeting): Promise<boolean> {
    if (!(await this.store.putMeeting(meeting))) {
      await this.load();
      return false;
    }
    const before = this.meetings.get(meeting.id);
    // Closing is final: a reload that read it closed elsewhere after this write keeps it closed.
    this.apply(() => {
      if (meeting.closedAt !== null || (this.meetings.get(meeting.id)?.closedAt ?? null) === null) this.meetings.set(meeting.id, meeting);
    });
    if (shownChange(before, meeting)) this.meetingsChanged([meeting], false);
    this.changed();
    return true;
  }
  /** False when the meeting is unknown or closed (perhaps elsewhere): nothing is written, and it is read again. */
  async changeRoom(meetingId: MeetingId, change: RoomChange): Promise<boolean> {
    const room = await this.store.changeMeetingRoom(meetingId, change);
    if (!room) {
      await this.load();
      return false;
    }
    this.apply(() => this.rooms.set(meetingId, newer(this.rooms.get(meetingId), room)));
    this.told();
    return true;
  }
}

/**
 * What the cases on a meeting's agenda show of it (projectAgenda): a change of its times alone
 * is not re-sent, since it would tell partners of an edit that shows them nothing.
 */
function shownChange(before: Meeting | undefined, after: Meeting): boolean {
  return (
    before === undefined ||
    before.date !== after.date ||
    before.place !== after.place ||
    before.onlineUrl !== after.onlineUrl ||
    before.chairUserId !== after.chairUserId ||
    before.closedAt !== after.closedAt
  );
}

/** Of two states of one room, the later. */
const newer = (held: MeetingRoom | undefined, read: MeetingRoom): MeetingRoom => (held && held.version > read.version ? held : read);

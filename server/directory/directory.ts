import type { Meeting, Organisation, Table, User } from '../../shared/domain.js';
import type { MeetingId, OrgId, TableId, UserId } from '../../shared/ids.js';
import type { DirectoryLookup } from '../../shared/rules/commands.js';
import { houseDay } from '../meetings/day.js';
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
  private readonly meetingListeners = new Set<(changed: Meeting[], reloaded: boolean) => void>();

  constructor(
    private readonly store: DirectoryStore,
    /** Called after every change, so other processes reload. */
    private readonly changed: () => void = () => undefined,
    /** The house's day (tests move it). */
    readonly today: () => string = () => houseDay(),
  ) {}

  async load(): Promise<void> {
    const [orgs, users, tables, meetings] = await Promise.all([
      this.store.listOrgs(),
      this.store.listUsers(),
      this.store.listTables(),
      this.store.listMeetings(),
    ]);
    this.orgs = new Map(orgs.map((o) => [o.id, o]));
    this.users = new Map(users.map((u) => [u.id, u]));
    this.byUsername = new Map(users.map((u) => [u.username, u]));
    this.tables = new Map(tables.map((t) => [t.id, t]));
    const before = this.meetings;
    this.meetings = new Map(meetings.map((m) => [m.id, m]));
    const changed = meetings.filter((m) => shownChange(before.get(m.id), m));
    if (changed.length > 0) this.meetingsChanged(changed, true);
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
  /** A person's display name; an unknown id (a removed account) shows neutrally. */
  readonly nameOf = (id: string): string => this.users.get(id as UserId)?.displayName ?? 'Onbekende gebruiker';

  async putOrg(org: Organisation): Promise<void> {
    await this.store.putOrg(org);
    this.orgs.set(org.id, org);
    this.changed();
  }
  async putUser(user: UserRecord): Promise<void> {
    const previous = this.users.get(user.id);
    if (previous && previous.username !== user.username) this.byUsername.delete(previous.username);
    await this.store.putUser(user);
    this.users.set(user.id, user);
    this.byUsername.set(user.username, user);
    this.changed();
  }
  async putTable(table: Table): Promise<void> {
    await this.store.putTable(table);
    this.tables.set(table.id, table);
    this.changed();
  }
  /** False when the stored meeting was closed meanwhile (elsewhere): nothing is written, and it is read again. */
  async putMeeting(meeting: Meeting): Promise<boolean> {
    if (!(await this.store.putMeeting(meeting))) {
      await this.load();
      return false;
    }
    const before = this.meetings.get(meeting.id);
    this.meetings.set(meeting.id, meeting);
    if (shownChange(before, meeting)) this.meetingsChanged([meeting], false);
    this.changed();
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

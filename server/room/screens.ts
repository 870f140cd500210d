import type { Namespace, Server, Socket } from 'socket.io';
import type { Meeting, Viewer } from '../../shared/domain.js';
import type { CaseId, MeetingId, OrgId, UserId } from '../../shared/ids.js';
import { PROTOCOL_VERSION, ROOM_NAMESPACE, type RoomServerToClientEvents, type RoomView } from '../../shared/protocol.js';
import { meetingsOf, projectRoom, type RoomLookup } from '../../shared/rules/room.js';
import { accessRecord, type AccessLog, type Actor } from '../audit/accessLog.js';
import type { CaseService } from '../cases/service.js';
import type { Directory } from '../directory/directory.js';
import { clientAddress } from '../http/request.js';
import { HandshakeError } from '../realtime/handshakeError.js';
import type { Logger } from '../log.js';
import type { AccessRecord } from '../store/types.js';
import type { RoomTokens } from './tokens.js';

interface ScreenData {
  meetingId: MeetingId;
  issuerUserId: UserId;
  expiresAt: number;
  address: string;
}

type RoomNamespace = Namespace<Record<string, never>, RoomServerToClientEvents, Record<string, never>, ScreenData>;
type ScreenSocket = Socket<Record<string, never>, RoomServerToClientEvents, Record<string, never>, ScreenData>;

export interface RoomScreenDeps {
  dir: Directory;
  cases: CaseService;
  access: AccessLog;
  tokens: RoomTokens;
  log: Logger;
  trustProxy: number;
  now?: () => number;
}

/**
 * Screens one meeting may have open on one process: a room has one or two. A leaked link cannot
 * open thousands, each a read record per case and item at every change.
 */
export const MAX_SCREENS_PER_MEETING = 8;

/** How often screens are checked for a grant that expired or a meeting whose day has passed. */
const EXPIRY_CHECK_MS = 60_000;

const roomOf = (id: MeetingId): string => `zaal:${id}`;

/**
 * Room screens (zaalscherm, R-ROOM): read-only sockets of one meeting each, opened by a device
 * link and never by a user's session. Each is sent the whole room view again whenever what it
 * shows may have changed: a commit of a case on the meeting's agenda (in the case's log order,
 * from the commit listener), the room's people or the meeting itself (as the directory hears of
 * it). A change that narrows the view is sent before the request that recorded it is answered.
 */
export class RoomScreens {
  private readonly ns: RoomNamespace;
  /** What each socket was last sent, so an unchanged view is neither sent again nor logged. */
  private readonly sent = new WeakMap<ScreenSocket, string>();
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(
    io: Server,
    private readonly d: RoomScreenDeps,
  ) {
    this.now = d.now ?? Date.now;
    this.ns = io.of(ROOM_NAMESPACE) as unknown as RoomNamespace;
    this.ns.use((socket, next) => this.handshake(socket, next));
    this.ns.on('connection', (socket) => this.connected(socket));
    d.cases.onCommitted(({ before, after }) => {
      for (const id of meetingsOf(before, after)) this.refresh(id);
    });
    d.dir.onMeetingsChanged((changed) => {
      for (const m of changed) this.refresh(m.id);
    });
    d.dir.onChanged(() => this.refreshAll());
    this.timer = setInterval(() => this.refreshAll(), EXPIRY_CHECK_MS);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** The meeting a grant may still show: known, not closed, its day not past, its issuer still a chair. */
  private usable(data: Pick<ScreenData, 'meetingId' | 'issuerUserId' | 'expiresAt'>): Meeting | undefined {
    const m = this.d.dir.meeting(data.meetingId);
    const issuer = this.d.dir.user(data.issuerUserId);
    if (!m || m.closedAt !== null || m.date < this.d.dir.today() || data.expiresAt <= this.now()) return undefined;
    if (!issuer?.active || !issuer.roles.includes('chair')) return undefined;
    return m;
  }

  private handshake(socket: ScreenSocket, next: (err?: Error) => void): void {
    const auth = socket.handshake.auth as { protocolVersion?: unknown; token?: unknown } | undefined;
    if (auth?.protocolVersion !== PROTOCOL_VERSION) return next(new HandshakeError('PROTOCOL_OUTDATED'));
    const grant = this.d.tokens.verify(auth.token);
    if (!grant || !this.usable(grant)) return next(new HandshakeError('UNAUTHENTICATED'));
    // P-READLOG: a screen starts with a read, which needs its record.
    if (!this.d.access.writable) return next(new HandshakeError('UNAVAILABLE'));
    if (this.sockets(grant.meetingId).length >= MAX_SCREENS_PER_MEETING) return next(new HandshakeError('RATE_LIMITED'));
    socket.data = {
      ...grant,
      address: clientAddress(socket.request.headers, socket.request.socket.remoteAddress, this.d.trustProxy),
    };
    next();
  }

  private connected(socket: ScreenSocket): void {
    void socket.join(roomOf(socket.data.meetingId));
    // A screen only listens: anything it sends ends it.
    socket.onAny(() => socket.disconnect(true));
    this.refresh(socket.data.meetingId);
  }

  private refreshAll(): void {
    const ids = new Set<MeetingId>();
    for (const s of this.ns.sockets.values()) ids.add(s.data.meetingId);
    for (const id of ids) this.refresh(id);
  }

  private sockets(meetingId: MeetingId): ScreenSocket[] {
    const ids = this.ns.adapter.rooms.get(roomOf(meetingId));
    if (!ids) return [];
    return [...ids].flatMap((id) => {
      const s = this.ns.sockets.get(id);
      return s ? [s] : [];
    });
  }

  private readonly look: RoomLookup = {
    viewerOf: (userId: UserId): Viewer | undefined => {
      const u = this.d.dir.user(userId);
      return u?.active ? { userId: u.id, orgId: u.orgId, roles: u.roles } : undefined;
    },
    nameOf: (id: string) => this.d.dir.nameOf(id),
    orgName: (id: OrgId) => this.d.dir.org(id)?.shortName ?? 'Onbekende organisatie',
  };

  /** Sends each screen of a meeting what it shows now, when that changed; ends the screens whose grant no longer holds. */
  refresh(meetingId: MeetingId): void {
    const screens = this.sockets(meetingId);
    if (screens.length === 0) return;
    const m = this.d.dir.meeting(meetingId);
    let view: RoomView | null = null;
    let json = '';
    for (const s of screens) {
      if (!m || !this.usable(s.data)) {
        // Its last view says why (closed), when there is a meeting to say it of.
        if (m) this.send(s, projectRoom(m, [], [], this.look), null);
        s.disconnect(true);
        continue;
      }
      if (!view) {
        const cases = [...this.d.cases.all()].filter((c) => c.agenda.some((a) => a.meetingId === meetingId));
        view = projectRoom(m, this.d.dir.room(meetingId), cases, this.look);
        json = JSON.stringify(view);
      }
      if (this.sent.get(s) === json) continue;
      // P-READLOG: not shown without its record; the screen connects again once the log works.
      if (!this.d.access.writable) {
        s.disconnect(true);
        continue;
      }
      this.send(s, view, json);
    }
  }

  private send(s: ScreenSocket, view: RoomView, json: string | null): void {
    const issuer = this.look.viewerOf(s.data.issuerUserId);
    if (issuer) this.logReads({ viewer: issuer, address: s.data.address }, view);
    if (json !== null) this.sent.set(s, json);
    s.emit('room:view', view);
  }

  /** The read records of a room view, in the name of the chair who opened the screen. */
  private logReads(actor: Actor, view: RoomView): void {
    const at = new Date().toISOString();
    const records: AccessRecord[] = [];
    const shown = new Set<CaseId>(view.agenda.map((a) => a.caseId));
    for (const id of shown) {
      const c = this.d.cases.get(id);
      if (c) records.push(accessRecord(actor, c, { action: 'read', operation: 'room:view' }, at));
    }
    const current = view.current && this.d.cases.get(view.current.caseId);
    if (current && view.current)
      for (const i of view.current.items) records.push(accessRecord(actor, current, { action: 'read', operation: 'room:view', itemId: i.id }, at));
    if (records.length > 0) this.d.access.record(records);
  }
}

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { MeetingIdSchema, UserIdSchema, type MeetingId, type UserId } from '../../shared/ids.js';

/** How long a device link opens a room screen: an afternoon's meeting and some. */
export const ROOM_LINK_VALID_MS = 12 * 60 * 60 * 1000;

const Payload = z.object({ m: MeetingIdSchema, u: UserIdSchema, e: z.number().int(), n: z.string() }).strict();

export interface RoomGrant {
  meetingId: MeetingId;
  /** The chair who opened the screen: its reads are logged in that chair's name. */
  issuerUserId: UserId;
  expiresAt: number;
}

/**
 * Device links for room screens (R-ROOM): a signed grant to watch one meeting's room screen until
 * it expires. Nothing is stored: the meeting's closing and the end of its day end every screen,
 * and a grant names the chair who is accountable for what the screen showed.
 */
export class RoomTokens {
  constructor(
    private readonly key: Buffer,
    private readonly now: () => number = Date.now,
  ) {}

  issue(meetingId: MeetingId, issuerUserId: UserId): string {
    const payload = Buffer.from(
      JSON.stringify({ m: meetingId, u: issuerUserId, e: this.now() + ROOM_LINK_VALID_MS, n: randomBytes(12).toString('base64url') }),
    );
    return `${payload.toString('base64url')}.${this.mac(payload).toString('base64url')}`;
  }

  /** The grant a token carries, when it is well-formed, signed here and not expired. */
  verify(token: unknown): RoomGrant | undefined {
    if (typeof token !== 'string' || token.length > 400) return undefined;
    const [body, mac, ...rest] = token.split('.');
    if (!body || !mac || rest.length > 0) return undefined;
    const payload = Buffer.from(body, 'base64url');
    const given = Buffer.from(mac, 'base64url');
    const expected = this.mac(payload);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let parsed: z.infer<typeof Payload>;
    try {
      parsed = Payload.parse(JSON.parse(payload.toString('utf8')));
    } catch {
      return undefined;
    }
    if (parsed.e <= this.now()) return undefined;
    return { meetingId: parsed.m, issuerUserId: parsed.u, expiresAt: parsed.e };
  }

  private mac(payload: Buffer): Buffer {
    return createHmac('sha256', this.key).update('room-screen\0').update(payload).digest();
  }
}

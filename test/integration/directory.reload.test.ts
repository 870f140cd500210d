import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MeetingId, UserId } from '../../shared/ids.js';
import { meeting } from '../support/fixtures.js';
import { Directory } from '../../server/directory/directory.js';
import { SqliteStore } from '../../server/store/sqlite.js';
import type { Store } from '../../server/store/types.js';
import { tempDir } from '../support/server.js';

// A directory reload (a notice from another process, a resync, the periodic catch-up) may read the
// store before a change written here finishes, and finish after it: it must not put back what it
// read. Otherwise a meeting planned a moment ago is unknown to the next command, and the room
// screen shows again what the one who entered may not see.

let store: SqliteStore;
beforeEach(() => {
  store = new SqliteStore(path.join(tempDir(), 'store.sqlite'));
});
afterEach(async () => {
  await store.close();
});

/**
 * The real store, with one list held back until released once `hold` is called: a reload slow to
 * finish, which read the store at once (or, `readLate`, only when released).
 */
function slowList(list: 'listMeetings' | 'listMeetingRooms', readLate = false): { store: Store; hold(): void; release(): void } {
  let holding = false;
  let release = (): void => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const slow = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === list)
        return async () => {
          if (readLate && holding) await held;
          const rows = await target[list]();
          if (holding) await held;
          return rows;
        };
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as Store;
  return { store: slow, hold: () => (holding = true), release };
}

describe('P-CATCHUP: a directory reload never undoes a change written here', () => {
  it('P-CATCHUP: a reload that read the meetings before one was planned here does not lose it', async () => {
    const slow = slowList('listMeetings');
    const dir = new Directory(slow.store);
    await dir.load();
    slow.hold();
    const reload = dir.load();
    const planned = meeting('mt_nieuw');
    expect(await dir.putMeeting(planned)).toBe(true);
    expect(dir.meeting(planned.id)).toEqual(planned);
    slow.release();
    await reload;
    expect(dir.meeting(planned.id)).toEqual(planned);
    // A later reload that saw it changed elsewhere takes the store's: the replay was that reload's alone.
    await store.putMeeting({ ...planned, place: 'Zaal 2' });
    await dir.load();
    expect(dir.meeting('mt_nieuw' as MeetingId)?.place).toBe('Zaal 2');
  });

  it('P-CATCHUP: a meeting closed elsewhere stays closed after a reload that replays an earlier change made here', async () => {
    const planned = meeting('mt_sluit');
    await store.putMeeting(planned);
    const slow = slowList('listMeetings', true);
    const dir = new Directory(slow.store);
    await dir.load();
    slow.hold();
    const reload = dir.load();
    expect(await dir.putMeeting({ ...planned, place: 'Zaal 3' })).toBe(true);
    // Another process closes it; the reload reads it closed, after the change made here.
    await store.putMeeting({ ...planned, place: 'Zaal 3', closedAt: '2026-12-07T16:00:00.000Z' });
    slow.release();
    await reload;
    expect(dir.meeting(planned.id)?.closedAt).toBe('2026-12-07T16:00:00.000Z');
  });

  it('R-ROOM: a reload that read the room before an entry does not undo it', async () => {
    const m = meeting('mt_zaal');
    await store.putMeeting(m);
    const slow = slowList('listMeetingRooms');
    const dir = new Directory(slow.store);
    await dir.load();
    expect(await dir.changeRoom(m.id, { enter: ['usr_politie' as UserId], leave: [] })).toBe(true);
    slow.hold();
    // Reads the room with the police alone, and finishes only after the GGZ entered.
    const reload = dir.load();
    expect(await dir.changeRoom(m.id, { enter: ['usr_ggz' as UserId], leave: [] })).toBe(true);
    expect([...dir.room(m.id)].sort()).toEqual(['usr_ggz', 'usr_politie']);
    slow.release();
    await reload;
    expect([...dir.room(m.id)].sort()).toEqual(['usr_ggz', 'usr_politie']);
  });
});

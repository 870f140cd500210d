import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { UserId } from '../../shared/ids.js';
import { meeting } from '../support/fixtures.js';
import { Directory } from '../../server/directory/directory.js';
import { SqliteStore } from '../../server/store/sqlite.js';
import type { Store } from '../../server/store/types.js';
import { tempDir } from '../support/server.js';

// R-ROOM: a directory reload that read a meeting's room before a change made here finished (a
// notice from another process, the periodic catch-up) must not put back the older room: the room
// screen would show again what the one who entered may not see.
describe('R-ROOM: who is in the room never goes back to an older list', () => {
  it('R-ROOM: a reload that read the room before an entry does not undo it', async () => {
    const store = new SqliteStore(path.join(tempDir(), 'store.sqlite'));
    try {
      const m = meeting('mt_zaal');
      await store.putMeeting(m);
      // The real store, its room list held back until released: a reload that is slow to finish.
      let hold = false;
      let release = (): void => undefined;
      const held = new Promise<void>((resolve) => (release = resolve));
      const slow = new Proxy(store, {
        get(target, prop, receiver) {
          if (prop === 'listMeetingRooms')
            return async () => {
              const rows = await target.listMeetingRooms();
              if (hold) await held;
              return rows;
            };
          const v: unknown = Reflect.get(target, prop, receiver);
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      }) as Store;
      const dir = new Directory(slow);
      await dir.load();
      expect(await dir.changeRoom(m.id, { enter: ['usr_politie' as UserId], leave: [] })).toBe(true);
      hold = true;
      // Reads the room with the police alone, and finishes only after the GGZ entered.
      const reload = dir.load();
      expect(await dir.changeRoom(m.id, { enter: ['usr_ggz' as UserId], leave: [] })).toBe(true);
      expect([...dir.room(m.id)].sort()).toEqual(['usr_ggz', 'usr_politie']);
      release();
      await reload;
      expect([...dir.room(m.id)].sort()).toEqual(['usr_ggz', 'usr_politie']);
    } finally {
      await store.close();
    }
  });
});

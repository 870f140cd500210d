import type { CaseId, UserId } from '../../shared/ids.js';
import type { PresenceEntry } from '../../shared/protocol.js';

/** Who has which board open on this process, per socket so several tabs count once. */
export class PresenceTable {
  private readonly byCase = new Map<CaseId, Map<string, PresenceEntry>>();

  join(caseId: CaseId, socketId: string, entry: PresenceEntry): void {
    let m = this.byCase.get(caseId);
    if (!m) this.byCase.set(caseId, (m = new Map()));
    m.set(socketId, entry);
  }

  /** Returns true when the socket was present. */
  leave(caseId: CaseId, socketId: string): boolean {
    const m = this.byCase.get(caseId);
    if (!m?.delete(socketId)) return false;
    if (m.size === 0) this.byCase.delete(caseId);
    return true;
  }

  /** One entry per user, filtered by the caller's rule for who may appear. */
  entries(caseId: CaseId, mayAppear: (userId: UserId) => boolean): PresenceEntry[] {
    const seen = new Map<UserId, PresenceEntry>();
    for (const e of this.byCase.get(caseId)?.values() ?? []) {
      if (!seen.has(e.userId) && mayAppear(e.userId)) seen.set(e.userId, e);
    }
    return [...seen.values()];
  }
}

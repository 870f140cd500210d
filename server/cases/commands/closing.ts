import { addDays } from '../../../shared/day.js';
import { appError } from '../../../shared/errors.js';
import { bad, chairOnly, defineCommand } from './define.js';

// R-RETAIN: the chair closes a case with a decision; partners keep only their own contributions,
// take-home grants end, and the case is purged once its retention term has passed. A term is
// extended only with a recorded reason (by the chair here; by the privacy officer over HTTP).

export const closingCommands = {
  'case:close': defineCommand('case:close', {
    names: ['caseId'],
    action: 'update',
    authorize({ closedOn }, c, viewer, dir) {
      const err = chairOnly(c, viewer);
      if (err) return err;
      if (c.closure) return appError('CONFLICT', 'Deze casus is al gesloten.');
      if (c.agenda.some((a) => a.state === 'running')) return bad('Rond eerst de bespreking af.');
      if (c.agenda.some((a) => a.state === 'planned')) return bad('Haal de casus eerst van de agenda van komende overleggen.');
      if (closedOn > dir.today()) return bad('De datum van afsluiten ligt in de toekomst.');
      if (closedOn < c.createdAt.slice(0, 10)) return bad('De datum van afsluiten ligt voor het aanmaken van de casus.');
      // A closing dated so far back that its term has passed would purge the case at once, before anyone could extend it.
      if (addDays(closedOn, dir.retentionDays) <= dir.today())
        return bad('Met deze datum van afsluiten is de bewaartermijn al verstreken: kies een latere datum.');
      return null;
    },
    decide: ({ decision, closedOn }, _c, _viewer, _now, dir) => ({
      events: [{ type: 'case.closed', payload: { decision, closedOn, retainUntil: addDays(closedOn, dir.retentionDays) } }],
      data: null,
    }),
  }),

  'case:extendRetention': defineCommand('case:extendRetention', {
    names: ['caseId'],
    action: 'update',
    authorize({ until }, c, viewer) {
      const err = chairOnly(c, viewer);
      if (err) return err;
      return retentionExtensionError(c.closure, until);
    },
    decide: ({ until, reason }) => ({ events: [{ type: 'case.retentionExtended', payload: { until, reason } }], data: null }),
  }),
};

/** An extension moves the purge day later, never earlier, and only of a closed case. */
export function retentionExtensionError(closure: { retainUntil: string } | null, until: string): ReturnType<typeof bad> | null {
  if (!closure) return bad('Alleen een gesloten casus heeft een bewaartermijn.');
  return until > closure.retainUntil ? null : bad('De nieuwe datum ligt niet na de huidige bewaartermijn.');
}

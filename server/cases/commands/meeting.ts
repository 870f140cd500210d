import type { CaseState, Viewer } from '../../../shared/domain.js';
import type { AppError } from '../../../shared/errors.js';
import { bad, chairOnly, defineCommand } from './define.js';

// The meeting: while it is closed every organisation sees only its own items and what it may
// take home (R-TAKEHOME).

function toggle(open: boolean, c: CaseState, viewer: Viewer): AppError | null {
  const err = chairOnly(c, viewer);
  if (err) return err;
  return c.meetingOpen === open ? bad(open ? 'Het overleg is al open.' : 'Het overleg is al gesloten.') : null;
}

export const meetingCommands = {
  'meeting:open': defineCommand('meeting:open', {
    names: ['caseId'],
    action: 'update',
    authorize: (_input, c, viewer) => toggle(true, c, viewer),
    decide: () => ({ events: [{ type: 'meeting.opened', payload: {} }], data: null }),
  }),

  'meeting:close': defineCommand('meeting:close', {
    names: ['caseId'],
    action: 'update',
    authorize: (_input, c, viewer) => toggle(false, c, viewer),
    decide: () => ({ events: [{ type: 'meeting.closed', payload: {} }], data: null }),
  }),
};

import { defineRead } from './define.js';

// The reads: what they send, and when, is the socket layer's (server/realtime/boards.ts), which
// judges an open or a print by the read rule itself, after catching up.

export const openCommands = {
  'case:open': defineRead('case:open', { names: ['caseId'], action: 'read' }),
  'case:leave': defineRead('case:leave', { names: ['caseId'], action: 'read' }),
  // Logged as an export of its own (R-FILE): what is printed leaves the board.
  'case:print': defineRead('case:print', { names: ['caseId'], action: 'export' }),
};

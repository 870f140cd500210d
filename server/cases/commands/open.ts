import { defineRead } from './define.js';

// The reads: what they send, and when, is the socket layer's (server/realtime/socket.ts), which
// judges an open by the read rule itself, after catching up.

export const openCommands = {
  'case:open': defineRead('case:open', { names: ['caseId'], action: 'read' }),
  'case:leave': defineRead('case:leave', { names: ['caseId'], action: 'read' }),
};

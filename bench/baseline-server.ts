import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';

/**
 * The baseline: a plain Socket.IO room broadcast of the same payloads, with no authorisation, no
 * projection and no persistence. What Casusbord costs is measured against this, in the same run.
 * A board is a room; `item:add` is answered and its item broadcast, once, to everyone in the room,
 * in the shape Casusbord sends (`case:patch` with one `item` op), so the bytes on the wire match.
 */
interface ItemAdd {
  caseId: string;
  phase: string;
  text: string;
  visibility: unknown;
}

/** Commands come as Casusbord takes them: `{ commandId, input }`. */
interface Envelope<T> {
  commandId: string;
  input: T;
}

const server = http.createServer();
const io = new Server(server, { transports: ['websocket'], serveClient: false });
let seq = 0;
io.on('connection', (socket) => {
  socket.emit('cases:snapshot', []);
  socket.on('case:open', ({ input }: Envelope<{ caseId: string }>, ack: (r: unknown) => void) => {
    void socket.join(input.caseId);
    ack({ ok: true, data: { view: { cursor: '', meta: { id: input.caseId }, items: [] } } });
  });
  socket.on('case:leave', ({ input }: Envelope<{ caseId: string }>, ack: (r: unknown) => void) => {
    void socket.leave(input.caseId);
    ack({ ok: true, data: null });
  });
  socket.on('item:add', ({ input }: Envelope<ItemAdd>, ack: (r: unknown) => void) => {
    const id = `it_${(seq++).toString(36)}`;
    const at = new Date().toISOString();
    ack({ ok: true, data: { itemId: id } });
    const item = {
      id,
      orgId: 'org_politie',
      authorName: 'Jan Dijkstra',
      phase: input.phase,
      text: input.text,
      visibility: input.visibility,
      goalVersion: 1,
      textDocId: `doc_${id}`,
      createdAt: at,
      updatedAt: at,
      mine: false,
    };
    io.to(input.caseId).emit('case:patch', { caseId: input.caseId, cursor: randomBytes(24).toString('base64url'), ops: [{ op: 'item', item }] });
  });
});
// PORT: the same port again when the bench restarts it (the reconnect storm).
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => void io.close(() => process.exit(0)));

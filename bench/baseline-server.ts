import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';

/**
 * The baseline: a plain Socket.IO room broadcast of the same payloads, with no authorisation, no
 * projection and no persistence. What Casusbord costs is measured against this, in the same run.
 */
const server = http.createServer();
const io = new Server(server, { transports: ['websocket'], serveClient: false });
io.on('connection', (socket) => {
  void socket.join('case');
  socket.on('item:add', (input: unknown, ack: (r: unknown) => void) => {
    ack({ ok: true, data: null });
    io.to('case').emit('case:patch', { ops: [{ op: 'item', item: input }] });
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => io.close(() => process.exit(0)));

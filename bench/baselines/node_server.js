// Baseline (b): a Node.js socket.io 4 server with the same events as the chat server.
//
// No auth, no database: what a user would pick instead. Same contract as
// bench/baselines/py_server.py (rooms from the handshake auth, send_message -> new_message
// to the room including the sender + ack, send_dm -> new_dm to both users, sync -> ack).
// socket.io's defaults are kept (perMessageDeflate is off by default in socket.io 4).
// With --redis URL, instances share rooms through @socket.io/redis-adapter (the bench's
// `cluster` scenario runs several behind HAProxy, as it does ours).
//
// Run: node bench/baselines/node_server.js --port 8102 [--redis redis://127.0.0.1:6379/15]
'use strict';

const http = require('http');
const crypto = require('crypto');
const { Server } = require('socket.io');

const argv = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : dflt;
};
const host = arg('--host', '127.0.0.1');
const port = parseInt(arg('--port', '8102'), 10);
const redisUrl = arg('--redis', null);

const server = http.createServer((req, res) => {
  if (req.url === '/health/live' || req.url === '/health/ready') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
    return;
  }
  res.writeHead(404);
  res.end();
});

const io = new Server(server, {
  cors: { origin: '*' },
  pingInterval: 25000,
  pingTimeout: 20000,
});

const seqs = new Map();
function message(socket, room, data) {
  const seq = (seqs.get(room) || 0) + 1;
  seqs.set(room, seq);
  return {
    id: crypto.randomUUID(),
    roomId: room,
    seq,
    userId: socket.data.user || socket.id,
    username: 'bench',
    content: data.content || '',
    messageType: 'text',
    clientMsgId: data.clientMsgId ?? null,
    createdAt: new Date().toISOString(),
  };
}

const chat = io.of('/chat');
chat.on('connection', (socket) => {
  const auth = socket.handshake.auth || {};
  const rooms = Array.isArray(auth.rooms) && auth.rooms.length ? auth.rooms.map(String) : ['r0'];
  if (auth.user) {
    socket.data.user = String(auth.user);
    rooms.push('user:' + socket.data.user);
  }
  socket.join(rooms);

  socket.on('send_message', (data, ack) => {
    const room = String(data.roomId);
    const msg = message(socket, room, data);
    chat.to(room).emit('new_message', { message: msg });
    if (typeof ack === 'function') ack({ ok: true, message: msg });
  });

  socket.on('send_dm', (data, ack) => {
    const to = String(data.recipientId);
    const msg = message(socket, 'dm', data);
    msg.senderId = socket.data.user || socket.id;
    msg.recipientId = to;
    chat.to(['user:' + to, 'user:' + msg.senderId]).emit('new_dm', { message: msg });
    if (typeof ack === 'function') ack({ ok: true, message: msg });
  });

  socket.on('sync', (data, ack) => {
    if (typeof ack === 'function') ack({ ok: true, rooms: {} });
  });
});

async function main() {
  if (redisUrl) {
    const { createClient } = require('redis');
    const { createAdapter } = require('@socket.io/redis-adapter');
    const pub = createClient({ url: redisUrl });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub));
  }
  server.listen(port, host, () => {
    console.log(`node socket.io baseline listening on http://${host}:${port}` +
      (redisUrl ? ` (redis adapter ${redisUrl})` : ''));
  });
}
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));

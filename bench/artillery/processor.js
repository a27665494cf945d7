// Artillery hooks for bench/artillery/fanout.yml: stamp each message with the send time
// (wall clock, ns) and record delivery latency at every receiver, as the lean generator does.
'use strict';

const { performance } = require('perf_hooks');

const nowNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));

// Paces the loop too: the socketio engine skips `think` steps inside a `loop`.
function stamp(context, events, done) {
  const wait = Number(context.vars.thinkMs || 0);
  setTimeout(() => {
    context.vars.content = `bench a ${nowNs()} ${context.vars.uid}`;
    done();
  }, wait);
}

function listen(context, events, done) {
  const socket = context.sockets && context.sockets['/chat'];
  if (!socket) return done(new Error('no /chat socket'));
  socket.on('new_message', (payload) => {
    const content = payload && payload.message && payload.message.content;
    if (typeof content !== 'string' || !content.startsWith('bench ')) return;
    const sent = BigInt(content.split(' ')[2]);
    const ms = Number(nowNs() - sent) / 1e6;
    events.emit('histogram', 'delivery_latency', ms);
    events.emit('counter', 'deliveries', 1);
  });
  return done();
}

module.exports = { stamp, listen };

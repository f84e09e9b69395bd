// One host of many behind HAProxy (balance source, send-proxy-v2): sticky-native
// keeps each client on one worker of this host, @socket.io/redis-adapter carries
// broadcasts to the workers of every host. CommonJS, no top-level await.
const cluster = require('node:cluster');
const http = require('node:http');
const { Server } = require('socket.io');
const { createAdapter } = require('@socket.io/redis-adapter');
const { createClient } = require('redis');
const { createBalancer, serve } = require('sticky-native');

const PORT = Number(process.env.PORT || 3000);
const HAPROXY = process.env.HAPROXY || '10.0.0.5'; // the only peer allowed to send a PROXY header
const REDIS_URL = process.env.REDIS_URL || 'redis://10.0.0.9:6379';

if (cluster.isPrimary) {
  createBalancer({ routing: 'proxy-protocol', trustedProxies: [HAPROXY] })
    .listen(PORT)
    .then(({ port }) => console.log(`listening on port ${port}`));
} else {
  const worker = Number(process.env.STICKY_WORKER_INDEX);
  const pub = createClient({ url: REDIS_URL });
  const sub = pub.duplicate();
  pub.on('error', (err) => console.error(`redis: ${err.message}`));
  sub.on('error', (err) => console.error(`redis: ${err.message}`));
  Promise.all([pub.connect(), sub.connect()]).then(() => {
    const httpServer = http.createServer();
    const io = new Server(httpServer, { adapter: createAdapter(pub, sub) });
    io.on('connection', (socket) => {
      // handshake.address: the client's own address, from the PROXY header
      socket.emit('hello', { worker, pid: process.pid, address: socket.handshake.address });
      socket.on('say', (text) => io.emit('said', { worker, text })); // every worker of every host
      socket.on('count', async (ack) => ack((await io.fetchSockets()).length));
    });
    serve(httpServer); // this worker takes connections once its adapter is connected
  });
}

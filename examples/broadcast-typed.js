// Broadcasts across workers, typed API: @socket.io/cluster-adapter carries
// io.emit() and io.fetchSockets() to every worker through the primary.
const cluster = require('node:cluster');
const http = require('node:http');
const { Server } = require('socket.io');
const { createAdapter, setupPrimary } = require('@socket.io/cluster-adapter');
const { createBalancer, serve } = require('sticky-native');

const PORT = Number(process.env.PORT || 3000);

if (cluster.isPrimary) {
  setupPrimary(); // relays the adapters' messages between the workers
  createBalancer({ workers: 4 })
    .listen(PORT, '127.0.0.1')
    .then(({ port }) => console.log(`listening on port ${port}`));
} else {
  const worker = Number(process.env.STICKY_WORKER_INDEX);
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter: createAdapter() });
  io.on('connection', (socket) => {
    socket.emit('hello', { worker, pid: process.pid });
    socket.on('say', (text) => io.emit('said', { worker, text })); // to the clients of every worker
    socket.on('count', async (ack) => ack((await io.fetchSockets()).length)); // sockets of every worker
  });
  serve(httpServer);
}

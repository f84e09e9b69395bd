// Broadcasts across workers, the seed's API: setupPrimary() in the primary,
// the cluster adapter on the Socket.IO server the factory builds in each worker.
const cluster = require('node:cluster');
const http = require('node:http');
const { Server } = require('socket.io');
const { createAdapter, setupPrimary } = require('@socket.io/cluster-adapter');
const sticky = require('sticky-native');

const PORT = Number(process.env.PORT || 3000);

if (cluster.isPrimary) setupPrimary();

sticky({ num: 4 }, () => {
  // runs in the workers only
  const worker = Number(process.env.STICKY_WORKER_INDEX);
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter: createAdapter() });
  io.on('connection', (socket) => {
    socket.emit('hello', { worker, pid: process.pid });
    socket.on('say', (text) => io.emit('said', { worker, text }));
    socket.on('count', async (ack) => ack((await io.fetchSockets()).length));
  });
  return httpServer;
}).listen(PORT, () => {
  if (cluster.isPrimary) console.log(`listening on port ${PORT}`);
});

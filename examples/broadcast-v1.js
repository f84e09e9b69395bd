// Broadcasts across workers, the sticky-session 1.x API: setupPrimary() where
// listen() is false (the primary), the cluster adapter where it is true.
const http = require('node:http');
const { Server } = require('socket.io');
const { createAdapter, setupPrimary } = require('@socket.io/cluster-adapter');
const sticky = require('sticky-native');

const PORT = Number(process.env.PORT || 3000);
const httpServer = http.createServer();

if (!sticky.listen(httpServer, PORT, { workers: 4 })) {
  setupPrimary();
  httpServer.once('listening', () => console.log(`listening on port ${PORT}`));
} else {
  const worker = Number(process.env.STICKY_WORKER_INDEX);
  const io = new Server(httpServer, { adapter: createAdapter() });
  io.on('connection', (socket) => {
    socket.emit('hello', { worker, pid: process.pid });
    socket.on('say', (text) => io.emit('said', { worker, text }));
    socket.on('count', async (ack) => ack((await io.fetchSockets()).length));
  });
}

'use strict';
// Shared by the bench apps: the one app every contender serves, and the
// port/host every app binds (loopback only).

/** The port the runner chose; apps bind 127.0.0.1 only. */
const port = Number(process.env.BENCH_PORT);
const host = '127.0.0.1';
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  throw new Error('bench app: BENCH_PORT must be a port number');
}

/** Every worker answers "w=<its index>" so the load generator can count stickiness. */
function handler(index) {
  const body = `w=${index}`;
  return (req, res) => {
    res.setHeader('Content-Type', 'text/plain');
    res.end(body);
  };
}

/**
 * The HTTP server of worker `index`; with BENCH_APP=socketio also a Socket.IO
 * server on it (default transports) whose sockets answer each 'echo' event
 * with the same event and data (bench/sioload.c drives it).
 */
function appServer(index) {
  const http = require('node:http');
  const server = http.createServer(handler(index));
  if (process.env.BENCH_APP !== 'socketio') return { server, io: null };
  const { Server } = require('socket.io');
  const io = new Server(server);
  io.on('connection', (socket) => {
    socket.on('echo', (data) => socket.emit('echo', data));
  });
  return { server, io };
}

/** Exits when the runner says so; the runner SIGKILLs whatever is left after a grace period. */
function exitOn(signal, cleanup) {
  process.once(signal, () => {
    Promise.resolve()
      .then(cleanup)
      .catch(() => {})
      .finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 1500).unref();
  });
}

module.exports = { port, host, handler, appServer, exitOn };

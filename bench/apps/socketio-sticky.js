'use strict';
// @socket.io/sticky 2.0.1 as its README shows: the primary's http.Server reads each
// request, routes by the Engine.IO `sid` query parameter and hands the socket and
// the first chunk to a worker; setupWorker(io) re-injects them. These requests
// carry no sid, so every one is routed by loadBalancingMethod (BENCH_SIO_METHOD,
// default its own default, 'least-connection', which counts Socket.IO sessions:
// with none open it always picks the first worker). With BENCH_APP=socketio the
// workers' Socket.IO servers answer 'echo' (bench/apps/common.js).
const cluster = require('node:cluster');
const http = require('node:http');
const { setupMaster, setupWorker } = require('@socket.io/sticky');
const { port, host, appServer, exitOn } = require('./common');

if (cluster.isPrimary) {
  const httpServer = http.createServer();
  setupMaster(httpServer, { loadBalancingMethod: process.env.BENCH_SIO_METHOD || 'least-connection' });
  cluster.setupPrimary({ serialization: 'advanced' });
  for (let i = 0; i < 2; i++) cluster.fork({ BENCH_INDEX: String(i) });
  httpServer.listen(port, host);
  exitOn('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
    httpServer.close();
  });
} else {
  let { server: httpServer, io } = appServer(Number(process.env.BENCH_INDEX));
  if (!io) {
    // setupWorker needs a Socket.IO server even for plain requests.
    const { Server } = require('socket.io');
    io = new Server(httpServer);
  }
  setupWorker(io);
}

'use strict';
// Baseline (a): the two cluster workers of kernel steering, each listening on
// its own member of an SO_REUSEPORT group, with no BPF program and no
// sticky-native: the kernel spreads connections by a hash of the 4-tuple (not
// sticky). bench/reuseport.c binds the group and runs this app with the
// members as descriptors 3 and 4; the primary hands member i to worker i, as
// sticky-native's kernel transport does, and keeps its own copies open.
const cluster = require('node:cluster');
const net = require('node:net');
const { appServer, exitOn } = require('./common');

const WORKERS = 2;
if (cluster.isPrimary) {
  for (let i = 0; i < WORKERS; i++) {
    cluster.setupPrimary({ stdio: ['ignore', 'inherit', 'inherit', 'ipc', 3 + i] });
    cluster.fork({ BENCH_INDEX: String(i) });
  }
  exitOn('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
  });
} else {
  const { server } = appServer(Number(process.env.BENCH_INDEX));
  // A socket on a TCP handle: listen() in a cluster worker takes it without asking the primary.
  server.listen(new net.Socket({ fd: 4, readable: false, writable: false }));
}

'use strict';
// Baseline (a): the two cluster workers of kernel steering, each listening on
// its own member of an SO_REUSEPORT group, with no sticky-native in the
// workers. The primary hands member i to worker i, as sticky-native's kernel
// transport does, and keeps its own copies open.
//   default: no BPF program: the kernel spreads connections by its hash of
//     the 4-tuple (not sticky). bench/reuseport.c binds the group and runs this
//     app with the members as descriptors 3 and 4.
//   BENCH_GROUP=bpf: the group is sticky-native's own (the addon's
//     steering.createGroup, with its BPF program), so the row tells the
//     kernel's share of kernel steering from the workers' share.
const cluster = require('node:cluster');
const crypto = require('node:crypto');
const net = require('node:net');
const path = require('node:path');
const { port, host, appServer, exitOn } = require('./common');

const WORKERS = 2;
if (cluster.isPrimary) {
  let fds = [3, 4];
  if (process.env.BENCH_GROUP === 'bpf') {
    const { primitives } = require(path.join(__dirname, '..', '..', 'dist', 'binding.js'));
    if (!primitives.steering) throw new Error('BENCH_GROUP=bpf needs the addon with kernel steering');
    fds = primitives.steering.createGroup(host, port, WORKERS, crypto.randomBytes(16)).fds;
  }
  for (let i = 0; i < WORKERS; i++) {
    cluster.setupPrimary({ stdio: ['ignore', 'inherit', 'inherit', 'ipc', fds[i]] });
    cluster.fork({ BENCH_INDEX: String(i) });
  }
  exitOn('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
  });
} else {
  const { server } = appServer(Number(process.env.BENCH_INDEX));
  // A socket on a TCP handle: listen() in a cluster worker takes it without asking the primary.
  server.listen(new net.Socket({ fd: 4, readable: false, writable: false }));
  exitOn('SIGTERM', () => server.close());
}

'use strict';
// Plain node:cluster, round-robin (the default on Linux, set explicitly): not sticky.
const cluster = require('node:cluster');
const { port, host, appServer, exitOn } = require('./common');

cluster.schedulingPolicy = cluster.SCHED_RR;
if (cluster.isPrimary) {
  for (let i = 0; i < 2; i++) cluster.fork({ BENCH_INDEX: String(i) });
  exitOn('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
  });
} else {
  appServer(Number(process.env.BENCH_INDEX)).server.listen(port, host);
}

'use strict';
// sticky-session 1.1.2 as its README shows (sticky.listen(server, port, { workers })),
// except that the primary binds 127.0.0.1 only: sticky.listen() binds every
// interface, so the primary builds the same Master that listen() builds and
// gives it a host. The workers run sticky.listen() unchanged.
const cluster = require('node:cluster');
const http = require('node:http');
const sticky = require('sticky-session');
const { port, host, handler, exitOn } = require('./common');

if (cluster.isPrimary) {
  const master = new sticky.Master(2, {});
  master.listen(port, host);
  exitOn('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
  });
} else {
  // sticky-session forks in order, so cluster ids 1 and 2 are workers 0 and 1.
  const server = http.createServer(handler(cluster.worker.id - 1));
  sticky.listen(server, port, { workers: 2 });
}

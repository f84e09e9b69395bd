'use strict';
// socketio-sticky-session 0.4.3 (the seed's fork): ip mode, or proxy mode
// (route by X-Forwarded-For) when BENCH_PROXY=1.
const cluster = require('node:cluster');
const http = require('node:http');
const sticky = require('socketio-sticky-session');
const { port, host, handler, exitOn } = require('./common');

const options = { num: 2, proxy: process.env.BENCH_PROXY === '1', header: 'x-forwarded-for' };
const server = sticky(options, () => http.createServer(handler(cluster.worker.id - 1)));
// Primary: the net.Server it returns is bound here. Worker: the package has
// already hooked its messages; its patched listen() would bind an ephemeral
// port on every interface, so the worker does not call it (connections arrive
// over IPC either way).
if (cluster.isPrimary) {
  server.listen(port, host);
  exitOn('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
  });
}

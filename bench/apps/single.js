'use strict';
// One Node process, no balancer: the reference. Also the backend behind HAProxy
// and nginx (BENCH_INDEX says which one it is).
const http = require('node:http');
const { port, host, handler, exitOn } = require('./common');

const index = Number(process.env.BENCH_INDEX || 0);
const server = http.createServer(handler(index));
server.listen(port, host);
exitOn('SIGTERM', () => server.close());

'use strict';
// One Node process, no balancer: the reference. Also the backend behind HAProxy
// and nginx and baseline (b) (BENCH_INDEX says which one it is).
const { port, host, appServer, exitOn } = require('./common');

const { server } = appServer(Number(process.env.BENCH_INDEX || 0));
server.listen(port, host);
exitOn('SIGTERM', () => server.close());

'use strict';
// sticky-native's typed API: createBalancer({ workers: 2, routing, transport }).
// BENCH_ROUTING: 'ip' (default), 'header' (X-Forwarded-For) or 'sid' (Socket.IO
// session ids, with BENCH_APP=socketio).
// BENCH_TRANSPORT: 'kernel', 'channel', 'ipc' or unset (the default transport).
// STICKY_NATIVE=fallback runs the pure-TS core; the runner sets STICKY_NATIVE=native
// for the native rows so a missing addon is an error instead of a silent fallback.
const cluster = require('node:cluster');
const path = require('node:path');
const { port, host, appServer, exitOn } = require('./common');

const sticky = require(path.join(__dirname, '..', '..', 'dist', 'index.js'));

if (cluster.isPrimary) {
  const routing = process.env.BENCH_ROUTING || 'ip';
  const transport = process.env.BENCH_TRANSPORT || undefined;
  const wantCore = process.env.STICKY_NATIVE === 'fallback' ? 'fallback' : 'native';
  if (sticky.core !== wantCore) throw new Error(`sticky-native loaded the ${sticky.core} core, not ${wantCore}`);

  const options = { workers: 2, routing, header: 'X-Forwarded-For' };
  if (transport) options.transport = transport;
  const balancer = sticky.createBalancer(options);

  // A build that does not know `transport` ignores it and uses Node IPC; measuring
  // that under the name 'kernel' or 'channel' would be a lie, so refuse.
  if (transport) {
    const config = balancer.config || {};
    const stats = typeof balancer.stats === 'function' ? balancer.stats() : {};
    const seen = [config.transport, config.transport && config.transport.kind, stats.transport, stats.transport && stats.transport.kind];
    const known = seen.some((value) => typeof value === 'string');
    if (!seen.includes(transport) && (known || transport !== 'ipc')) {
      const actual = known ? seen.find((value) => typeof value === 'string') : 'not reported (option ignored, Node IPC in use)';
      throw new Error(`transport '${transport}' not in effect: balancer transport is ${actual}`);
    }
  }
  balancer.on('error', (error) => {
    console.error(error);
    process.exit(1);
  });
  balancer.listen(port, host).catch((error) => {
    console.error(error);
    process.exit(1);
  });
  exitOn('SIGTERM', () => balancer.close());
} else {
  const { server, io } = appServer(Number(process.env.STICKY_WORKER_INDEX));
  if (io && process.env.BENCH_ROUTING === 'sid') sticky.stickySessionIds(io);
  sticky.serve(server);
}

'use strict';
// The four workloads: what load each drives (generator, arguments, split over
// several generator processes), what one unit of work is, and how one trial's
// generator outputs become the row's figures.

/** 127.0.1.1 + n as text. */
function sourceBase(n) {
  const v = ((127 << 24) | (0 << 16) | (1 << 8) | 1) + n;
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

/** Generator i's share of `total` over `count` generators, and where its share starts. */
function share(total, count, i) {
  const base = Math.floor(total / count);
  const extra = total % count;
  return { n: base + (i < extra ? 1 : 0), offset: i * base + Math.min(i, extra) };
}

/** Source addresses and X-Forwarded-For values: disjoint ranges per generator, so identities add up. */
function identityArgs(o, g, header) {
  const sources = share(o.sources, o.generators, g);
  const xff = share(o.xff, o.generators, g);
  return [
    '--sources', String(Math.max(1, sources.n)),
    '--source-base', sourceBase(sources.offset),
    '--xff', String(header ? Math.max(1, xff.n) : 0),
    '--xff-offset', String(header ? xff.offset : 0),
  ];
}

const ms = (seconds) => String(Math.round(seconds * 1000));

const WORKLOADS = [
  {
    id: 'conn',
    title: 'Connection storm',
    what: (o) =>
      `bench/loadgen.c in ${o.generators} processes, ${o.concurrency} connections in flight in all, one \`GET /\` per connection ` +
      `(\`Connection: close\`), ${o.sources} source addresses from 127.0.1.1 (${o.xff} distinct \`X-Forwarded-For\` values in the header rows)`,
    unit: 'conn',
    rateUnit: 'conn/s',
    generator: 'loadgen',
    app: 'http',
    limit: 'reuseport',
    sticky: true,
    args: (o, g, port, startAt, header) => [
      '--port', String(port),
      '--concurrency', String(Math.max(1, share(o.concurrency, o.generators, g).n)),
      '--duration-ms', ms(o.seconds),
      '--start-at-ms', String(startAt),
      ...identityArgs(o, g, header),
      '--timeout-ms', '5000',
      '--max-ms', ms(o.warmup + o.seconds + 10),
    ],
  },
  {
    id: 'keepalive',
    title: 'Keep-alive HTTP',
    what: (o) =>
      `bench/loadgen.c in ${o.generators} processes, ${o.kaConnections} keep-alive connections in flight in all, ${o.kaRequests} ` +
      `\`GET /\` one after the other on each (then a new connection), ${o.sources} source addresses`,
    unit: 'req',
    rateUnit: 'req/s',
    generator: 'loadgen',
    app: 'http',
    limit: 'reuseport',
    sticky: true,
    args: (o, g, port, startAt, header) => [
      '--port', String(port),
      '--concurrency', String(Math.max(1, share(o.kaConnections, o.generators, g).n)),
      '--requests', String(o.kaRequests),
      '--duration-ms', ms(o.seconds),
      '--start-at-ms', String(startAt),
      ...identityArgs(o, g, header),
      '--timeout-ms', '5000',
      '--max-ms', ms(o.warmup + o.seconds + 10),
    ],
  },
  {
    id: 'ws',
    title: 'Socket.IO over WebSocket',
    what: (o) =>
      `bench/sioload.c in ${o.generators} processes, ${o.wsClients} Socket.IO clients (WebSocket only, connected before the window), ` +
      `each sending \`42["echo","<32 bytes>"]\` and waiting for the server's echo, over and over`,
    unit: 'msg',
    rateUnit: 'msg/s',
    generator: 'sioload',
    app: 'socketio',
    // WebSocket-only needs no stickiness: plain cluster round-robin is the limit.
    limit: 'cluster-rr',
    args: (o, g, port, startAt, header) => [
      '--port', String(port),
      '--mode', 'ws',
      '--clients', String(Math.max(1, share(o.wsClients, o.generators, g).n)),
      '--duration-ms', ms(o.seconds),
      '--start-at-ms', String(startAt),
      ...identityArgs(o, g, header),
      '--timeout-ms', '5000',
      '--max-ms', ms(o.warmup + o.seconds + 10),
    ],
  },
  {
    id: 'storm',
    title: 'Socket.IO reconnect storm',
    what: (o) =>
      `bench/sioload.c in ${o.generators} processes, ${o.stormClients} Socket.IO clients connecting at the same moment with the default ` +
      'transports (polling handshake, POST `40`, poll, WebSocket upgrade with the session id, one echo), from ' +
      `${o.sources} source addresses`,
    unit: 'session',
    rateUnit: 'sessions/s',
    generator: 'sioload',
    app: 'socketio',
    limit: 'haproxy',
    storm: true,
    args: (o, g, port, startAt, header) => [
      '--port', String(port),
      '--mode', 'storm',
      '--clients', String(Math.max(1, share(o.stormClients, o.generators, g).n)),
      '--start-at-ms', String(startAt),
      ...identityArgs(o, g, header),
      '--timeout-ms', '20000',
      '--max-ms', '30000',
    ],
  },
];

const sum = (values) => values.reduce((a, b) => a + b, 0);

/** One trial's figures from its generators' outputs and the CPU times read around the window. */
function trialFigures(workload, outputs, cpu) {
  const f = { ...cpu };
  f.windowMs = workload.storm ? cpu.windowMs : Math.max(...outputs.map((o) => o.window_ms));
  f.loadgenCpuMs = sum(outputs.map((o) => o.cpu_us / 1000));
  if (workload.generator === 'loadgen') {
    f.units = sum(outputs.map((o) => o.ok_in_window));
    f.rate = sum(outputs.map((o) => o.rate));
    const errors = { connect: 0, reset: 0, eof: 0, timeout: 0, bad_body: 0 };
    const status = {};
    for (const o of outputs) {
      for (const kind of Object.keys(errors)) errors[kind] += o.errors[kind];
      for (const [code, n] of Object.entries(o.errors.status)) status[code] = (status[code] || 0) + n;
    }
    for (const [code, n] of Object.entries(status)) errors[`HTTP ${code}`] = n;
    f.errors = errors;
    f.violations = sum(outputs.map((o) => o.violations));
    f.identities = sum(outputs.map((o) => o.identities));
    f.workers = [];
    for (const o of outputs) o.workers.forEach((n, i) => (f.workers[i] = (f.workers[i] || 0) + n));
    f.served = sum(outputs.map((o) => o.ok));
  } else {
    f.units = workload.storm ? sum(outputs.map((o) => o.connected)) : sum(outputs.map((o) => o.echoes_in_window));
    f.clients = sum(outputs.map((o) => o.clients));
    f.connected = sum(outputs.map((o) => o.connected));
    f.rate = workload.storm ? (f.units * 1000) / Math.max(1, f.windowMs) : sum(outputs.map((o) => o.rate));
    const all = outputs.map((o) => o.all_connected_ms);
    f.allConnectedMs = all.every((v) => v >= 0) ? Math.max(...all) : NaN;
    const errors = { connect: 0, reset: 0, eof: 0, timeout: 0, protocol: 0, status: 0 };
    for (const o of outputs) for (const kind of Object.keys(errors)) errors[kind] += o.errors[kind];
    errors['HTTP 4xx/5xx'] = errors.status;
    delete errors.status;
    f.errors = errors;
    f.served = f.connected;
  }
  f.errorsTotal = sum(Object.values(f.errors));
  f.firstError = (outputs.find((o) => o.first_error) || {}).first_error || null;
  // Generators split the clients evenly: the median of their medians, the worst of their tails.
  const p50s = outputs.map((o) => o.latency_us.p50).sort((a, b) => a - b);
  f.p50 = p50s[p50s.length >> 1];
  f.p99 = Math.max(...outputs.map((o) => o.latency_us.p99));
  f.usPerUnit = f.units > 0 ? (f.serverCpuMs * 1000) / f.units : NaN;
  f.primaryUsPerUnit = f.units > 0 && cpu.primaryCpuMs !== null ? (cpu.primaryCpuMs * 1000) / f.units : NaN;
  f.serverCpuPct = (100 * f.serverCpuMs) / f.windowMs;
  f.loadgenCpuPct = (100 * f.loadgenCpuMs) / cpu.generatorWallMs;
  return f;
}

module.exports = { WORKLOADS, trialFigures, share, sourceBase };

'use strict';
// Every contender of the bench: how to start it on a port, which workloads it
// runs, and which of its processes is the balancer. Each Node contender is a
// small app in bench/apps/ serving bench/apps/common.js's app.

const fs = require('node:fs');
const path = require('node:path');
const { BUILD, ROOT, freePort, waitReady, which } = require('./processes');

const APPS = path.join(ROOT, 'bench', 'apps');

function node(trial, app, port, env = {}) {
  return trial.spawn(process.execPath, [path.join(APPS, app)], { BENCH_PORT: String(port), ...env });
}

/** A Node app on its own port; the app's own process is the primary. */
function nodeContender(app, appEnv = {}) {
  return async (trial, port, env) => {
    const entry = node(trial, app, port, { ...appEnv, ...env });
    await waitReady(trial, port, app);
    return { ports: [port], primaryPids: () => [entry.child.pid] };
  };
}

/** Two plain Node processes answering w=0 and w=1, on ports of their own. */
async function plainPair(trial, env) {
  const ports = [await freePort(), await freePort()];
  ports.forEach((port, index) => node(trial, 'single.js', port, { ...env, BENCH_INDEX: String(index) }));
  for (const port of ports) await waitReady(trial, port, 'backend');
  return ports;
}

/** Baseline (a): bench/reuseport.c binds the group, bench/apps/reuseport.js runs in it. */
async function reuseportGroup(trial, port, env) {
  const entry = trial.spawn(
    path.join(BUILD, 'reuseport'),
    ['--port', String(port), '--count', '2', '--', process.execPath, path.join(APPS, 'reuseport.js')],
    { ...env, BENCH_PORT: String(port) },
  );
  await waitReady(trial, port, 'reuseport');
  return { ports: [port], primaryPids: () => [entry.child.pid] };
}

/** Baseline (b): the load split between two processes by the load generators themselves. */
async function twoPorts(trial, _port, env) {
  return { ports: await plainPair(trial, env), primaryPids: () => [] };
}

/** bench/handoff.c: the channel's hand-off in plain C; only its primary counts as the balancer. */
async function cHandoff(trial, port) {
  const entry = trial.spawn(path.join(BUILD, 'handoff'), ['--port', String(port), '--workers', '2']);
  await waitReady(trial, port, 'handoff');
  return { ports: [port], primaryPids: () => [entry.child.pid] };
}

async function haproxy(trial, port, env) {
  const [p0, p1] = await plainPair(trial, env);
  const config = path.join(trial.tmpdir(), 'haproxy.cfg');
  fs.writeFileSync(
    config,
    [
      'global',
      '  nbthread 2',
      '  maxconn 8192',
      'defaults',
      '  mode http',
      '  timeout connect 5s',
      '  timeout client 30s',
      '  timeout server 30s',
      '  timeout tunnel 60s',
      'frontend bench',
      `  bind 127.0.0.1:${port}`,
      '  default_backend workers',
      'backend workers',
      '  balance source',
      `  server w0 127.0.0.1:${p0}`,
      `  server w1 127.0.0.1:${p1}`,
      '',
    ].join('\n'),
  );
  const entry = trial.spawn(which('haproxy'), ['-db', '-f', config]);
  await waitReady(trial, port, 'haproxy');
  return { ports: [port], primaryPids: () => trial.tree(entry) };
}

async function nginx(trial, port, env) {
  const [p0, p1] = await plainPair(trial, env);
  const dir = trial.tmpdir();
  fs.chmodSync(dir, 0o755);
  const config = path.join(dir, 'nginx.conf');
  const temp = (name) => `  ${name}_temp_path ${path.join(dir, name)};`;
  fs.writeFileSync(
    config,
    [
      'worker_processes 2;',
      `pid ${path.join(dir, 'nginx.pid')};`,
      `error_log ${path.join(dir, 'error.log')} warn;`,
      'events { worker_connections 8192; }',
      'http {',
      '  access_log off;',
      temp('client_body'), temp('proxy'), temp('fastcgi'), temp('uwsgi'), temp('scgi'),
      // WebSocket upgrades pass through; other requests reuse the keep-alive upstream.
      '  map $http_upgrade $connection_upgrade { default upgrade; "" ""; }',
      '  upstream workers {',
      '    hash $remote_addr consistent;',
      `    server 127.0.0.1:${p0};`,
      `    server 127.0.0.1:${p1};`,
      '    keepalive 64;',
      '  }',
      '  server {',
      `    listen 127.0.0.1:${port};`,
      '    location / {',
      '      proxy_pass http://workers;',
      '      proxy_http_version 1.1;',
      '      proxy_set_header Upgrade $http_upgrade;',
      '      proxy_set_header Connection $connection_upgrade;',
      '      proxy_read_timeout 60s;',
      '    }',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  const entry = trial.spawn(which('nginx'), ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', config, '-g', 'daemon off;']);
  await waitReady(trial, port, 'nginx');
  return { ports: [port], primaryPids: () => trial.tree(entry) };
}

const distMissing = () =>
  fs.existsSync(path.join(ROOT, 'dist', 'index.js')) ? null : 'dist/ is not built: run "npm run build" first';

const sn = (transport, routing = 'ip') =>
  nodeContender('sticky-native.js', { BENCH_TRANSPORT: transport, BENCH_ROUTING: routing, STICKY_NATIVE: 'native' });

const ALL = ['conn', 'keepalive', 'ws', 'storm'];

/**
 * `workloads` lists where a contender runs; `header` makes the load carry
 * X-Forwarded-For; `limit` marks the baselines; `needs` is a binary the row
 * needs (skipped without it); `build` the bench C programs it runs.
 */
const CONTENDERS = [
  { id: 'reuseport', label: '(a) SO_REUSEPORT group, no BPF: 2 workers', group: 'limit', workloads: ['conn', 'keepalive', 'ws'],
    build: ['reuseport'], start: reuseportGroup },
  { id: 'reuseport-bpf', label: "(a) with sticky-native's BPF program", group: 'limit', workloads: ['conn'], broken: distMissing,
    start: nodeContender('reuseport.js', { BENCH_GROUP: 'bpf', STICKY_NATIVE: 'native' }) },
  { id: 'two-ports', label: '(b) 2 plain processes, 2 ports, load split', group: 'limit', workloads: ['conn', 'keepalive', 'ws'],
    start: twoPorts },
  { id: 'sn-ip-kernel', label: 'sticky-native ip, kernel', group: 'sn', workloads: ALL, broken: distMissing, start: sn('kernel') },
  { id: 'sn-ip-channel', label: 'sticky-native ip, channel', group: 'sn', workloads: ALL, broken: distMissing, start: sn('channel') },
  { id: 'sn-header-channel', label: 'sticky-native header, channel', group: 'sn', header: true, workloads: ['conn', 'keepalive', 'ws'],
    broken: distMissing, start: sn('channel', 'header') },
  { id: 'sn-sid-channel', label: 'sticky-native sid, channel', group: 'sn', workloads: ['storm'], broken: distMissing,
    start: sn('channel', 'sid') },
  { id: 'sn-ip-ipc', label: 'sticky-native ip, ipc', group: 'sn', workloads: ['conn', 'keepalive'], broken: distMissing, start: sn('ipc') },
  { id: 'sn-header-ipc', label: 'sticky-native header, ipc', group: 'sn', header: true, workloads: ['conn'], broken: distMissing,
    start: sn('ipc', 'header') },
  { id: 'sn-ip-fallback', label: 'sticky-native ip, pure-TS fallback', group: 'sn', workloads: ['conn'], broken: distMissing,
    start: nodeContender('sticky-native.js', { STICKY_NATIVE: 'fallback' }) },
  { id: 'sticky-session', label: 'sticky-session 1.1.2', group: 'peer', workloads: ['conn', 'keepalive'],
    start: nodeContender('sticky-session.js') },
  { id: 'socketio-sticky-session-ip', label: 'socketio-sticky-session 0.4.3, ip', group: 'peer', workloads: ['conn'],
    start: nodeContender('socketio-sticky-session.js') },
  { id: 'socketio-sticky-session-proxy', label: 'socketio-sticky-session 0.4.3, proxy: true', group: 'peer', header: true, workloads: ['conn'],
    start: nodeContender('socketio-sticky-session.js', { BENCH_PROXY: '1' }) },
  { id: 'socket.io-sticky', label: '@socket.io/sticky 2.0.1 (least-connection)', group: 'peer', workloads: ALL,
    start: nodeContender('socketio-sticky.js') },
  { id: 'cluster-rr', label: 'node cluster round-robin (not sticky)', group: 'ref', workloads: ALL, start: nodeContender('cluster-rr.js') },
  { id: 'single', label: 'one Node process, no balancer', group: 'ref', workloads: ALL,
    start: nodeContender('single.js', { BENCH_INDEX: '0' }) },
  { id: 'c-handoff', label: 'plain C hand-off to 2 C workers', group: 'ref', workloads: ['conn'], build: ['handoff'], start: cHandoff },
  { id: 'haproxy', label: 'HAProxy balance source + 2 Node', group: 'proxy', workloads: ALL, needs: 'haproxy', start: haproxy },
  { id: 'nginx', label: 'nginx hash $remote_addr + 2 Node', group: 'proxy', workloads: ALL, needs: 'nginx', start: nginx },
];

module.exports = { CONTENDERS };

#!/usr/bin/env node
'use strict';
// npm run bench: starts every contender in turn on the same app (each worker
// answers "w=<index>"), drives the same load with bench/loadgen.c, and prints one
// table; an unfiltered run also writes docs/benchmarks.md and docs/benchmarks.svg.
// See bench/README.md for the options and the meaning of each column.

const { spawn, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const BUILD = path.join(__dirname, '.build');
const APPS = path.join(__dirname, 'apps');
const LOADGEN = path.join(BUILD, 'loadgen');
const HANDOFF = path.join(BUILD, 'handoff');
const DOCS = path.join(ROOT, 'docs');

// ---------------------------------------------------------------- options

const HELP = `usage: npm run bench -- [options]     (each option also reads an env variable)
  --rounds N        rounds; contenders alternate within each (BENCH_ROUNDS, 3)
  --seconds S       measured seconds per contender and round (BENCH_SECONDS, 5)
  --warmup S        warm-up seconds before each measurement (BENCH_WARMUP, 1)
  --concurrency N   connections in flight (BENCH_CONCURRENCY, 32)
  --sources N       client source addresses from 127.0.1.1 upward (BENCH_SOURCES, 256)
  --xff N           distinct X-Forwarded-For values in header modes (BENCH_XFF, 4096)
  --only a,b        contenders by id (exact), or every id containing the word (BENCH_ONLY)
  --write/--no-write  write docs/benchmarks.{md,svg} (BENCH_WRITE; default: only when --only is not given)
  --no-parse        skip the parse micro-benchmark (BENCH_PARSE=0)
  --list            list the contenders and exit
`;

function parseOptions(argv, env) {
  const o = {
    rounds: Number(env.BENCH_ROUNDS || 3),
    seconds: Number(env.BENCH_SECONDS || 5),
    warmup: Number(env.BENCH_WARMUP ?? 1),
    concurrency: Number(env.BENCH_CONCURRENCY || 32),
    sources: Number(env.BENCH_SOURCES || 256),
    xff: Number(env.BENCH_XFF || 4096),
    only: env.BENCH_ONLY ? env.BENCH_ONLY.split(',').filter(Boolean) : null,
    write: env.BENCH_WRITE === undefined ? null : env.BENCH_WRITE !== '0',
    parse: env.BENCH_PARSE !== '0',
    list: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--rounds': o.rounds = Number(value()); break;
      case '--seconds': o.seconds = Number(value()); break;
      case '--warmup': o.warmup = Number(value()); break;
      case '--concurrency': o.concurrency = Number(value()); break;
      case '--sources': o.sources = Number(value()); break;
      case '--xff': o.xff = Number(value()); break;
      case '--only': o.only = value().split(',').filter(Boolean); break;
      case '--write': o.write = true; break;
      case '--no-write': o.write = false; break;
      case '--no-parse': o.parse = false; break;
      case '--list': o.list = true; break;
      case '-h': case '--help': process.stdout.write(HELP); process.exit(0); break;
      default: throw new Error(`unknown option ${arg}\n${HELP}`);
    }
  }
  const check = (name, v, min, max) => {
    if (!Number.isFinite(v) || v < min || v > max) throw new Error(`${name} must be from ${min} to ${max}, got ${v}`);
  };
  check('rounds', o.rounds, 1, 20);
  check('seconds', o.seconds, 0.2, 120);
  check('warmup', o.warmup, 0, 30);
  check('concurrency', o.concurrency, 1, 4096);
  check('sources', o.sources, 1, 65000);
  check('xff', o.xff, 1, 65536);
  o.rounds = Math.floor(o.rounds);
  if (o.write === null) o.write = !o.only;
  return o;
}

// ---------------------------------------------------------------- /proc helpers

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Fields of /proc/<pid>/stat after the command name; null if the process is gone. */
function procStat(pid) {
  let text;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): field n is rest[n - 3].
  return { state: rest[0], ppid: Number(rest[1]), utime: Number(rest[11]), stime: Number(rest[12]), start: rest[19] };
}

function allPids() {
  return fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number);
}

/** Every live descendant of `roots` (not the roots themselves). */
function descendants(roots) {
  const children = new Map();
  for (const pid of allPids()) {
    const stat = procStat(pid);
    if (!stat) continue;
    if (!children.has(stat.ppid)) children.set(stat.ppid, []);
    children.get(stat.ppid).push(pid);
  }
  const out = [];
  const queue = [...roots];
  const seen = new Set(roots);
  while (queue.length && out.length < 10000) {
    for (const child of children.get(queue.shift()) || []) {
      if (seen.has(child)) continue;
      seen.add(child);
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

/** Processes whose environment carries this run's token (Node apps pass it on to their workers). */
function pidsWithToken(token) {
  const needle = Buffer.from(`BENCH_RUN_TOKEN=${token}\0`);
  const out = [];
  for (const pid of allPids()) {
    if (pid === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${pid}/environ`).includes(needle)) out.push(pid);
    } catch {
      /* gone, or not readable */
    }
  }
  return out;
}

function cpuTicks(pids) {
  let sum = 0;
  for (const pid of pids) {
    const stat = procStat(pid);
    if (stat) sum += stat.utime + stat.stime;
  }
  return sum;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- processes

const RUN_TOKEN = crypto.randomBytes(8).toString('hex');
/** pid -> start time of every process this run started or saw under one it started. */
const tracked = new Map();

function track(pid) {
  const stat = procStat(pid);
  if (stat && !tracked.has(pid)) tracked.set(pid, stat.start);
}

/** SIGKILLs a tracked pid if it is still the same process (same start time). */
function killTracked(pid, signal) {
  const stat = procStat(pid);
  if (!stat || stat.start !== tracked.get(pid) || stat.state === 'Z') return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

function killEverythingNow() {
  for (const pid of descendants([...tracked.keys()])) track(pid);
  for (const pid of pidsWithToken(RUN_TOKEN)) track(pid);
  for (const pid of tracked.keys()) killTracked(pid, 'SIGKILL');
}

/** One contender's processes for one round. */
class Trial {
  constructor(name) {
    this.name = name;
    this.children = [];
    this.tmpdirs = [];
  }

  spawn(command, args, env = {}) {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, ...env, BENCH_RUN_TOKEN: RUN_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: a Ctrl-C reaches only the runner, which stops it
    });
    const entry = { child, output: '', exited: null, label: path.basename(command === process.execPath ? args[0] : command) };
    const keep = (chunk) => {
      entry.output = (entry.output + chunk).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('exit', (code, signal) => {
      entry.exited = signal ? `signal ${signal}` : `code ${code}`;
    });
    child.on('error', (error) => {
      entry.exited = `spawn error: ${error.message}`;
    });
    if (child.pid) track(child.pid);
    this.children.push(entry);
    return entry;
  }

  tmpdir() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sticky-bench-'));
    this.tmpdirs.push(dir);
    return dir;
  }

  /** Remembers every current descendant, so a worker survives its primary only until stop(). */
  snapshot() {
    const roots = this.children.map((e) => e.child.pid).filter(Boolean);
    for (const pid of descendants(roots)) track(pid);
    for (const pid of pidsWithToken(RUN_TOKEN)) track(pid);
  }

  /** Pids of one started process and its descendants. */
  tree(entry) {
    return entry.child.pid ? [entry.child.pid, ...descendants([entry.child.pid])] : [];
  }

  /** A started process that died, described with its last output; else null. */
  died() {
    const dead = this.children.find((e) => e.exited !== null);
    return dead ? `${dead.label} exited (${dead.exited}): ${errorLine(dead.output)}` : null;
  }

  /** SIGTERM to every started process, then SIGKILL to every descendant still alive. */
  async stop() {
    this.snapshot();
    const mine = () => {
      const roots = this.children.map((e) => e.child.pid).filter(Boolean);
      const pids = new Set([...roots, ...descendants(roots), ...pidsWithToken(RUN_TOKEN)]);
      for (const pid of pids) track(pid);
      return [...tracked.keys()].filter((pid) => {
        const stat = procStat(pid);
        return stat && stat.state !== 'Z' && stat.start === tracked.get(pid);
      });
    };
    for (const entry of this.children) if (entry.exited === null && entry.child.pid) killTracked(entry.child.pid, 'SIGTERM');
    for (let waited = 0; waited < 2000 && mine().length; waited += 50) await sleep(50);
    for (let attempt = 0; attempt < 40; attempt++) {
      const alive = mine();
      if (!alive.length) break;
      for (const pid of alive) killTracked(pid, 'SIGKILL');
      await sleep(50);
    }
    for (const [pid, start] of tracked) {
      const stat = procStat(pid);
      if (!stat || stat.start !== start || stat.state === 'Z') tracked.delete(pid);
    }
    for (const dir of this.tmpdirs) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The thrown error's message if the output holds a stack trace, else its last lines. */
function errorLine(text) {
  const line = String(text).split('\n').find((l) => /^\s*(\w*Error|Error \[\w+\])\b.*?:/.test(l));
  return line ? line.trim().slice(0, 300) : lastLines(text);
}

function lastLines(text, n = 3) {
  const lines = String(text).trim().split('\n').filter(Boolean);
  return lines.slice(-n).join(' | ').slice(0, 300) || '(no output)';
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** One request; resolves with the status line (any status), rejects on no HTTP answer. */
function probe(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let data = '';
    const done = (error) => {
      socket.destroy();
      clearTimeout(timer);
      const line = data.split('\r\n')[0];
      if (/^HTTP\/1\.\d \d{3}/.test(line)) resolve({ line, body: data.slice(data.indexOf('\r\n\r\n') + 4) });
      else reject(error || new Error(data ? `not HTTP: ${line.slice(0, 80)}` : 'closed without an answer'));
    };
    const timer = setTimeout(() => done(new Error('no answer within 2 s')), 2000);
    socket.setEncoding('latin1');
    socket.on('connect', () =>
      socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 198.51.100.7\r\nConnection: close\r\n\r\n'),
    );
    socket.on('data', (chunk) => {
      data += chunk;
      if (data.length > 65536) done();
    });
    socket.on('end', () => done());
    socket.on('error', (error) => done(error));
  });
}

/** Polls until `port` answers HTTP, a started process dies, or 20 s pass. */
async function waitReady(trial, port, what) {
  const deadline = Date.now() + 20000;
  let last = 'nothing yet';
  while (Date.now() < deadline) {
    const dead = trial.died();
    if (dead) throw new Error(dead);
    try {
      return await probe(port);
    } catch (error) {
      last = error.code || error.message;
    }
    await sleep(100);
  }
  throw new Error(`${what} did not answer on port ${port} within 20 s (${last})`);
}

function runLoadgen(args, limitMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(LOADGEN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid) track(child.pid);
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const timer = setTimeout(() => child.pid && killTracked(child.pid, 'SIGKILL'), limitMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`loadgen failed (${signal || code}): ${lastLines(err)}`));
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`loadgen printed no JSON: ${lastLines(out + err)}`));
      }
    });
  });
}

// ---------------------------------------------------------------- contenders

function node(trial, app, port, env = {}) {
  return trial.spawn(process.execPath, [path.join(APPS, app)], { BENCH_PORT: String(port), ...env });
}

/** Starts a Node app on its own port; the app's own process is the primary. */
function nodeContender(app, env = {}) {
  return async (trial, port) => {
    const entry = node(trial, app, port, env);
    await waitReady(trial, port, app);
    return { balancerPids: () => [entry.child.pid] };
  };
}

function which(binary) {
  for (const dir of (process.env.PATH || '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const file = path.join(dir || '.', binary);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      /* next */
    }
  }
  return null;
}

/** Two plain Node processes answering w=0 and w=1, for the C proxies. */
async function backends(trial) {
  const ports = [await freePort(), await freePort()];
  ports.forEach((port, index) => node(trial, 'single.js', port, { BENCH_INDEX: String(index) }));
  for (const port of ports) await waitReady(trial, port, 'backend');
  return ports;
}

/** bench/handoff.c: the channel's hand-off in plain C; only its primary counts as the balancer. */
async function cHandoff(trial, port) {
  const entry = trial.spawn(HANDOFF, ['--port', String(port), '--workers', '2']);
  await waitReady(trial, port, 'handoff');
  return { balancerPids: () => [entry.child.pid] };
}

async function haproxy(trial, port) {
  const [p0, p1] = await backends(trial);
  const dir = trial.tmpdir();
  const config = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(
    config,
    [
      'global',
      '  nbthread 2',
      '  maxconn 4096',
      'defaults',
      '  mode http',
      '  timeout connect 5s',
      '  timeout client 30s',
      '  timeout server 30s',
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
  return { balancerPids: () => trial.tree(entry) };
}

async function nginx(trial, port) {
  const [p0, p1] = await backends(trial);
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
      'events { worker_connections 4096; }',
      'http {',
      '  access_log off;',
      temp('client_body'), temp('proxy'), temp('fastcgi'), temp('uwsgi'), temp('scgi'),
      '  upstream workers {',
      '    hash $remote_addr consistent;',
      `    server 127.0.0.1:${p0};`,
      `    server 127.0.0.1:${p1};`,
      '    keepalive 32;',
      '  }',
      '  server {',
      `    listen 127.0.0.1:${port};`,
      '    location / {',
      '      proxy_pass http://workers;',
      '      proxy_http_version 1.1;',
      '      proxy_set_header Connection "";',
      '    }',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  const entry = trial.spawn(which('nginx'), ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', config, '-g', 'daemon off;']);
  await waitReady(trial, port, 'nginx');
  return { balancerPids: () => trial.tree(entry) };
}

const distMissing = () =>
  fs.existsSync(path.join(ROOT, 'dist', 'index.js')) ? null : 'dist/ is not built: run "npm run build" first';

const CONTENDERS = [
  { id: 'sn-ip-kernel', label: 'sticky-native ip, kernel', group: 'sn', header: false, broken: distMissing,
    start: nodeContender('sticky-native.js', { BENCH_TRANSPORT: 'kernel', STICKY_NATIVE: 'native' }) },
  { id: 'sn-ip-channel', label: 'sticky-native ip, channel', group: 'sn', header: false, broken: distMissing,
    start: nodeContender('sticky-native.js', { BENCH_TRANSPORT: 'channel', STICKY_NATIVE: 'native' }) },
  { id: 'sn-ip-ipc', label: 'sticky-native ip, ipc', group: 'sn', header: false, broken: distMissing,
    start: nodeContender('sticky-native.js', { BENCH_TRANSPORT: 'ipc', STICKY_NATIVE: 'native' }) },
  { id: 'sn-header-channel', label: 'sticky-native header, channel', group: 'sn', header: true, broken: distMissing,
    start: nodeContender('sticky-native.js', { BENCH_ROUTING: 'header', BENCH_TRANSPORT: 'channel', STICKY_NATIVE: 'native' }) },
  { id: 'sn-header-ipc', label: 'sticky-native header, ipc', group: 'sn', header: true, broken: distMissing,
    start: nodeContender('sticky-native.js', { BENCH_ROUTING: 'header', BENCH_TRANSPORT: 'ipc', STICKY_NATIVE: 'native' }) },
  { id: 'sn-ip-fallback', label: 'sticky-native ip, pure-TS fallback', group: 'sn', header: false, broken: distMissing,
    start: nodeContender('sticky-native.js', { STICKY_NATIVE: 'fallback' }) },
  { id: 'sticky-session', label: 'sticky-session 1.1.2', group: 'peer', header: false,
    start: nodeContender('sticky-session.js') },
  { id: 'socketio-sticky-session-ip', label: 'socketio-sticky-session 0.4.3, ip', group: 'peer', header: false,
    start: nodeContender('socketio-sticky-session.js') },
  { id: 'socketio-sticky-session-proxy', label: 'socketio-sticky-session 0.4.3, proxy: true', group: 'peer', header: true,
    start: nodeContender('socketio-sticky-session.js', { BENCH_PROXY: '1' }) },
  { id: 'socket.io-sticky', label: '@socket.io/sticky 2.0.1 (no sid: least-connection)', group: 'peer', header: false,
    start: nodeContender('socketio-sticky.js') },
  { id: 'cluster-rr', label: 'node cluster round-robin (not sticky)', group: 'ref', header: false,
    start: nodeContender('cluster-rr.js') },
  { id: 'single', label: 'one Node process, no balancer', group: 'ref', header: false,
    start: nodeContender('single.js', { BENCH_INDEX: '0' }) },
  { id: 'c-handoff', label: 'plain C hand-off to 2 C workers (primary cost floor)', group: 'ref', header: false,
    start: cHandoff },
  { id: 'haproxy', label: 'HAProxy balance source + 2 Node', group: 'proxy', header: false, optional: 'haproxy',
    start: haproxy },
  { id: 'nginx', label: 'nginx hash $remote_addr consistent + 2 Node', group: 'proxy', header: false, optional: 'nginx',
    start: nginx },
];

// ---------------------------------------------------------------- one trial

async function runTrial(contender, o) {
  const trial = new Trial(contender.id);
  const port = await freePort();
  try {
    const broken = contender.broken && contender.broken();
    if (broken) throw new Error(broken);
    const started = await contender.start(trial, port);
    trial.snapshot();
    const loadArgs = (seconds) => [
      '--port', String(port),
      '--concurrency', String(o.concurrency),
      '--duration-ms', String(Math.round(seconds * 1000)),
      '--sources', String(o.sources),
      '--source-base', '127.0.1.1',
      '--xff', String(contender.header ? o.xff : 0),
      '--timeout-ms', '5000',
      '--max-ms', String(Math.round(seconds * 1000) + 10000),
    ];
    const limit = (seconds) => seconds * 1000 + 20000;
    if (o.warmup > 0) await runLoadgen(loadArgs(o.warmup), limit(o.warmup));
    trial.snapshot();
    const pids = started.balancerPids();
    const cpu0 = cpuTicks(pids);
    const t0 = process.hrtime.bigint();
    const load = await runLoadgen(loadArgs(o.seconds), limit(o.seconds));
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const cpuMs = ((cpuTicks(pids) - cpu0) * 1000) / CLK_TCK;
    trial.snapshot();
    const dead = trial.died();
    if (dead) throw new Error(`died during the run: ${dead}`);
    return { ok: true, load, cpuMs, wallMs };
  } catch (error) {
    return { ok: false, error: error.message.replace(/\s+/g, ' ').trim() };
  } finally {
    await trial.stop();
  }
}

// ---------------------------------------------------------------- aggregation

function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function summarize(contender, trials) {
  const ran = trials.filter((t) => t.ok);
  const failed = trials.filter((t) => !t.ok);
  const row = { id: contender.id, label: contender.label, group: contender.group, rounds: trials.length, error: null, notes: [] };
  if (!ran.length) {
    row.error = failed[0] ? failed[0].error : 'not run';
    return row;
  }
  if (failed.length) row.notes.push(`${failed.length} of ${trials.length} rounds failed: ${failed[0].error}`);
  const errors = { connect: 0, reset: 0, eof: 0, timeout: 0, bad_body: 0, status: {} };
  const workers = [];
  let ok = 0;
  let total = 0;
  let firstError = null;
  for (const { load } of ran) {
    for (const kind of ['connect', 'reset', 'eof', 'timeout', 'bad_body']) errors[kind] += load.errors[kind];
    for (const [status, n] of Object.entries(load.errors.status)) errors.status[status] = (errors.status[status] || 0) + n;
    load.workers.forEach((n, i) => (workers[i] = (workers[i] || 0) + n));
    ok += load.ok;
    total += load.ok + load.errors.total;
    firstError = firstError || load.first_error;
  }
  row.errorsTotal = Object.values(errors).reduce((a, b) => a + (typeof b === 'number' ? b : 0), 0) +
    Object.values(errors.status).reduce((a, b) => a + b, 0);
  row.errors = errors;
  row.firstError = firstError;
  row.rate = median(ran.map((t) => t.load.rate));
  row.p50 = median(ran.map((t) => t.load.latency_us.p50));
  row.p99 = median(ran.map((t) => t.load.latency_us.p99));
  row.violations = Math.max(...ran.map((t) => t.load.violations));
  row.identity = ran[0].load.identity;
  row.identities = Math.max(...ran.map((t) => t.load.identities));
  row.workers = workers;
  // Every connection the load generator opened in the window reached the balancer (or was refused by it).
  row.usPerConn = median(ran.map((t) => (t.load.started > 0 ? (t.cpuMs * 1000) / t.load.started : NaN)));
  row.cpuPct = median(ran.map((t) => (100 * t.cpuMs) / t.wallMs));
  row.ok = ok;
  if (ok === 0) {
    row.error = `served no request: ${firstError || 'no answer'} (${describeErrors(errors)} over ${total} connections)`;
  }
  return row;
}

function describeErrors(errors) {
  const parts = [];
  for (const kind of ['connect', 'reset', 'eof', 'timeout', 'bad_body']) if (errors[kind]) parts.push(`${kind} ${errors[kind]}`);
  for (const [status, n] of Object.entries(errors.status)) parts.push(`HTTP ${status}: ${n}`);
  return parts.join(', ') || '0';
}

// ---------------------------------------------------------------- output

const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const fmtRatio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : '—');
const fmtMs = (us) => (Number.isFinite(us) ? (us / 1000).toFixed(2) : '—');

function spread(workers) {
  const total = workers.reduce((a, b) => a + b, 0);
  if (!total) return '—';
  const shares = workers.slice(0, Math.max(2, workers.length)).map((n) => Math.round((100 * (n || 0)) / total));
  return shares.join('/');
}

const COLUMNS = ['contender', 'conn/s', 'vs sticky-session', 'vs no balancer', 'p50 ms', 'p99 ms', 'violations', 'errors', 'spread %', 'primary µs/conn', 'primary CPU'];

function tableRows(rows) {
  const ref = (id) => rows.find((r) => r.id === id && !r.error);
  const stickySession = ref('sticky-session');
  const single = ref('single');
  return rows.map((r) => {
    if (r.error) return [r.label, 'error', '', '', '', '', '', '', '', '', r.error];
    return [
      r.label,
      fmtInt(r.rate),
      fmtRatio(r.rate, stickySession && stickySession.rate),
      fmtRatio(r.rate, single && single.rate),
      fmtMs(r.p50),
      fmtMs(r.p99),
      `${r.violations}/${r.identities}`,
      r.errorsTotal ? `${r.errorsTotal} (${describeErrors(r.errors)})` : '0',
      spread(r.workers),
      fmtInt(r.usPerConn),
      Number.isFinite(r.cpuPct) ? `${Math.round(r.cpuPct)}%` : '—',
    ];
  });
}

function markdownTable(rows) {
  const body = tableRows(rows).map((cells) => {
    if (cells[1] === 'error') return `| ${cells[0]} | **error** | | | | | | | | | ${escapeMd(cells[10])} |`;
    return `| ${cells.map(escapeMd).join(' | ')} |`;
  });
  return [`| ${COLUMNS.join(' | ')} |`, `|${COLUMNS.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...body].join('\n');
}

const escapeMd = (s) => String(s).replace(/\|/g, '\\|');

function consoleTable(rows) {
  const cells = [COLUMNS, ...tableRows(rows).map((c) => (c[1] === 'error' ? [c[0], `error: ${c[10]}`] : c))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.filter((c) => c.length > 1 && c[1] !== undefined && !String(c[1]).startsWith('error:')).map((c) => String(c[i] ?? '').length)));
  return cells
    .map((c) => {
      if (String(c[1]).startsWith('error:')) return `${c[0].padEnd(widths[0])}  ${c[1]}`;
      return c.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join('  ');
    })
    .join('\n');
}

const escapeXml = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A horizontal bar chart of connections/s, written by hand (no dependencies). */
function svgChart(rows, subtitle) {
  const colors = { sn: '#2f7ed8', peer: '#e4572e', ref: '#8c8c8c', proxy: '#3fa34d' };
  const labelWidth = 380;
  const barWidth = 440;
  const rowHeight = 26;
  const top = 56;
  const width = labelWidth + barWidth + 120;
  const height = top + rows.length * rowHeight + 44;
  const max = Math.max(1, ...rows.filter((r) => !r.error).map((r) => r.rate));
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="16" font-weight="bold">New connections per second (higher is better)</text>`,
    `<text x="12" y="42" fill="#555">${escapeXml(subtitle)}</text>`,
  ];
  rows.forEach((r, i) => {
    const y = top + i * rowHeight;
    out.push(`<text x="${labelWidth - 8}" y="${y + 17}" text-anchor="end">${escapeXml(r.label)}</text>`);
    if (r.error) {
      out.push(`<text x="${labelWidth + 4}" y="${y + 17}" fill="#b00020">error: ${escapeXml(r.error.slice(0, 70))}${r.error.length > 70 ? '…' : ''}</text>`);
      return;
    }
    const w = Math.max(1, Math.round((barWidth * r.rate) / max));
    out.push(`<rect x="${labelWidth}" y="${y + 4}" width="${w}" height="${rowHeight - 8}" fill="${colors[r.group] || '#555'}"/>`);
    out.push(`<text x="${labelWidth + w + 6}" y="${y + 17}">${fmtInt(r.rate)}</text>`);
  });
  const legendY = top + rows.length * rowHeight + 24;
  const legend = [['sn', 'sticky-native'], ['peer', 'npm peers'], ['proxy', 'C proxies'], ['ref', 'references']];
  legend.forEach(([group, text], i) => {
    const x = 12 + i * 150;
    out.push(`<rect x="${x}" y="${legendY - 11}" width="12" height="12" fill="${colors[group]}"/>`);
    out.push(`<text x="${x + 18}" y="${legendY}">${text}</text>`);
  });
  out.push('</svg>', '');
  return out.join('\n');
}

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0] ? cpus[0].model.replace(/\s+/g, ' ').trim() : 'unknown',
    cores: cpus.length,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
  };
}

const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

function writeDocs(rows, info, parse) {
  const m = info.machine;
  const subtitle = `${m.cpu}, ${m.cores} cores, Node ${m.node}; ${info.rounds} rounds x ${info.seconds} s, ${info.concurrency} in flight; ${info.date}`;
  fs.mkdirSync(DOCS, { recursive: true });
  fs.writeFileSync(path.join(DOCS, 'benchmarks.svg'), svgChart(rows, subtitle));
  const errorRows = rows.filter((r) => r.error);
  const notes = rows.filter((r) => r.notes.length);
  const md = [
    '# Benchmarks',
    '',
    `Generated by \`npm run bench\` (bench/run.js) on ${info.date}. Re-run it to refresh this page;`,
    '[bench/README.md](../bench/README.md) explains the options and every column.',
    '',
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.kernel}, Node ${m.node}`,
    `- Load average (1/5/15 min): ${info.loadBefore} before, ${info.loadAfter} after. The machine was ${info.loadNote}`,
    `- Run: ${info.rounds} round(s), contenders alternating; per contender and round ${info.warmup} s warm-up, then ${info.seconds} s measured; medians over the rounds`,
    `- Load: bench/loadgen.c, ${info.concurrency} connections in flight, one \`GET /\` per connection with \`Connection: close\`, ` +
      `source addresses 127.0.1.1 and up (${info.sources}), ${info.xff} distinct \`X-Forwarded-For\` values for the header rows; every worker answers \`w=<index>\``,
    `- Every balanced contender has 2 workers (or 2 backend processes behind the C proxies)`,
    '',
    '![connections per second](benchmarks.svg)',
    '',
    markdownTable(rows),
    '',
    'Columns: **conn/s** new connections answered 200 per second (median of rounds); **vs** the same over sticky-session 1.1.2 and over one',
    'Node process; **p50/p99** latency from `connect()` to the complete response; **violations** identities (source address, or',
    'X-Forwarded-For value in header rows) answered by more than one worker in a round, worst round / identities seen; **errors** summed',
    'over all rounds; **spread** share of responses per worker; **primary µs/conn** CPU time (user+system, /proc) of the balancing process',
    'over the measured window divided by the connections it handled, and **primary CPU** the same as a share of one core (for the C proxies:',
    'all their processes; for the single process and the backends: none is a balancer, so the single row is that process\'s whole cost).',
    '',
  ];
  if (errorRows.length) {
    md.push('## Contenders that did not serve', '');
    for (const r of errorRows) md.push(`- **${r.label}**: ${r.error}`);
    md.push('');
  }
  if (notes.length) {
    md.push('## Notes', '');
    for (const r of notes) for (const n of r.notes) md.push(`- **${r.label}**: ${n}`);
    md.push('');
  }
  md.push(
    '## What each contender is',
    '',
    '- **sticky-native** (`bench/apps/sticky-native.js`): `createBalancer({ workers: 2, routing, transport })` and `serve()`. `kernel` = SO_REUSEPORT group',
    '  with BPF steering, `channel` = native accept + SCM_RIGHTS batches, `ipc` = `worker.send(msg, socket)`. A build that does not report the',
    '  requested transport is an error row rather than a silent IPC measurement. The fallback row runs with `STICKY_NATIVE=fallback`.',
    '- **sticky-session 1.1.2**: its `Master` bound to 127.0.0.1 (what `sticky.listen` builds, plus a host), `sticky.listen` in the workers.',
    '- **socketio-sticky-session 0.4.3**: `sticky({ num: 2, proxy }, factory)`; the proxy row sends X-Forwarded-For.',
    '- **@socket.io/sticky 2.0.1**: `setupMaster(httpServer, { loadBalancingMethod: "least-connection" })` (its default), `setupWorker(io)`,',
    '  `serialization: "advanced"`. It routes by the Engine.IO `sid`; plain requests carry none, so each goes to the worker with the fewest',
    '  Socket.IO sessions, and with none open that is always the first worker: it is trivially "sticky" and uses one worker.',
    '- **node cluster round-robin**: `cluster.schedulingPolicy = SCHED_RR`, both workers listen; not sticky, shown for scale.',
    '- **one Node process**: the same handler, no cluster.',
    '- **HAProxy / nginx**: `balance source` and `hash $remote_addr consistent` (keep-alive upstream) in front of 2 plain Node processes;',
    '  configs generated into a temp dir, loopback only. Rows are missing when the binaries are not installed.',
    '',
  );
  if (parse) {
    md.push('## Parsing micro-benchmark (bench/parse.js)', '', parse.trim(), '');
  }
  fs.writeFileSync(path.join(DOCS, 'benchmarks.md'), md.join('\n'));
}

// ---------------------------------------------------------------- main

/** Compiles bench/<name>.c into bench/.build/<name> unless the binary is newer. */
function buildC(name) {
  const source = path.join(__dirname, `${name}.c`);
  const binary = path.join(BUILD, name);
  fs.mkdirSync(BUILD, { recursive: true });
  const fresh = fs.existsSync(binary) && fs.statSync(binary).mtimeMs >= fs.statSync(source).mtimeMs;
  if (fresh) return;
  execFileSync(process.env.CC || 'cc', ['-O2', '-Wall', '-o', binary, source], { stdio: 'inherit' });
}

function runParse() {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'parse.js'), '--markdown'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid) track(child.pid);
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const timer = setTimeout(() => child.pid && killTracked(child.pid, 'SIGKILL'), 120000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(code === 0 ? out : `parse.js failed: ${lastLines(err || out)}`);
    });
  });
}

async function main() {
  const o = parseOptions(process.argv.slice(2), process.env);
  let contenders = CONTENDERS;
  // A word that is an exact id picks that contender; any other word picks every id containing it.
  const picks = (c, word) => (CONTENDERS.some((x) => x.id === word) ? c.id === word : c.id.includes(word));
  if (o.only) contenders = contenders.filter((c) => o.only.some((word) => picks(c, word)));
  if (o.list) {
    for (const c of CONTENDERS) console.log(`${c.id.padEnd(32)} ${c.label}`);
    return;
  }
  const skipped = contenders.filter((c) => c.optional && !which(c.optional));
  contenders = contenders.filter((c) => !skipped.includes(c));
  if (!contenders.length) throw new Error('no contender matches --only');
  buildC('loadgen');
  if (contenders.some((c) => c.id === 'c-handoff')) buildC('handoff');

  const loadBefore = loadavg();
  const perTrial = o.warmup + o.seconds + 3;
  console.log(
    `sticky-native bench: ${contenders.length} contenders x ${o.rounds} rounds, ${o.warmup} s warm-up + ${o.seconds} s each ` +
      `(about ${Math.ceil((contenders.length * o.rounds * perTrial) / 60)} min); load average ${loadBefore}`,
  );
  for (const c of skipped) console.log(`  skipped ${c.id}: ${c.optional} is not installed (see bench/README.md)`);

  const results = new Map(contenders.map((c) => [c.id, []]));
  for (let round = 0; round < o.rounds; round++) {
    // Contenders alternate: each round starts one further along, odd rounds run backwards.
    let order = contenders.map((_, i) => contenders[(i + round) % contenders.length]);
    if (round % 2) order = order.reverse();
    for (const contender of order) {
      const result = await runTrial(contender, o);
      if (stopping) return new Promise(() => {}); // a signal is ending the run; its handler exits
      results.get(contender.id).push(result);
      const line = result.ok
        ? `${fmtInt(result.load.rate)} conn/s, p99 ${fmtMs(result.load.latency_us.p99)} ms, errors ${result.load.errors.total}, workers ${result.load.workers.join('/')}`
        : `error: ${result.error}`;
      console.log(`  round ${round + 1}/${o.rounds}  ${contender.id.padEnd(30)} ${line}`);
    }
  }
  const loadAfter = loadavg();
  const rows = contenders.map((c) => summarize(c, results.get(c.id)));
  console.log('');
  console.log(consoleTable(rows));
  for (const r of rows) for (const n of r.notes) console.log(`note: ${r.id}: ${n}`);
  console.log(`\nload average before ${loadBefore}, after ${loadAfter}`);

  let parse = null;
  if (o.parse) {
    console.log('\nparse micro-benchmark (bench/parse.js):');
    parse = await runParse();
    console.log(parse);
  }
  if (o.write) {
    const busy = Number(loadBefore.split(' ')[0]) >= os.cpus().length * 0.75 || Number(loadAfter.split(' ')[0]) >= os.cpus().length * 0.75;
    writeDocs(
      rows,
      {
        machine: machine(),
        date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        loadBefore,
        loadAfter,
        loadNote: busy ? 'shared and busy during the run: absolute figures are low, compare the ratios.' : 'otherwise quiet.',
        ...o,
      },
      parse,
    );
    console.log('wrote docs/benchmarks.md and docs/benchmarks.svg');
  }
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.error(`\n${signal}: stopping every process this run started`);
    killEverythingNow();
    // Give Node a moment to reap the children it spawned, so no zombie outlives the run.
    setTimeout(() => process.exit(130), 300);
  });
}
process.on('exit', () => {
  if (tracked.size) killEverythingNow();
});

main().catch((error) => {
  console.error(error.message || error);
  killEverythingNow();
  process.exit(1);
});

'use strict';
// The bench's processes: what it starts, how it finds their descendants and
// their CPU time in /proc, and how it stops every one of them (by pid and
// start time, never by name).

const { spawn, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const BUILD = path.join(ROOT, 'bench', '.build');

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

const RUN_TOKEN = crypto.randomBytes(8).toString('hex');

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

/** User + system CPU time of `pids` in ms (every thread; a process that is gone counts 0). */
function cpuMs(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const stat = procStat(pid);
    if (stat) ticks += stat.utime + stat.stime;
  }
  return (ticks * 1000) / CLK_TCK;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** pid -> start time of every process this run started or saw under one it started. */
const tracked = new Map();

function track(pid) {
  const stat = procStat(pid);
  if (stat && !tracked.has(pid)) tracked.set(pid, stat.start);
}

/** Signals a tracked pid if it is still the same process (same start time). */
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

/** The thrown error's message if the output holds a stack trace, else its last lines. */
function errorLine(text) {
  const line = String(text).split('\n').find((l) => /^\s*(\w*Error|Error \[\w+\])\b.*?:/.test(l));
  return line ? line.trim().slice(0, 300) : lastLines(text);
}

function lastLines(text, n = 3) {
  const lines = String(text).trim().split('\n').filter(Boolean);
  return lines.slice(-n).join(' | ').slice(0, 300) || '(no output)';
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
    const label = path.basename(command === process.execPath ? args[0] : command);
    const entry = { child, output: '', exited: null, label };
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
    for (const pid of this.serverPids()) track(pid);
    for (const pid of pidsWithToken(RUN_TOKEN)) track(pid);
  }

  /** Every live process of this contender: what it started and their descendants. */
  serverPids() {
    const roots = this.children.map((e) => e.child.pid).filter(Boolean);
    return [...roots, ...descendants(roots)];
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
      const pids = new Set([...this.serverPids(), ...pidsWithToken(RUN_TOKEN)]);
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

/**
 * Runs a load generator (bench/.build/<name>) to its end and resolves with the
 * JSON it prints; `onResult` runs the moment that line arrives (the generator
 * prints it before closing its sockets), so the caller can read CPU times there.
 */
function runGenerator(name, args, limitMs, onResult = () => {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(BUILD, name), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid) track(child.pid);
    let out = '';
    let err = '';
    let announced = false;
    child.stdout.on('data', (c) => {
      out += c;
      if (!announced && out.includes('\n')) {
        announced = true;
        onResult();
      }
    });
    child.stderr.on('data', (c) => (err += c));
    const timer = setTimeout(() => child.pid && killTracked(child.pid, 'SIGKILL'), limitMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${name} failed (${signal || code}): ${lastLines(err)}`));
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`${name} printed no JSON: ${lastLines(out + err)}`));
      }
    });
  });
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

/** Compiles bench/<name>.c into bench/.build/<name> unless the binary is newer. */
function buildC(name) {
  const source = path.join(ROOT, 'bench', `${name}.c`);
  const binary = path.join(BUILD, name);
  fs.mkdirSync(BUILD, { recursive: true });
  const fresh = fs.existsSync(binary) && fs.statSync(binary).mtimeMs >= fs.statSync(source).mtimeMs;
  if (!fresh) execFileSync(process.env.CC || 'cc', ['-O2', '-Wall', '-o', binary, source], { stdio: 'inherit' });
  return binary;
}

module.exports = {
  ROOT,
  BUILD,
  Trial,
  buildC,
  cpuMs,
  errorLine,
  freePort,
  killEverythingNow,
  killTracked,
  lastLines,
  runGenerator,
  sleep,
  track,
  tracked,
  waitReady,
  which,
};

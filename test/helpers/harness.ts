/**
 * Integration test harness: real processes, real sockets, loopback only.
 *
 * API (everything is bounded in count and time):
 *
 *   startFixture(file, { env?, args?, readyLine?, timeoutMs?, wrap? }) -> Promise<Fixture>
 *       Spawns `node <file> ...args` with cwd = repo root and env = process.env + env
 *       (so STICKY_NATIVE reaches the fixture), under `wrap` if given (a command that
 *       execs its arguments in place, e.g. ['ip', 'netns', 'exec', name]: the pid
 *       stays node's), waits for a stdout line matching
 *       `readyLine` (default /^listening (\d+)$/; group 1 is the port), then waits
 *       until that port accepts a TCP connection. Rejects (and kills everything)
 *       if the process exits or `timeoutMs` (default 15000) passes first.
 *   Fixture:
 *       pid, port             primary pid, port from the ready line (0 if none)
 *       stdout, stderr        every line so far (both the primary's and the workers')
 *       workerPids()          the primary's direct children, read from /proc
 *       alive()               primary has not exited
 *       waitForLine(re, ms)   first stdout line (already seen or future) matching re
 *       stop()                SIGTERM, wait <= 5 s, then SIGKILL the primary and every
 *                             descendant seen; resolves once none of them is left
 *   stopAll()                 stops every fixture still running (use in afterAll)
 *   freePort()                an unused TCP port on 127.0.0.1
 *   request({ port, host?, localAddress?, path?, headers?, family?, method?, body?,
 *             timeoutMs? }) -> { status, body, headers }
 *       one HTTP/1.1 request, `Connection: close`, no agent.
 *   rawExchange(port, chunks, { host?, localAddress?, delayMs?, endAfter?, timeoutMs })
 *       -> { data, closed, reset }
 *       writes the chunks (delayMs apart), half-closes if endAfter, collects what the
 *       server sends until it closes (closed = true) or timeoutMs passes (closed = false).
 *       reset = the server reset the connection.
 *   parseResponse(buf)       { status, headers, body } from raw HTTP/1.x response bytes
 *   countFds(pid)            entries in /proc/<pid>/fd
 *   sourceAddresses(n)       127.0.0.2, 127.0.0.3, ..., 127.0.0.254, 127.0.1.1, ...
 *   mapLimit(items, limit, fn) run fn over items with at most `limit` in flight
 *   sleep(ms)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export interface FixtureOptions {
  env?: Record<string, string>;
  args?: string[];
  readyLine?: RegExp;
  timeoutMs?: number;
  wrap?: string[];
}

export interface Fixture {
  pid: number;
  port: number;
  stdout: string[];
  stderr: string[];
  stop(): Promise<void>;
  workerPids(): number[];
  alive(): boolean;
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- /proc helpers

interface ProcInfo { pid: number; ppid: number; state: string }

function readProc(pid: number): ProcInfo | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ..." - comm may hold spaces and parentheses.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { pid, state: rest[0], ppid: Number(rest[1]) };
  } catch {
    return null;
  }
}

function allPids(): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (/^\d+$/.test(name)) out.push(Number(name));
  }
  return out;
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const p of allPids()) {
    const info = readProc(p);
    if (info && info.ppid === pid) out.push(p);
  }
  return out;
}

function descendantsOf(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  // Bounded: a process tree of a fixture is small.
  for (let guard = 0; queue.length > 0 && guard < 10_000; guard++) {
    const p = queue.shift() as number;
    for (const c of childrenOf(p)) {
      if (!out.includes(c)) { out.push(c); queue.push(c); }
    }
  }
  return out;
}

/** Processes whose initial environment carries our per-fixture marker. */
function pidsWithMarker(marker: string): number[] {
  const needle = `STICKY_TEST_FIXTURE=${marker}`;
  const out: number[] = [];
  for (const p of allPids()) {
    if (p === process.pid) continue;
    try {
      const env = fs.readFileSync(`/proc/${p}/environ`, 'utf8');
      if (env.split('\0').includes(needle)) out.push(p);
    } catch { /* gone or not ours */ }
  }
  return out;
}

function isLive(pid: number): boolean {
  const info = readProc(pid);
  return info !== null && info.state !== 'Z' && info.state !== 'X';
}

function kill(pid: number, sig: NodeJS.Signals): void {
  try { process.kill(pid, sig); } catch { /* already gone */ }
}

export function countFds(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

// ---------------------------------------------------------------- fixtures

const running = new Set<Fixture>();

export async function startFixture(file: string, opts: FixtureOptions = {}): Promise<Fixture> {
  const readyLine = opts.readyLine ?? /^listening (\d+)$/;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const marker = randomUUID();
  const argv = [...(opts.wrap ?? []), process.execPath, path.resolve(REPO_ROOT, file), ...(opts.args ?? [])];
  const child: ChildProcess = spawn(argv[0], argv.slice(1), {
    cwd: REPO_ROOT,
    env: { ...process.env, ...opts.env, STICKY_TEST_FIXTURE: marker },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not spawn ${file}`);
  const pid = child.pid;
  const stdout: string[] = [];
  const stderr: string[] = [];
  const seen = new Set<number>();
  let exited = false;
  let exitInfo = '';
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => { exited = true; exitInfo = `code=${code} signal=${signal}`; resolve(); });
  });
  const lineWaiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  const splitLines = (stream: NodeJS.ReadableStream | null, sink: string[], isStdout: boolean): void => {
    if (!stream) return;
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).replace(/\r$/, '');
        pending = pending.slice(nl + 1);
        sink.push(line);
        if (process.env.HARNESS_VERBOSE) process.stderr.write(`[${path.basename(file)} ${isStdout ? 'out' : 'err'}] ${line}\n`);
        if (isStdout) {
          for (let i = lineWaiters.length - 1; i >= 0; i--) {
            if (lineWaiters[i].re.test(line)) { lineWaiters[i].resolve(line); lineWaiters.splice(i, 1); }
          }
        }
      }
    });
  };
  splitLines(child.stdout, stdout, true);
  splitLines(child.stderr, stderr, false);

  // Remember descendants while running, so stop() finds workers even after the
  // primary is gone (they are reparented then). Also found by env marker.
  const sampler = setInterval(() => { for (const d of descendantsOf(pid)) seen.add(d); }, 250);
  sampler.unref();

  const waitForLine = (re: RegExp, ms = 10_000): Promise<string> => {
    const have = stdout.find((l) => re.test(l));
    if (have !== undefined) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const waiter = { re, resolve: (l: string) => { clearTimeout(t); resolve(l); } };
      const t = setTimeout(() => {
        const i = lineWaiters.indexOf(waiter);
        if (i >= 0) lineWaiters.splice(i, 1);
        reject(new Error(`no stdout line matching ${re} within ${ms} ms from ${file}`));
      }, ms);
      lineWaiters.push(waiter);
    });
  };

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    if (stopping) return stopping;
    stopping = (async () => {
      const collect = (): void => {
        if (!exited) for (const d of descendantsOf(pid)) seen.add(d);
        for (const d of pidsWithMarker(marker)) seen.add(d);
      };
      collect();
      if (!exited) kill(pid, 'SIGTERM');
      const deadline = Date.now() + 5_000;
      while (!exited && Date.now() < deadline) {
        collect();
        await Promise.race([exitPromise, sleep(100)]);
      }
      collect();
      if (!exited) kill(pid, 'SIGKILL');
      for (const d of seen) if (isLive(d)) kill(d, 'SIGKILL');
      await Promise.race([exitPromise, sleep(3_000)]);
      // Bounded wait until nothing of ours is left.
      const killDeadline = Date.now() + 3_000;
      for (;;) {
        for (const d of pidsWithMarker(marker)) { seen.add(d); kill(d, 'SIGKILL'); }
        const left = [...seen].filter(isLive);
        if (left.length === 0) break;
        if (Date.now() > killDeadline) throw new Error(`processes left behind by ${file}: ${left.join(',')}`);
        for (const d of left) kill(d, 'SIGKILL');
        await sleep(50);
      }
      clearInterval(sampler);
      running.delete(fixture);
    })();
    return stopping;
  };

  const fixture: Fixture = {
    pid,
    port: 0,
    stdout,
    stderr,
    stop,
    workerPids: () => childrenOf(pid).filter(isLive),
    alive: () => !exited,
    waitForLine,
  };
  running.add(fixture);

  const describeFailure = (why: string): Error =>
    new Error(`${file}: ${why}\n--- stdout ---\n${stdout.slice(-30).join('\n')}\n--- stderr ---\n${stderr.slice(-30).join('\n')}`);

  try {
    const line = await Promise.race([
      waitForLine(readyLine, timeoutMs),
      exitPromise.then(() => { throw describeFailure(`exited before ready (${exitInfo})`); }),
    ]);
    const m = readyLine.exec(line);
    fixture.port = m && m[1] ? Number(m[1]) : 0;
    if (fixture.port > 0) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (exited) throw describeFailure(`exited after ready (${exitInfo})`);
        if (await canConnect(fixture.port)) break;
        if (Date.now() > deadline) throw describeFailure(`port ${fixture.port} never accepted a connection`);
        await sleep(50);
      }
    }
  } catch (err) {
    await stop();
    if (err instanceof Error && err.message.startsWith(file)) throw err;
    throw describeFailure(String(err instanceof Error ? err.message : err));
  }
  return fixture;
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((f) => f.stop()));
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const t = setTimeout(() => { s.destroy(); resolve(false); }, 1_000);
    s.once('connect', () => { clearTimeout(t); s.destroy(); resolve(true); });
    s.once('error', () => { clearTimeout(t); resolve(false); });
  });
}

// ---------------------------------------------------------------- certificates

/** Whether openssl runs here: the tests with https workers need a certificate from it. */
export const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

/** A new self-signed certificate for localhost (EC P-256, valid one day), written to `dir`; throws if openssl fails. */
export function selfSignedCertificate(dir: string): { key: string; cert: string } {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  const gen = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost',
  ], { encoding: 'utf8', timeout: 20_000 });
  if (gen.status !== 0) throw new Error(`openssl failed: ${gen.stderr}`);
  return { key, cert };
}

// ---------------------------------------------------------------- clients

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address() as net.AddressInfo;
      srv.close(() => resolve(addr.port));
    });
  });
}

export interface RequestOptions {
  port: number;
  host?: string;
  localAddress?: string;
  path?: string;
  headers?: Record<string, string>;
  family?: 4 | 6;
  method?: string;
  body?: string | Buffer;
  timeoutMs?: number;
}

export interface Response {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

export function request(opts: RequestOptions): Promise<Response> {
  return new Promise((resolve, reject) => {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const headers: Record<string, string> = { Connection: 'close', ...opts.headers };
    if (opts.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(opts.body));
    const req = http.request({
      host: opts.host ?? '127.0.0.1',
      port: opts.port,
      localAddress: opts.localAddress,
      family: opts.family,
      path: opts.path ?? '/',
      method: opts.method ?? 'GET',
      headers,
      agent: false,
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`request timed out after ${timeoutMs} ms (port ${opts.port}${opts.localAddress ? ' from ' + opts.localAddress : ''})`));
    }, timeoutMs);
    req.once('error', (e) => { clearTimeout(timer); reject(e); });
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('error', (e) => { clearTimeout(timer); reject(e); });
      res.once('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers });
      });
    });
    req.end(opts.body);
  });
}

export interface RawOptions {
  host?: string;
  localAddress?: string;
  delayMs?: number;
  endAfter?: boolean;
  timeoutMs: number;
}

export interface RawResult {
  data: Buffer;
  closed: boolean;
  reset: boolean;
}

export function rawExchange(port: number, chunks: (Buffer | string)[], opts: RawOptions): Promise<RawResult> {
  return new Promise((resolve) => {
    const received: Buffer[] = [];
    let reset = false;
    let done = false;
    const sock = net.connect({ port, host: opts.host ?? '127.0.0.1', localAddress: opts.localAddress });
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: Buffer.concat(received), closed, reset });
    };
    const timer = setTimeout(() => finish(false), opts.timeoutMs);
    sock.on('data', (c: Buffer) => received.push(c));
    sock.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') reset = true;
      finish(true);
    });
    sock.on('close', () => finish(true));
    sock.once('connect', async () => {
      for (let i = 0; i < chunks.length && !done; i++) {
        if (i > 0 && opts.delayMs) await sleep(opts.delayMs);
        if (done || sock.destroyed) return;
        sock.write(chunks[i]);
      }
      if (opts.endAfter && !done && !sock.destroyed) sock.end();
    });
  });
}

export function parseResponse(buf: Buffer): { status: number; headers: Record<string, string>; body: string } | null {
  const text = buf.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = text.slice(0, end).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
  if (!m) return null;
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const c = l.indexOf(':');
    if (c > 0) headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
  }
  return { status: Number(m[1]), headers, body: buf.subarray(end + 4).toString('utf8') };
}

/** 127.0.0.2, 127.0.0.3, ... skipping .0 and .255 in the last octet. */
export function sourceAddresses(n: number): string[] {
  if (n > 250 * 254) throw new Error('sourceAddresses: too many');
  const out: string[] = [];
  let hi = 0;
  let lo = 2;
  while (out.length < n) {
    out.push(`127.0.${hi}.${lo}`);
    lo++;
    if (lo === 255) { hi++; lo = 1; }
  }
  return out;
}

export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const runners: Promise<void>[] = [];
  for (let r = 0; r < Math.min(limit, items.length); r++) {
    runners.push((async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i], i);
      }
    })());
  }
  await Promise.all(runners);
  return results;
}

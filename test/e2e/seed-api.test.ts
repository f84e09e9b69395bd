// The seed (0.x) README examples and the sticky-session 1.x README example, run
// as a user would run them, plus the seed API forms and `sync`.
import * as os from 'node:os';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import {
  REPO_ROOT, freePort, mapLimit, request, sleep, sourceAddresses, startFixture, stopAll, type Fixture,
} from '../helpers/harness';

const CORES = os.availableParallelism();
const started: Fixture[] = [];

async function start(file: string, env: Record<string, string> = {}): Promise<Fixture> {
  const port = await freePort();
  const fx = await startFixture(file, { env: { PORT: String(port), ...env } });
  started.push(fx);
  expect(fx.port).toBe(port);
  return fx;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((f) => f.stop()));
});
afterAll(stopAll);

/** `worker: <id>` (the README apps) -> id. */
function readmeWorker(body: string): string {
  const m = /^worker: (\d+)$/.exec(body);
  if (!m) throw new Error(`not a worker answer: ${JSON.stringify(body)}`);
  return m[1];
}

/** `w=<index> id=<NODE_WORKER_ID> ...` (test/fixtures/echo-app.js) -> fields. */
function echoWorker(body: string): { index: number; id: string } {
  const m = /^w=(\d+) id=(\S*) /.exec(body);
  if (!m) throw new Error(`not an echo-app answer: ${JSON.stringify(body)}`);
  return { index: Number(m[1]), id: m[2] };
}

/** One request from each of `n` source addresses, twice; returns address -> worker ids seen. */
async function spreadByAddress(port: number, n: number, parse: (body: string) => string): Promise<Map<string, Set<string>>> {
  const addrs = sourceAddresses(n);
  const jobs = [...addrs, ...addrs];
  const seen = new Map<string, Set<string>>();
  await mapLimit(jobs, 16, async (addr) => {
    const r = await request({ port, localAddress: addr });
    expect(r.status, `status from ${addr}: ${r.body}`).toBe(200);
    const w = parse(r.body);
    if (!seen.has(addr)) seen.set(addr, new Set());
    seen.get(addr)!.add(w);
  });
  return seen;
}

/** One request for each of `n` X-Forwarded-For values, twice, from one source address. */
async function spreadByHeader(port: number, n: number, parse: (body: string) => string): Promise<Map<string, Set<string>>> {
  const values = Array.from({ length: n }, (_, i) => `203.0.${i >> 8}.${i & 255}`);
  const jobs = [...values, ...values];
  const seen = new Map<string, Set<string>>();
  await mapLimit(jobs, 16, async (xff) => {
    const r = await request({ port, headers: { 'X-Forwarded-For': xff } });
    expect(r.status, `status for ${xff}: ${r.body}`).toBe(200);
    const w = parse(r.body);
    if (!seen.has(xff)) seen.set(xff, new Set());
    seen.get(xff)!.add(w);
  });
  return seen;
}

function union(m: Map<string, Set<string>>): Set<string> {
  const all = new Set<string>();
  for (const s of m.values()) for (const w of s) all.add(w);
  return all;
}

function expectSticky(m: Map<string, Set<string>>): void {
  const split = [...m].filter(([, s]) => s.size !== 1).map(([k, s]) => `${k} -> ${[...s].join(',')}`);
  expect(split, 'keys that reached more than one worker').toEqual([]);
}

describe('seed README examples', () => {
  test('plain server (sticky(server).listen(port, cb)): workers answer, one per core, sticky by address', async () => {
    const fx = await start('examples/seed-simple.js');
    expect(fx.stdout).toContain(`server started on ${fx.port} port`);
    const seen = await spreadByAddress(fx.port, 48, readmeWorker);
    expectSticky(seen);
    expect(union(seen).size).toBe(CORES);
  });

  test('socket.io factory: workers answer and socket.io is attached in them', async () => {
    const fx = await start('examples/seed-socketio.js');
    expect(fx.stdout).toContain(`server started on ${fx.port} port`);
    const seen = await spreadByAddress(fx.port, 48, readmeWorker);
    expectSticky(seen);
    expect(union(seen).size).toBe(CORES);
    const hs = await request({ port: fx.port, path: '/socket.io/?EIO=4&transport=polling', localAddress: '127.0.0.2' });
    expect(hs.status).toBe(200);
    expect(hs.body).toMatch(/^0\{"sid":"/);
  });

  test('proxy mode (num: 2, x-forwarded-for): exactly 2 workers, sticky by header, polling session survives', async () => {
    const fx = await start('examples/seed-proxy.js');
    expect(fx.stdout).toContain(`server started on ${fx.port} port`);
    const seen = await spreadByHeader(fx.port, 64, readmeWorker);
    expectSticky(seen);
    expect(union(seen).size).toBe(2);
    // A socket.io polling session: handshake then a poll carrying the sid, same client
    // address in X-Forwarded-For, each on a new connection. A non-sticky balancer
    // answers "Session ID unknown" (400) to some of them.
    const clients = Array.from({ length: 16 }, (_, i) => `198.51.100.${i + 1}`);
    await mapLimit(clients, 4, async (xff) => {
      const headers = { 'X-Forwarded-For': xff };
      const hs = await request({ port: fx.port, path: '/socket.io/?EIO=4&transport=polling', headers });
      expect(hs.status).toBe(200);
      const sid = /"sid":"([^"]+)"/.exec(hs.body)?.[1];
      expect(sid).toBeTruthy();
      const send = await request({
        port: fx.port, method: 'POST', path: `/socket.io/?EIO=4&transport=polling&sid=${sid}`,
        headers: { ...headers, 'Content-Type': 'text/plain;charset=UTF-8' }, body: '40',
      });
      expect(send.status, `POST with sid for ${xff}: ${send.body}`).toBe(200);
      expect(send.body).toBe('ok');
    });
  });

  test('synchronized example: connections are released by the app and answered', async () => {
    const fx = await start('examples/seed-sync.js');
    expect(fx.stdout).toContain(`server started on ${fx.port} port`);
    const seen = await spreadByHeader(fx.port, 24, readmeWorker);
    expectSticky(seen);
    expect(union(seen).size).toBe(2);
  });
});

describe('sticky-session 1.x README example', () => {
  test('listen(server, port) is false in the primary, which emits listening; workers answer', async () => {
    const fx = await start('examples/v1-listen.js');
    // The example prints only in the `!sticky.listen(...)` branch, on the server's 'listening'.
    expect(fx.stdout.filter((l) => l === `server started on ${fx.port} port`)).toHaveLength(1);
    const seen = await spreadByAddress(fx.port, 48, readmeWorker);
    expectSticky(seen);
    expect(union(seen).size).toBe(CORES);
  });

  test('listen() returns false in the primary and true in the workers; workers option honoured', async () => {
    const fx = await start('test/fixtures/v1-server.js', { FIX_WORKERS: '3' });
    expect(fx.stdout).toContain('primary listen() returned false');
    // The 1.x Master may start its workers only once bound: wait (bounded) for all three.
    const deadline = Date.now() + 10_000;
    let workerLines = fx.stdout.filter((l) => l.startsWith('worker listen() returned'));
    while (workerLines.length < 3 && Date.now() < deadline) {
      await sleep(50);
      workerLines = fx.stdout.filter((l) => l.startsWith('worker listen() returned'));
    }
    expect(workerLines).toHaveLength(3);
    expect(new Set(workerLines)).toEqual(new Set(['worker listen() returned true']));
    const seen = await spreadByAddress(fx.port, 64, (b) => String(echoWorker(b).index));
    expectSticky(seen);
    expect([...union(seen)].sort()).toEqual(['0', '1', '2']);
  });

  test('sticky.Master is exported and is a net.Server subclass', () => {
    const out = execFileSync(process.execPath, [path.join(REPO_ROOT, 'test/fixtures/v1-shape.js')], {
      cwd: REPO_ROOT, env: process.env, encoding: 'utf8', timeout: 10_000,
    });
    expect(JSON.parse(out.trim())).toEqual({ listen: 'function', master: 'function', masterIsNetServer: true });
  });
});

describe('seed API forms', () => {
  test('sticky(3, factory): exactly 3 workers, each with NODE_WORKER_ID', async () => {
    const fx = await start('test/fixtures/seed-server.js', { FIX_FORM: 'number', FIX_NUM: '3' });
    const seen = await spreadByAddress(fx.port, 64, (b) => {
      const w = echoWorker(b);
      expect(w.id).toMatch(/^\d+$/);
      return String(w.index);
    });
    expectSticky(seen);
    expect([...union(seen)].sort()).toEqual(['0', '1', '2']);
  });

  test('sticky({ num: 1 }, factory): exactly 1 worker (not the core count)', async () => {
    const fx = await start('test/fixtures/seed-server.js', { FIX_FORM: 'options', FIX_NUM: '1' });
    const seen = await spreadByAddress(fx.port, 32, (b) => {
      const w = echoWorker(b);
      expect(w.id).toMatch(/^\d+$/);
      return String(w.index);
    });
    expect([...union(seen)]).toEqual(['0']);
  });

  test('sticky({ num: 3, proxy: true }, factory): exactly 3 workers, sticky by header', async () => {
    const fx = await start('test/fixtures/seed-server.js', { FIX_FORM: 'options', FIX_NUM: '3', FIX_PROXY: '1' });
    const seen = await spreadByHeader(fx.port, 64, (b) => String(echoWorker(b).index));
    expectSticky(seen);
    expect([...union(seen)].sort()).toEqual(['0', '1', '2']);
  });

  test('sticky(server) with no count: one worker per core, NODE_WORKER_ID distinct per worker', async () => {
    const fx = await start('test/fixtures/seed-server.js', { FIX_FORM: 'server' });
    const pairs = new Map<number, Set<string>>();
    const seen = await spreadByAddress(fx.port, 48, (b) => {
      const w = echoWorker(b);
      expect(w.id).toMatch(/^\d+$/);
      if (!pairs.has(w.index)) pairs.set(w.index, new Set());
      pairs.get(w.index)!.add(w.id);
      return String(w.index);
    });
    expectSticky(seen);
    expect(union(seen).size).toBe(CORES);
    const ids = [...pairs.values()].map((s) => [...s]);
    for (const s of ids) expect(s).toHaveLength(1);
    expect(new Set(ids.flat()).size).toBe(CORES);
  });
});

describe('seed sync option', () => {
  /**
   * Sends requests one at a time and returns, for each, whether the worker
   * logged the request before or after it emitted the sync event.
   */
  async function orderOf(fx: Fixture, proxy: boolean, n: number): Promise<Array<'request-first' | 'emit-first'>> {
    const out: Array<'request-first' | 'emit-first'> = [];
    for (let i = 0; i < n; i++) {
      const url = `/sync-${i}`;
      const r = await request({
        port: fx.port, path: url, localAddress: sourceAddresses(n)[i],
        headers: proxy ? { 'X-Forwarded-For': `192.0.2.${i + 1}` } : {},
      });
      expect(r.status).toBe(200);
      const conn = /c=(\S+)$/.exec(r.body)?.[1];
      expect(conn, r.body).toBeTruthy();
      const emitLine = `emit ${conn}`;
      const reqLine = `request ${conn} ${url}`;
      await fx.waitForLine(new RegExp(`^emit ${conn}$`), 5_000);
      const e = fx.stdout.indexOf(emitLine);
      const q = fx.stdout.indexOf(reqLine);
      expect(q, `no "${reqLine}" in stdout`).toBeGreaterThanOrEqual(0);
      out.push(e < q ? 'emit-first' : 'request-first');
    }
    return out;
  }

  // An http.Server restarts a stopped socket on 'resume' itself; a plain
  // net.Server relies on the balancer to start reading again.
  for (const [proxy, plain] of [[true, false], [false, false], [true, true], [false, true]]) {
    const mode = `${proxy ? 'proxy mode' : 'ip mode'}, ${plain ? 'net.Server' : 'http.Server'}`;
    const env = { FIX_PROXY: proxy ? '1' : '0', FIX_PLAIN: plain ? '1' : '0' };
    test(`${mode}: no data reaches the server until the app emits the event on the socket`, async () => {
      const fx = await start('test/fixtures/seed-sync.js', env);
      expect(await orderOf(fx, proxy, 4)).toEqual(['emit-first', 'emit-first', 'emit-first', 'emit-first']);
    });

    test(`${mode} control: without sync the same app sees the request before its delayed emit`, async () => {
      const fx = await start('test/fixtures/seed-sync.js', { ...env, FIX_SYNC: '0' });
      expect(await orderOf(fx, proxy, 4)).toEqual(['request-first', 'request-first', 'request-first', 'request-first']);
    });
  }
});

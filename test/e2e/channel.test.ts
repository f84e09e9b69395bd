// The native channel (transport: 'channel'): the primary accepts and routes in
// C++ and passes descriptors over per-worker socketpairs. Stickiness in both
// routing modes, every bad head, back-pressure, a SIGKILLed worker, and fds
// and memory over 100,000 connections.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  hasOpenssl, mapLimit, parseResponse, rawExchange, request, selfSignedCertificate, sleep,
  sourceAddresses, startFixture, stopAll, type Fixture,
} from '../helpers/harness';

afterAll(stopAll);

const FIXTURE = 'test/fixtures/channel-server.js';
// The file pins transport 'channel', so it runs once: in the native project.
const isNative = process.env.STICKY_NATIVE !== 'fallback' && !process.env.STICKY_TRANSPORT;

interface Stats {
  transport: string;
  workers: { index: number; pid: number | null; live: boolean; connections: number }[];
  routed: number;
  rejected: Record<string, number>;
  pending: number;
  fds: number;
  rssKb: number;
}

let asked = new WeakMap<Fixture, number>();
async function stats(fx: Fixture): Promise<Stats> {
  const n = (asked.get(fx) ?? 0) + 1;
  asked.set(fx, n);
  process.kill(fx.pid, 'SIGUSR2');
  const line = await fx.waitForLine(new RegExp(`^stats ${n} `), 5_000);
  return JSON.parse(line.slice(line.indexOf('{'))) as Stats;
}

function workerOf(body: string): number {
  const m = /^w=(\d+) /.exec(body);
  if (!m) throw new Error(`not an echo-app answer: ${JSON.stringify(body)}`);
  return Number(m[1]);
}

async function workerFor(port: number, localAddress: string, headers?: Record<string, string>): Promise<number> {
  const r = await request({ port, localAddress, headers });
  expect(r.status, r.body).toBe(200);
  return workerOf(r.body);
}

describe.skipIf(!isNative)('channel, ip routing, 3 workers', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await startFixture(FIXTURE, { env: { FIX_WORKERS: '3' } });
  });
  afterAll(() => fx?.stop());

  test('each source address sticks to one worker; all workers used; counters add up', async () => {
    expect((await stats(fx)).transport).toBe('channel');
    const addrs = sourceAddresses(90);
    const seen = new Map<string, Set<number>>(addrs.map((a) => [a, new Set<number>()]));
    await mapLimit([...addrs, ...addrs, ...addrs], 16, async (a) => {
      seen.get(a)!.add(await workerFor(fx.port, a));
    });
    expect([...seen].filter(([, s]) => s.size !== 1).map(([a]) => a)).toEqual([]);
    const share = [0, 0, 0];
    for (const s of seen.values()) share[[...s][0]]++;
    for (const n of share) expect(n, share.join('/')).toBeGreaterThan(10);
    const st = await stats(fx);
    expect(st.routed).toBeGreaterThanOrEqual(270);
    expect(st.pending).toBe(0);
  });

  test('a SIGKILLed worker: its queued and new clients go to live workers, nobody else moves, they return after respawn', async () => {
    const addrs = sourceAddresses(60);
    const owner = new Map<string, number>();
    for (const a of addrs) owner.set(a, await workerFor(fx.port, a));
    const victim = 1;
    const mine = addrs.filter((a) => owner.get(a) === victim);
    expect(mine.length).toBeGreaterThan(5);
    const pid = (await stats(fx)).workers[victim].pid!;
    // Hold the victim busy so that its clients pile up: first in its channel, then queued in the primary.
    const blocker = request({ port: fx.port, localAddress: mine[0], path: '/block?ms=1500' }).catch(() => null);
    await sleep(200);
    const queued: Promise<{ status: number; w: number | null }>[] = [];
    for (let i = 0; i < 120; i++) {
      const a = mine[i % mine.length];
      queued.push(rawExchange(fx.port, [`GET /queued HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`], { localAddress: a, timeoutMs: 10_000 })
        .then((res) => {
          const parsed = parseResponse(res.data);
          return { status: parsed?.status ?? 0, w: parsed?.status === 200 ? workerOf(parsed.body) : null };
        }));
      await sleep(2);
    }
    await sleep(100);
    process.kill(pid, 'SIGKILL');
    const answers = await Promise.all(queued);
    await blocker;
    // Each was answered by a live worker or, if it was already in the dead worker's channel, closed: none waits on.
    expect(answers.filter((r) => r.status === 200 && r.w === victim)).toEqual([]);
    const moved = answers.filter((r) => r.status === 200).length;
    expect(moved, 'queued connections re-routed to live workers').toBeGreaterThan(0);
    // While it is down: its clients move, nobody else does.
    const during = new Map<string, number>();
    for (const a of addrs) during.set(a, await workerFor(fx.port, a));
    for (const a of addrs) {
      if (owner.get(a) === victim) expect(during.get(a)).not.toBe(victim);
      else expect(during.get(a), a).toBe(owner.get(a));
    }
    await fx.waitForLine(new RegExp(`^online ${victim} (?!${pid}$)\\d+$`), 10_000);
    for (const a of addrs) expect(await workerFor(fx.port, a), a).toBe(owner.get(a));
  });
});

describe.skipIf(!isNative)('channel, header routing, headTimeout 500', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await startFixture(FIXTURE, { env: { FIX_ROUTING: 'header', FIX_HEAD_TIMEOUT: '500' } });
  });
  afterAll(() => fx?.stop());

  async function expectAlive(): Promise<void> {
    expect(fx.alive()).toBe(true);
    await workerFor(fx.port, '127.0.0.1', { 'X-Forwarded-For': '192.0.2.77' });
  }

  // The typed API's forwardedPick defaults to 'rightmost-untrusted' with loopback trusted:
  // a list routes by its rightmost address that is not a loopback proxy, whatever a client prepended.
  test('sticky per header value over one source address; lists route by the rightmost untrusted', async () => {
    const values: string[] = [];
    for (let i = 0; i < 60; i++) values.push(`10.${i}.${i * 3 & 255}.1`, `2001:db8:${i.toString(16)}::7`);
    const seen = new Map<string, Set<number>>(values.map((v) => [v, new Set<number>()]));
    await mapLimit([...values, ...values], 16, async (v) => {
      seen.get(v)!.add(await workerFor(fx.port, '127.0.0.1', { 'X-Forwarded-For': v }));
    });
    expect([...seen].filter(([, s]) => s.size !== 1).map(([v]) => v)).toEqual([]);
    const used = new Set([...seen.values()].map((s) => [...s][0]));
    expect(used.size).toBe(2);
    for (const v of values.slice(0, 10)) {
      expect(await workerFor(fx.port, '127.0.0.1', { 'X-Forwarded-For': `6.6.6.6, ${v}, 127.0.0.1` })).toBe([...seen.get(v)!][0]);
    }
  });

  test('missing and invalid header -> 400 with the exact texts; 431 past headLimit', async () => {
    const before = (await stats(fx)).rejected;
    const missing = await request({ port: fx.port, headers: { 'X-Other': '1.2.3.4' } });
    expect(missing.status).toBe(400);
    expect(missing.body).toBe('Missing x-forwarded-for header\n');
    for (const bad of ['unknown', '', 'example.com', 'for=1.2.3.4']) {
      const r = await request({ port: fx.port, headers: { 'X-Forwarded-For': bad } });
      expect(r.status, bad).toBe(400);
      expect(r.body).toBe('x-forwarded-for header does not start with an IP address\n');
    }
    const pad = Array.from({ length: 200 }, (_, i) => `X-Pad-${i}: ${'q'.repeat(96)}\r\n`).join('');
    const big = await rawExchange(fx.port, [`GET /big HTTP/1.1\r\nHost: x\r\n${pad}`], { timeoutMs: 10_000 });
    const parsed = parseResponse(big.data);
    expect(parsed?.status, big.data.toString('latin1').slice(0, 100)).toBe(431);
    expect(parsed!.body).toBe('Request head is over 16384 bytes\n');
    const after = (await stats(fx)).rejected;
    expect(after['missing-header'] - before['missing-header']).toBe(1);
    expect(after['invalid-header'] - before['invalid-header']).toBe(4);
    expect(after['head-too-large'] - before['head-too-large']).toBe(1);
    await expectAlive();
  });

  test('no complete head within headTimeout -> closed, counted head-timeout', async () => {
    const before = (await stats(fx)).rejected['head-timeout'];
    const started = Date.now();
    const [half, silent] = await Promise.all([
      rawExchange(fx.port, ['GET /slow HTTP/1.1\r\nHost: x\r\n'], { timeoutMs: 5_000 }),
      rawExchange(fx.port, [], { timeoutMs: 5_000 }),
    ]);
    expect(half.closed && silent.closed).toBe(true);
    expect(half.data.length + silent.data.length).toBe(0);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((await stats(fx)).rejected['head-timeout'] - before).toBe(2);
    await expectAlive();
  });

  test('garbage, bytes that are not HTTP, and early closes: the primary survives; fds return to baseline', async () => {
    const garbage: Buffer[] = [
      Buffer.from([0x00, 0x01, 0xff, 0x0d, 0x0a, 0x0d, 0x0a]),
      crypto.randomBytes(4096),
      Buffer.from('GET / HTTP/1.1\r\nno colon here\r\n\r\n'),
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
      Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]),
    ];
    for (const g of garbage) await rawExchange(fx.port, [g], { endAfter: true, timeoutMs: 3_000 });
    await expectAlive();
    await sleep(300);
    const baseline = (await stats(fx)).fds;
    const half = 'GET /half HTTP/1.1\r\nHost: x\r\nX-Forw';
    await mapLimit(Array.from({ length: 400 }, (_, i) => i), 32, async (i) => {
      await rawExchange(fx.port, i % 2 ? [half] : [], { timeoutMs: i % 2 ? 30 : 5 });
    });
    let now = (await stats(fx)).fds;
    for (let i = 0; i < 40 && now > baseline; i++) {
      await sleep(200);
      now = (await stats(fx)).fds;
    }
    expect(now, `primary fds: baseline ${baseline}, after ${now}`).toBeLessThanOrEqual(baseline);
    const st = await stats(fx);
    expect(st.pending).toBe(0);
    expect(st.rejected['closed-early']).toBeGreaterThan(0);
    await expectAlive();
  });
});

describe.skipIf(!isNative || !hasOpenssl)('channel, header routing, https in the workers', () => {
  let fx: Fixture;
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sticky-channel-tls-'));
    const { key, cert } = selfSignedCertificate(dir);
    fx = await startFixture(FIXTURE, { env: { FIX_ROUTING: 'header', FIX_TLS_KEY: key, FIX_TLS_CERT: cert } });
  });
  afterAll(async () => {
    await fx?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a TLS ClientHello is routed by peer address, sticky per source', async () => {
    const tlsWorker = (localAddress: string): Promise<number> => new Promise((resolve, reject) => {
      const req = https.request({
        host: '127.0.0.1', port: fx.port, path: '/tls', localAddress, agent: false, rejectUnauthorized: false,
        headers: { Connection: 'close' }, timeout: 10_000,
      }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => { body += c; });
        res.on('end', () => resolve(workerOf(body)));
      });
      req.on('timeout', () => req.destroy(new Error('TLS request timed out')));
      req.on('error', reject);
      req.end();
    });
    const addrs = sourceAddresses(16);
    const seen = new Map<string, Set<number>>(addrs.map((a) => [a, new Set<number>()]));
    await mapLimit([...addrs, ...addrs], 8, async (a) => { seen.get(a)!.add(await tlsWorker(a)); });
    expect([...seen].filter(([, s]) => s.size !== 1).map(([a]) => a)).toEqual([]);
    expect(new Set([...seen.values()].map((s) => [...s][0])).size).toBe(2);
  });
});

/** Connects (resolving once connected, so the next one is a separate accept), then sends one request; `answer` settles with the status (0: closed without one). */
function openOne(port: number, localAddress: string): Promise<{ answer: Promise<{ status: number; body: string }> }> {
  return new Promise((connected) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    const chunks: Buffer[] = [];
    const answer = new Promise<{ status: number; body: string }>((resolve) => {
      const timer = setTimeout(() => socket.destroy(), 20_000);
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', () => {});
      socket.on('close', () => {
        clearTimeout(timer);
        const parsed = parseResponse(Buffer.concat(chunks));
        resolve({ status: parsed?.status ?? 0, body: parsed?.body ?? '' });
      });
    });
    socket.once('connect', () => {
      socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      connected({ answer });
    });
    socket.once('error', () => connected({ answer }));
  });
}

describe.skipIf(!isNative)('channel back-pressure: queueLimit 32, one worker blocked for 2 s', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await startFixture(FIXTURE, { env: { FIX_QUEUE_LIMIT: '32' } });
  });
  afterAll(() => fx?.stop());

  test('200 connections to the blocked worker: the overflow is answered 503 and counted queue-full, the rest served after the block', async () => {
    const addrs = sourceAddresses(40);
    const mine: string[] = [];
    for (const a of addrs) if ((await workerFor(fx.port, a)) === 0) mine.push(a);
    expect(mine.length).toBeGreaterThan(3);
    const before = await stats(fx);
    const blocker = request({ port: fx.port, localAddress: mine[0], path: '/block?ms=2000', timeoutMs: 20_000 });
    await sleep(200);
    const opened: Promise<{ status: number; body: string }>[] = [];
    // Spaced so that most arrive in a wake-up of their own: the channel holds
    // ~86 messages whatever their size, so coalesced batches would let far
    // more than 200 connections wait in the kernel (see docs/internals.md).
    for (let i = 0; i < 200; i++) {
      opened.push((await openOne(fx.port, mine[i % mine.length])).answer);
      await sleep(4);
    }
    const answers = await Promise.all(opened);
    expect((await blocker).body).toBe('blocked w=0');
    const busy = answers.filter((a) => a.status === 503);
    const served = answers.filter((a) => a.status === 200);
    const after = await stats(fx);
    console.log(`back-pressure: ${served.length} served, ${busy.length} answered 503, queue-full counted ${after.rejected['queue-full'] - before.rejected['queue-full']}`);
    expect(busy.length + served.length, 'every connection answered').toBe(200);
    expect(busy.length).toBeGreaterThan(0);
    expect(served.length).toBeGreaterThan(32);
    for (const a of busy) expect(a.body).toBe('No worker is available\n');
    for (const a of served) expect(workerOf(a.body)).toBe(0);
    expect(after.rejected['queue-full'] - before.rejected['queue-full']).toBe(busy.length);
    expect(after.pending).toBe(0);
  });
});

describe.skipIf(!isNative)('channel: fds and memory over 100,000 connections', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await startFixture(FIXTURE);
  });
  afterAll(() => fx?.stop());

  /** One request per connection over raw sockets (cheaper for the client than http.request). */
  function exchange(localAddress: string): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = net.connect({ port: fx.port, host: '127.0.0.1', localAddress });
      let got = '';
      const timer = setTimeout(() => socket.destroy(), 10_000);
      socket.setEncoding('latin1');
      socket.on('data', (c: string) => { got += c; });
      socket.on('error', () => {});
      socket.on('close', () => { clearTimeout(timer); resolve(got.startsWith('HTTP/1.1 200')); });
      socket.once('connect', () => socket.end('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    });
  }

  test('primary fds back to baseline, RSS growth under 20 MB', async () => {
    const addrs = sourceAddresses(128);
    const run = async (count: number): Promise<number> => {
      let ok = 0;
      await mapLimit(Array.from({ length: count }, (_, i) => i), 64, async (i) => { if (await exchange(addrs[i % addrs.length])) ok++; });
      return ok;
    };
    expect(await run(5_000)).toBe(5_000);
    await sleep(500);
    const before = await stats(fx);
    const started = Date.now();
    const ok = await run(100_000);
    const seconds = (Date.now() - started) / 1000;
    await sleep(1_000);
    const after = await stats(fx);
    console.log(`100k connections in ${seconds.toFixed(1)} s: primary fds ${before.fds} -> ${after.fds}, RSS ${(before.rssKb / 1024).toFixed(1)} -> ${(after.rssKb / 1024).toFixed(1)} MB`);
    expect(ok).toBe(100_000);
    expect(after.routed - before.routed).toBe(100_000);
    expect(after.fds).toBe(before.fds);
    expect(after.rssKb - before.rssKb).toBeLessThan(20 * 1024);
    expect(after.pending).toBe(0);
  }, 300_000);
});

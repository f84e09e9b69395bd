// Header routing (`proxy: true` in the seed API, routing 'header' in the typed
// API): the client address comes from a forwarded header, over one source
// address. Plus every kind of bad input the primary must survive.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  countFds, freePort, hasOpenssl, mapLimit, parseResponse, rawExchange, request, selfSignedCertificate, sleep,
  sourceAddresses, startFixture, stopAll, type Fixture,
} from '../helpers/harness';

afterAll(stopAll);

interface Echo { w: number; m: string; u: string; n: number; h: string }

function parseEcho(body: string): Echo {
  const m = /^w=(\d+) id=\S* m=(\S+) u=(\S+) n=(\d+) h=([0-9a-f]{8})$/.exec(body);
  if (!m) throw new Error(`not an echo-app answer: ${JSON.stringify(body)}`);
  return { w: Number(m[1]), m: m[2], u: m[3], n: Number(m[4]), h: m[5] };
}

async function workerFor(port: number, headers: Record<string, string>, localAddress?: string): Promise<number> {
  const r = await request({ port, headers, localAddress });
  expect(r.status, `headers ${JSON.stringify(headers)} -> ${r.status} ${r.body}`).toBe(200);
  return parseEcho(r.body).w;
}

/** The primary is alive and a good request through the header path works. */
async function expectAlive(fx: Fixture, header = 'X-Forwarded-For'): Promise<void> {
  expect(fx.alive(), 'primary exited').toBe(true);
  const r = await request({ port: fx.port, headers: { [header]: '192.0.2.77' } });
  expect(r.status, r.body).toBe(200);
  parseEcho(r.body);
}

// Deterministic, distinct header values: IPv4, IPv6, and lists whose leftmost
// element is an address used nowhere else.
function headerValues(): { single: string[]; lists: Array<{ value: string; leftmost: string }> } {
  const single: string[] = [];
  for (let i = 0; i < 150; i++) single.push(`10.${(i * 7) & 255}.${i >> 4}.${(i * 13 + 1) & 255}`);
  for (let i = 0; i < 150; i++) single.push(`2001:db8:${(i * 31).toString(16)}::${(i + 1).toString(16)}`);
  const lists: Array<{ value: string; leftmost: string }> = [];
  for (let i = 0; i < 100; i++) {
    const leftmost = i % 2 === 0 ? `172.20.${i}.${i + 3}` : `2001:db8:ffff::${(i + 0x100).toString(16)}`;
    lists.push({ value: `${leftmost}, 192.168.0.1, 2001:db8::9`, leftmost });
  }
  return { single, lists };
}

describe('seed API, proxy: true (x-forwarded-for), 3 workers', () => {
  let fx: Fixture;
  beforeAll(async () => {
    const port = await freePort();
    fx = await startFixture('test/fixtures/seed-server.js', {
      env: { PORT: String(port), FIX_FORM: 'options', FIX_NUM: '3', FIX_PROXY: '1' },
    });
  });
  afterAll(() => fx?.stop());

  test('400 distinct values x 3 requests over one source address: sticky per value, lists route by leftmost, all workers used', async () => {
    const { single, lists } = headerValues();
    const values = [...single, ...lists.map((l) => l.value), ...lists.map((l) => l.leftmost)];
    expect(new Set(values).size).toBe(values.length);
    const jobs: string[] = [];
    for (let r = 0; r < 3; r++) jobs.push(...values);
    const seen = new Map<string, Set<number>>(values.map((v) => [v, new Set<number>()]));
    await mapLimit(jobs, 32, async (v) => {
      seen.get(v)!.add(await workerFor(fx.port, { 'X-Forwarded-For': v }, '127.0.0.1'));
    });
    const split = [...seen].filter(([, s]) => s.size !== 1).map(([v, s]) => `${v} -> ${[...s].join(',')}`);
    expect(split, 'values that reached more than one worker').toEqual([]);
    const one = (v: string): number => [...seen.get(v)!][0];
    const listMismatch = lists.filter((l) => one(l.value) !== one(l.leftmost)).map((l) => `${l.value} -> ${one(l.value)}, ${l.leftmost} -> ${one(l.leftmost)}`);
    expect(listMismatch, 'lists not routed like their leftmost address').toEqual([]);
    const share = [0, 0, 0];
    for (const v of [...single, ...lists.map((l) => l.leftmost)]) share[one(v)]++;
    const mean = (single.length + lists.length) / 3;
    for (const s of share) expect(s, `shares ${share.join('/')}`).toBeGreaterThan(0.5 * mean);
  });

  test('text forms of one address route alike (v4-mapped, brackets, ports, case, zero runs)', async () => {
    const groups: string[][] = [];
    for (let i = 0; i < 12; i++) {
      const v4 = `100.64.${i}.${i * 5 + 1}`;
      groups.push([v4, `::ffff:${v4}`, `${v4}:8080`, ` ${v4} , 10.0.0.1`]);
      const h = (0xa0 + i).toString(16);
      groups.push([`2001:db8::${h}`, `2001:DB8:0:0:0:0:0:${h.toUpperCase()}`, `[2001:db8::${h}]`, `[2001:db8::${h}]:443`]);
    }
    const mismatched: string[] = [];
    await mapLimit(groups, 4, async (forms) => {
      const ws: number[] = [];
      for (const f of forms) ws.push(await workerFor(fx.port, { 'X-Forwarded-For': f }));
      if (new Set(ws).size !== 1) mismatched.push(forms.map((f, i) => `${JSON.stringify(f)}->${ws[i]}`).join(' '));
    });
    expect(mismatched).toEqual([]);
  });

  test('head split across writes (1 byte at a time for 40 bytes): worker sees the exact POST', async () => {
    const body = crypto.randomBytes(1000).toString('hex').slice(0, 1000);
    const sha = crypto.createHash('sha1').update(body).digest('hex').slice(0, 8);
    const url = '/split/path?q=1&r=%20x';
    const head = `POST ${url} HTTP/1.1\r\nX-Forwarded-For: 10.99.1.2\r\nHost: x\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    const bytes = Buffer.from(head + body);
    const chunks: Buffer[] = [];
    for (let i = 0; i < 40; i++) chunks.push(bytes.subarray(i, i + 1));
    chunks.push(bytes.subarray(40));
    const expected = await workerFor(fx.port, { 'X-Forwarded-For': '10.99.1.2' });
    for (let round = 0; round < 3; round++) {
      const res = await rawExchange(fx.port, chunks, { delayMs: 3, timeoutMs: 10_000 });
      const parsed = parseResponse(res.data);
      expect(parsed, `raw answer: ${JSON.stringify(res.data.toString('latin1'))}`).not.toBeNull();
      expect(parsed!.status).toBe(200);
      expect(parseEcho(parsed!.body)).toEqual({ w: expected, m: 'POST', u: url, n: 1000, h: sha });
    }
  });

  test('header after 10 KiB of other header lines still routes by it', async () => {
    const pad = Array.from({ length: 100 }, (_, i) => `X-Pad-${i}: ${'p'.repeat(96)}\r\n`).join('');
    for (const xff of ['10.77.0.1', '2001:db8:77::1', '10.77.0.2']) {
      const expected = await workerFor(fx.port, { 'X-Forwarded-For': xff });
      const head = `GET /late HTTP/1.1\r\nHost: x\r\n${pad}X-Forwarded-For: ${xff}\r\nConnection: close\r\n\r\n`;
      expect(head.length).toBeGreaterThan(10_000);
      expect(head.length).toBeLessThan(16_000);
      const res = await rawExchange(fx.port, [head], { timeoutMs: 10_000 });
      const parsed = parseResponse(res.data);
      expect(parsed?.status, res.data.toString('latin1').slice(0, 200)).toBe(200);
      expect(parseEcho(parsed!.body).w).toBe(expected);
    }
  });

  test('header missing -> 400 whose body names the header', async () => {
    const r = await request({ port: fx.port, headers: { 'X-Something-Else': '1.2.3.4' } });
    expect(r.status).toBe(400);
    expect(r.body.toLowerCase()).toContain('x-forwarded-for');
    await expectAlive(fx);
  });

  test('header value not an address -> same as missing (400)', async () => {
    for (const bad of ['unknown', '_hidden', 'example.com', '1.2.3', '256.1.1.1', 'fe80::1%eth0', '', ', 10.0.0.1']) {
      const r = await request({ port: fx.port, headers: { 'X-Forwarded-For': bad } });
      expect(r.status, `value ${JSON.stringify(bad)}: ${r.body}`).toBe(400);
      expect(r.body.toLowerCase()).toContain('x-forwarded-for');
    }
    await expectAlive(fx);
  });

  test('head over 16 KiB without the header -> 431', async () => {
    const pad = Array.from({ length: 200 }, (_, i) => `X-Pad-${i}: ${'q'.repeat(96)}\r\n`).join('');
    expect(pad.length).toBeGreaterThan(16 * 1024);
    const res = await rawExchange(fx.port, [`GET /big HTTP/1.1\r\nHost: x\r\n${pad}`], { timeoutMs: 10_000 });
    expect(res.data.toString('latin1')).toMatch(/^HTTP\/1\.[01] 431 /);
    await expectAlive(fx);
  });

  test('garbage bytes do not hurt the primary', async () => {
    const garbage: Buffer[] = [
      Buffer.from([0x00, 0x01, 0x02, 0xff, 0xfe, 0x0d, 0x0a, 0x0d, 0x0a]),
      crypto.randomBytes(4096),
      Buffer.from('\r\n\r\n\r\n'),
      Buffer.from('GET  HTTP/1.1\r\n\r\n'),
      Buffer.from('GET / HTTP/1.1\r\nno colon here\r\n\r\n'),
      Buffer.from('G\x00T / HTTP/1.1\r\n\r\n', 'latin1'),
      Buffer.from(`${'A'.repeat(30)} / HTTP/1.1\r\n\r\n`),
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
    ];
    for (const g of garbage) {
      const res = await rawExchange(fx.port, [g], { endAfter: true, timeoutMs: 3_000 });
      void res;
      await expectAlive(fx);
    }
  });

  test('clients closing early (500 half heads, 500 bare connects) leave no fds behind in the primary', async () => {
    // Warm up every path once so lazily opened descriptors are in the baseline.
    for (let i = 0; i < 5; i++) await expectAlive(fx);
    await rawExchange(fx.port, ['GET / HT'], { timeoutMs: 200 });
    await rawExchange(fx.port, [], { timeoutMs: 50 });
    await sleep(300);
    const baseline = countFds(fx.pid);
    const half = 'GET /half HTTP/1.1\r\nHost: x\r\nX-Forw';
    await mapLimit(Array.from({ length: 500 }, (_, i) => i), 32, async () => {
      await rawExchange(fx.port, [half], { timeoutMs: 30 });
    });
    await mapLimit(Array.from({ length: 500 }, (_, i) => i), 32, async () => {
      await rawExchange(fx.port, [], { timeoutMs: 5 });
    });
    let now = countFds(fx.pid);
    const deadline = Date.now() + 8_000;
    while (now > baseline && Date.now() < deadline) {
      await sleep(200);
      now = countFds(fx.pid);
    }
    expect(now, `primary fds: baseline ${baseline}, after ${now}`).toBeLessThanOrEqual(baseline);
    await expectAlive(fx);
  });
});

describe('seed API, header: "X-Real-IP"', () => {
  let fx: Fixture;
  beforeAll(async () => {
    const port = await freePort();
    fx = await startFixture('test/fixtures/seed-server.js', {
      env: { PORT: String(port), FIX_FORM: 'options', FIX_NUM: '3', FIX_PROXY: '1', FIX_HEADER: 'X-Real-IP' },
    });
  });
  afterAll(() => fx?.stop());

  test('routes by the configured header in any case, ignoring X-Forwarded-For', async () => {
    const values = Array.from({ length: 60 }, (_, i) => `198.18.${i}.${(i * 3) & 255}`);
    const seen = new Map<string, Set<number>>(values.map((v) => [v, new Set<number>()]));
    const jobs: Array<[string, number]> = [];
    for (let r = 0; r < 3; r++) for (const v of values) jobs.push([v, r]);
    const spellings = ['X-REAL-ip', 'x-real-ip', 'X-Real-IP'];
    await mapLimit(jobs, 16, async ([v, r]) => {
      // A different X-Forwarded-For every time: it must not matter.
      seen.get(v)!.add(await workerFor(fx.port, { [spellings[r]]: v, 'X-Forwarded-For': `10.1.${r}.${seen.size & 255}` }));
    });
    expect([...seen].filter(([, s]) => s.size !== 1).map(([v]) => v)).toEqual([]);
    const used = new Set<number>();
    for (const s of seen.values()) for (const w of s) used.add(w);
    expect(used.size).toBe(3);
  });

  test('only X-Forwarded-For present -> 400 naming X-Real-IP', async () => {
    const r = await request({ port: fx.port, headers: { 'X-Forwarded-For': '10.2.3.4' } });
    expect(r.status).toBe(400);
    expect(r.body.toLowerCase()).toContain('x-real-ip');
    await expectAlive(fx, 'X-Real-IP');
  });
});

describe('typed API, routing: header, ignoreMissingHeader, headTimeout: 500', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await startFixture('test/fixtures/typed-server.js', {
      env: { FIX_WORKERS: '2', FIX_ROUTING: 'header', FIX_IGNORE_MISSING: '1', FIX_HEAD_TIMEOUT: '500' },
    });
  });
  afterAll(() => fx?.stop());

  test('header missing -> served, routed by peer address', async () => {
    const addrs = sourceAddresses(40);
    const seen = new Map<string, Set<number>>(addrs.map((a) => [a, new Set<number>()]));
    await mapLimit([...addrs, ...addrs, ...addrs], 16, async (a) => {
      seen.get(a)!.add(await workerFor(fx.port, {}, a));
    });
    expect([...seen].filter(([, s]) => s.size !== 1).map(([a]) => a)).toEqual([]);
    const used = new Set<number>();
    for (const s of seen.values()) for (const w of s) used.add(w);
    expect(used.size, 'missing-header requests all went to one worker: not routed by peer address').toBe(2);
  });

  test('header value not an address -> served like missing (by peer address)', async () => {
    for (const a of sourceAddresses(6)) {
      const byPeer = await workerFor(fx.port, {}, a);
      for (const bad of ['unknown', '_hidden', 'not an ip']) {
        expect(await workerFor(fx.port, { 'X-Forwarded-For': bad }, a)).toBe(byPeer);
      }
    }
  });

  test('no complete head within headTimeout -> connection closed; the primary still serves', async () => {
    const res = await rawExchange(fx.port, ['GET /slow HTTP/1.1\r\nHost: x\r\n'], { timeoutMs: 5_000 });
    expect(res.closed, 'connection still open 5 s after a 500 ms head timeout').toBe(true);
    // Nothing was routed: the app never answered.
    expect(res.data.toString('latin1')).not.toMatch(/w=\d/);
    const silent = await rawExchange(fx.port, [], { timeoutMs: 5_000 });
    expect(silent.closed, 'silent connection still open 5 s after a 500 ms head timeout').toBe(true);
    await expectAlive(fx);
  });
});

describe.skipIf(!hasOpenssl)('typed API, routing: header, https in the workers', () => {
  let fx: Fixture;
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sticky-tls-'));
    const { key, cert } = selfSignedCertificate(dir);
    fx = await startFixture('test/fixtures/typed-server.js', {
      env: { FIX_WORKERS: '2', FIX_ROUTING: 'header', FIX_TLS_KEY: key, FIX_TLS_CERT: cert },
    });
  });
  afterAll(async () => {
    await fx?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  function tlsRequest(localAddress: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request({
        host: '127.0.0.1', port: fx.port, path: '/tls', localAddress, agent: false, rejectUnauthorized: false,
        headers: { Connection: 'close' }, timeout: 10_000,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('timeout', () => req.destroy(new Error('TLS request timed out')));
      req.on('error', reject);
      req.end();
    });
  }

  test('a TLS ClientHello is routed by peer address and the TLS request succeeds', async () => {
    const addrs = sourceAddresses(24);
    const seen = new Map<string, Set<number>>(addrs.map((a) => [a, new Set<number>()]));
    await mapLimit([...addrs, ...addrs], 8, async (a) => {
      const r = await tlsRequest(a);
      expect(r.status, r.body).toBe(200);
      const e = parseEcho(r.body);
      expect(e.u).toBe('/tls');
      seen.get(a)!.add(e.w);
    });
    expect([...seen].filter(([, s]) => s.size !== 1).map(([a]) => a)).toEqual([]);
    const used = new Set<number>();
    for (const s of seen.values()) for (const w of s) used.add(w);
    expect(used.size).toBe(2);
    expect(fx.alive()).toBe(true);
  });
});

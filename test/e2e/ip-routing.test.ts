// IP routing: every client address always reaches the same worker, the workers
// share the addresses fairly, and plain round-robin cluster (the control) is
// not sticky under the same load.
import * as net from 'node:net';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { mapLimit, request, sourceAddresses, startFixture, stopAll, type Fixture } from '../helpers/harness';

const WORKERS = 4;
const ADDRESSES = 300;
const PER_ADDRESS = 5;

const started: Fixture[] = [];
async function start(file: string, env: Record<string, string>): Promise<Fixture> {
  const fx = await startFixture(file, { env });
  started.push(fx);
  return fx;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((f) => f.stop()));
});
afterAll(stopAll);

function workerIndex(body: string): number {
  const m = /^w=(\d+)/.exec(body);
  if (!m) throw new Error(`not a worker answer: ${JSON.stringify(body)}`);
  return Number(m[1]);
}

/**
 * PER_ADDRESS connections from each address, interleaved (address 0..n-1, then
 * again), at most 32 in flight. Returns address -> set of worker indices.
 */
async function load(port: number, addrs: string[], perAddress: number, host = '127.0.0.1'): Promise<Map<string, Set<number>>> {
  const jobs: string[] = [];
  for (let r = 0; r < perAddress; r++) jobs.push(...addrs);
  const seen = new Map<string, Set<number>>(addrs.map((a) => [a, new Set<number>()]));
  await mapLimit(jobs, 32, async (addr) => {
    const res = await request({ port, host, localAddress: addr });
    expect(res.status, `from ${addr}: ${res.body}`).toBe(200);
    seen.get(addr)!.add(workerIndex(res.body));
  });
  return seen;
}

function splitAddresses(seen: Map<string, Set<number>>): string[] {
  return [...seen].filter(([, s]) => s.size > 1).map(([a, s]) => `${a} -> ${[...s].join(',')}`);
}

function canListenOnLoopback6(): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(0, '::1', () => srv.close(() => resolve(true)));
  });
}

describe('ip routing', () => {
  test(`${ADDRESSES} source addresses x ${PER_ADDRESS} connections over ${WORKERS} workers: sticky and fair`, async () => {
    const fx = await start('test/fixtures/typed-server.js', { FIX_WORKERS: String(WORKERS), FIX_ROUTING: 'ip' });
    // The fixture runs the core this vitest project asked for.
    if (process.env.STICKY_NATIVE) expect(fx.stdout).toContain(`core ${process.env.STICKY_NATIVE}`);
    const seen = await load(fx.port, sourceAddresses(ADDRESSES), PER_ADDRESS);
    expect(splitAddresses(seen), 'addresses that reached more than one worker').toEqual([]);

    const share = new Array<number>(WORKERS).fill(0);
    for (const s of seen.values()) for (const w of s) share[w]++;
    const mean = ADDRESSES / WORKERS;
    for (let w = 0; w < WORKERS; w++) {
      expect(share[w], `worker ${w} got ${share[w]} of ${ADDRESSES} addresses (shares ${share.join('/')})`).toBeGreaterThanOrEqual(0.6 * mean);
      expect(share[w], `worker ${w} got ${share[w]} of ${ADDRESSES} addresses (shares ${share.join('/')})`).toBeLessThanOrEqual(1.4 * mean);
    }
    expect(fx.alive()).toBe(true);
  });

  test('control: plain round-robin cluster under the same load is not sticky', async () => {
    const fx = await start('test/fixtures/plain-cluster.js', { FIX_WORKERS: String(WORKERS) });
    const seen = await load(fx.port, sourceAddresses(ADDRESSES), PER_ADDRESS);
    const split = splitAddresses(seen);
    // Round-robin spreads each address's 5 connections over several workers;
    // if this ever held, the sticky test above would prove nothing.
    expect(split.length).toBeGreaterThan(ADDRESSES / 2);
  });

  test('IPv6: ::1 clients are served and sticky when the balancer listens on ::; IPv4 clients too', async (ctx) => {
    if (!(await canListenOnLoopback6())) ctx.skip();
    const fx = await start('test/fixtures/typed-server.js', { FIX_WORKERS: String(WORKERS), FIX_ROUTING: 'ip', FIX_HOST: '::' });
    const v6 = new Set<number>();
    for (let i = 0; i < 8; i++) {
      const res = await request({ port: fx.port, host: '::1', family: 6 });
      expect(res.status).toBe(200);
      v6.add(workerIndex(res.body));
    }
    expect(v6.size).toBe(1);
    // IPv4 clients of a dual-stack listener arrive as ::ffff:a.b.c.d; still sticky, still spread.
    const seen = await load(fx.port, sourceAddresses(40), 3, '127.0.0.1');
    expect(splitAddresses(seen)).toEqual([]);
    const used = new Set<number>();
    for (const s of seen.values()) for (const w of s) used.add(w);
    expect(used.size).toBeGreaterThanOrEqual(3);
  });
});

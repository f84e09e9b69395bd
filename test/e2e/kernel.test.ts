// Kernel steering (Linux, ip routing): an SO_REUSEPORT group whose classic BPF
// program hashes the source address. Each worker listens on its own member, so
// the primary does no work per connection; a dead worker's clients wait in its
// member's backlog for the respawn instead of moving.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { primitives } from '../../src/binding';
import {
  countFds, mapLimit, request, sleep, sourceAddresses, startFixture, stopAll, type Fixture,
} from '../helpers/harness';

const FIXTURE = 'test/fixtures/kernel-primary.js';
const WORKERS = 4;
const ADDRESSES = 300;
const PER_ADDRESS = 5;
/**
 * A bound on the primary's work per connection, not a speed assertion: with
 * kernel steering the primary's CPU time should not grow with the load at
 * all, and the ipc control below shows what per-connection work costs.
 */
const PRIMARY_CPU_BOUND_MS = 50;

const steering = primitives.steering;
// The file pins its transports, so it runs once: in the native project.
const runs = steering?.available() === true && process.env.STICKY_NATIVE !== 'fallback' && !process.env.STICKY_TRANSPORT;

const started: Fixture[] = [];
async function start(env: Record<string, string>): Promise<Fixture> {
  const fx = await startFixture(FIXTURE, { env });
  started.push(fx);
  return fx;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((f) => f.stop()));
});
afterAll(stopAll);

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** utime + stime of `pid`, in ms (to the clock tick). */
function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "pid (comm)": state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

interface Answer {
  w: number;
  pid: number;
  port: number;
  listening: boolean;
}

function parseAnswer(body: string): Answer {
  const m = /^w=(\d+) pid=(\d+) port=(\d+) listening=(true|false)/.exec(body);
  if (!m) throw new Error(`not a worker answer: ${JSON.stringify(body)}`);
  return { w: Number(m[1]), pid: Number(m[2]), port: Number(m[3]), listening: m[4] === 'true' };
}

async function ask(port: number, localAddress: string, host = '127.0.0.1', timeoutMs = 10_000): Promise<Answer> {
  const res = await request({ port, host, localAddress, timeoutMs });
  expect(res.status, `from ${localAddress}: ${res.body}`).toBe(200);
  return parseAnswer(res.body);
}

/** perAddress connections from each address, interleaved, 32 in flight. */
async function load(port: number, addrs: string[], perAddress: number): Promise<Map<string, Answer[]>> {
  const jobs: string[] = [];
  for (let r = 0; r < perAddress; r++) jobs.push(...addrs);
  const seen = new Map<string, Answer[]>(addrs.map((a) => [a, []]));
  await mapLimit(jobs, 32, async (addr) => {
    seen.get(addr)!.push(await ask(port, addr));
  });
  return seen;
}

/** Seconds since `pid` started, from /proc. */
function uptimeSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  return Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]) - startTicks / TICKS_PER_SECOND;
}

/**
 * Waits until `pid` is at least 12 s old and has used no CPU time for 2 s
 * (at most 30 s in all): V8 compiles and collects for a while after start
 * whatever the load, and its memory reducer collects once about 8 s in.
 */
async function quiet(pid: number): Promise<void> {
  let last = cpuMs(pid);
  let still = 0;
  for (let i = 0; i < 120 && (still < 8 || uptimeSeconds(pid) < 12); i++) {
    await sleep(250);
    const now = cpuMs(pid);
    still = now === last ? still + 1 : 0;
    last = now;
  }
}

/** The load of test (1), measuring the primary around it. */
async function measuredLoad(fx: Fixture): Promise<{ seen: Map<string, Answer[]>; cpu: number; fdsBefore: number; fdsAfter: number }> {
  const addrs = sourceAddresses(ADDRESSES);
  // One warm-up round: first connections pay for lazily loaded code.
  await load(fx.port, addrs.slice(0, 20), 1);
  await quiet(fx.pid);
  const fdsBefore = countFds(fx.pid);
  const cpuBefore = cpuMs(fx.pid);
  const seen = await load(fx.port, addrs, PER_ADDRESS);
  const cpu = cpuMs(fx.pid) - cpuBefore;
  return { seen, cpu, fdsBefore, fdsAfter: countFds(fx.pid) };
}

async function stats(fx: Fixture): Promise<{ transport: string; routed: number }> {
  const from = fx.stdout.length;
  process.kill(fx.pid, 'SIGUSR2');
  for (let i = 0; i < 100; i++) {
    const line = fx.stdout.slice(from).find((l) => l.startsWith('stats '));
    if (line) return JSON.parse(line.slice('stats '.length));
    await sleep(20);
  }
  throw new Error('no stats line within 2 s');
}

/** Which member of each group (the index a listener reports) each address reaches. */
async function membersReached(groups: { fds: number[]; port: number }[], addrs: string[]): Promise<number[][]> {
  const servers = groups.flatMap(({ fds }) =>
    fds.map((fd, index) =>
      net.createServer((socket) => socket.end(String(index))).listen(new net.Socket({ fd, readable: false, writable: false })),
    ),
  );
  try {
    const reach = (port: number, localAddress: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const socket = net.connect({ port, host: '127.0.0.1', localAddress });
        let data = '';
        socket.setTimeout(5_000, () => socket.destroy(new Error(`no answer from ${localAddress}`)));
        socket.on('data', (chunk) => (data += chunk));
        socket.on('end', () => resolve(Number(data)));
        socket.on('error', reject);
      });
    return await Promise.all(groups.map(({ port }) => mapLimit(addrs, 16, (a) => reach(port, a))));
  } finally {
    // Each server owns its member's descriptor: closing it closes the member.
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

describe.skipIf(!runs)('kernel steering', () => {
  test('the BPF program: same key, same member in every group; another key permutes; every member used', async () => {
    const key = randomBytes(16);
    const other = Buffer.from(key.map((b) => b ^ 0x5a));
    const groups = [key, key, other].map((k) => steering!.createGroup('127.0.0.1', 0, WORKERS, k));
    const addrs = sourceAddresses(64);
    const [first, second, third] = await membersReached(groups, addrs);
    expect(second).toEqual(first);
    expect(new Set(first)).toEqual(new Set([0, 1, 2, 3]));
    const moved = third.filter((member, i) => member !== first[i]).length;
    // Unrelated keys agree on a quarter of the addresses on average.
    expect(moved, 'another key should send most addresses elsewhere').toBeGreaterThan(addrs.length / 2);
  });

  test('createGroup: TypeError for bad arguments, EADDRINUSE for a port somebody listens on', async () => {
    const key = randomBytes(16);
    expect(() => steering!.createGroup('example.com', 0, 2, key)).toThrow(TypeError);
    expect(() => steering!.createGroup('127.0.0.1', 0, 0, key)).toThrow(TypeError);
    expect(() => steering!.createGroup('127.0.0.1', 0, 2, Buffer.alloc(8))).toThrow(TypeError);
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = taken.address() as net.AddressInfo;
      expect(() => steering!.createGroup('127.0.0.1', port, 2, key)).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }));
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  test(`${ADDRESSES} addresses x ${PER_ADDRESS} connections over ${WORKERS} workers: sticky, fair, no work and no descriptors in the primary`, async () => {
    const fx = await start({ TRANSPORT: 'kernel' });
    expect((await stats(fx)).transport).toBe('kernel');
    const { seen, cpu, fdsBefore, fdsAfter } = await measuredLoad(fx);

    const all = [...seen.values()].flat();
    expect(all.length).toBe(ADDRESSES * PER_ADDRESS);
    // Every worker really listens, on the public port.
    expect(all.filter((a) => !a.listening || a.port !== fx.port)).toEqual([]);
    const split = [...seen].filter(([, answers]) => new Set(answers.map((a) => `${a.w}/${a.pid}`)).size > 1);
    expect(split.map(([addr]) => addr), 'addresses answered by more than one worker').toEqual([]);
    const share = new Array<number>(WORKERS).fill(0);
    for (const answers of seen.values()) share[answers[0].w]++;
    const mean = ADDRESSES / WORKERS;
    for (const count of share) {
      expect(count, `addresses per worker ${share.join(',')}`).toBeGreaterThanOrEqual(0.6 * mean);
      expect(count, `addresses per worker ${share.join(',')}`).toBeLessThanOrEqual(1.4 * mean);
    }
    console.log(`kernel: primary CPU +${cpu} ms over ${all.length} connections; fds ${fdsBefore} -> ${fdsAfter}`);
    expect(cpu).toBeLessThan(PRIMARY_CPU_BOUND_MS);
    expect(fdsAfter).toBe(fdsBefore);
  });

  test('the control: the same load over ipc costs the primary far more CPU time (the bound above can fail)', async () => {
    const fx = await start({ TRANSPORT: 'ipc' });
    expect((await stats(fx)).transport).toBe('ipc');
    const { cpu } = await measuredLoad(fx);
    console.log(`ipc: primary CPU +${cpu} ms over ${ADDRESSES * PER_ADDRESS} connections`);
    // Twice the bound, not more: Node 26 hands a socket over IPC for about
    // half the primary CPU of Node 20 (100-180 ms here against 200-400).
    expect(cpu).toBeGreaterThan(2 * PRIMARY_CPU_BOUND_MS);
  });

  test("SIGKILL of a worker: its clients wait for the respawn at its index, nobody else's worker changes", async () => {
    const fx = await start({ TRANSPORT: 'kernel', RESPAWN_MIN: '1500' });
    const addrs = sourceAddresses(120);
    const before = new Map<string, Answer>();
    for (const [addr, answers] of await load(fx.port, addrs, 2)) {
      expect(new Set(answers.map((a) => a.pid)).size, `${addr} not sticky`).toBe(1);
      before.set(addr, answers[0]);
    }
    const counts = new Array<number>(WORKERS).fill(0);
    for (const { w } of before.values()) counts[w]++;
    const victim = counts.indexOf(Math.max(...counts));
    const victimPid = [...before.values()].find((a) => a.w === victim)!.pid;

    process.kill(victimPid, 'SIGKILL');
    await fx.waitForLine(new RegExp(`^exit ${victim} ${victimPid} `), 5_000);
    const killedAt = Date.now();
    const linesBeforeRespawn = fx.stdout.length;
    // Every address connects while the victim is dead (it comes back after 1.5 s).
    const after = await mapLimit(addrs, 200, async (addr) => ({ addr, answer: await ask(fx.port, addr), at: Date.now() }));
    const online = fx.stdout.slice(linesBeforeRespawn).find((line) => line.startsWith(`online ${victim} `));
    expect(online, 'the victim was not respawned while its clients waited').toBeDefined();
    const respawned = Number(online!.split(' ')[2]);
    expect(respawned).not.toBe(victimPid);

    const victims = after.filter(({ addr }) => before.get(addr)!.w === victim);
    expect(victims.length).toBe(counts[victim]);
    for (const { addr, answer, at } of victims) {
      expect({ addr, w: answer.w, pid: answer.pid }).toEqual({ addr, w: victim, pid: respawned });
      // Answered only once the respawned worker listened: the connection waited.
      expect(at - killedAt).toBeGreaterThanOrEqual(1_000);
    }
    const others = after.filter(({ addr }) => before.get(addr)!.w !== victim);
    const movedOrChanged = others.filter(({ addr, answer }) => answer.pid !== before.get(addr)!.pid);
    expect(movedOrChanged.map(({ addr }) => addr)).toEqual([]);
  });

  test('IPv6: ::1 clients on a :: group, and IPv4 clients on the same dual-stack group', async () => {
    const loopback6 = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once('error', () => resolve(false));
      probe.listen(0, '::1', () => probe.close(() => resolve(true)));
    });
    if (!loopback6) return;
    const fx = await start({ TRANSPORT: 'kernel', HOST: '::' });
    const v6 = await mapLimit(new Array(20).fill('::1'), 4, (addr) => ask(fx.port, addr, '::1'));
    expect(new Set(v6.map((a) => `${a.w}/${a.pid}`)).size).toBe(1);
    expect(v6[0]).toMatchObject({ port: fx.port, listening: true });
    const v4 = await load(fx.port, sourceAddresses(40), 2);
    const workersSeen = new Set<number>();
    for (const [addr, answers] of v4) {
      expect(new Set(answers.map((a) => a.pid)).size, `${addr} not sticky`).toBe(1);
      workersSeen.add(answers[0].w);
    }
    expect(workersSeen.size).toBe(WORKERS);
  });
});

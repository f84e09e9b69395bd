// Graceful shutdown (SIGTERM, SIGINT, balancer.close()) and rolling restart
// (SIGHUP, balancer.restart()) with real clients. Shutdown: requests in
// flight finish, new connections are refused, the primary exits 0 and no
// worker is left. Restart: every worker pid changes at the same index; a
// Socket.IO load (20 polling + 20 websocket clients) fails only on the
// connections of the worker being replaced, whose clients reconnect and go
// on; under kernel steering plain HTTP load sees no failure at all.
import * as fs from 'node:fs';
import http from 'node:http';
import * as net from 'node:net';
import { io, type Socket } from 'socket.io-client';
import { afterAll, describe, expect, it } from 'vitest';
import { mapLimit, request, sleep, sourceAddresses, startFixture, stopAll, type Fixture } from '../helpers/harness';

afterAll(stopAll);

const FIXTURE = 'test/fixtures/lifecycle-primary.js';
// The project's transport: 'auto' in the native project is kernel steering.
const KERNEL = process.env.STICKY_NATIVE !== 'fallback' && !process.env.STICKY_TRANSPORT;

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

/** 'refused', or 'accepted' (the connection is closed again at once). */
function tryConnect(port: number): Promise<'refused' | 'accepted' | string> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const timer = setTimeout(() => { socket.destroy(); resolve('timeout'); }, 1000);
    socket.once('connect', () => { clearTimeout(timer); socket.destroy(); resolve('accepted'); });
    socket.once('error', (e: NodeJS.ErrnoException) => { clearTimeout(timer); resolve(e.code === 'ECONNREFUSED' ? 'refused' : String(e.code)); });
  });
}

/** Records when each stdout line of `fx` was first seen (every 20 ms), so events can be ordered against client failures. */
function lineClock(fx: Fixture): { seenAt(re: RegExp): number | undefined; stop(): void } {
  const at: number[] = [];
  const timer = setInterval(() => { while (at.length < fx.stdout.length) at.push(Date.now()); }, 20);
  return {
    seenAt: (re) => { const i = fx.stdout.findIndex((l) => re.test(l)); return i >= 0 && i < at.length ? at[i] : undefined; },
    stop: () => clearInterval(timer),
  };
}

const onlinePids = (fx: Fixture): Map<number, number> => {
  const byIndex = new Map<number, number>();
  for (const l of fx.stdout) {
    const m = /^online (\d+) (\d+)$/.exec(l);
    if (m) byIndex.set(Number(m[1]), Number(m[2]));
  }
  return byIndex;
};

describe('graceful shutdown', () => {
  it.each([['SIGTERM'], ['SIGINT'], ['balancer.close()']] as const)('%s with slow requests in flight', async (how) => {
    const fx = await startFixture(FIXTURE, { env: { API_ACTION: 'close' } });
    try {
      const workers = fx.workerPids();
      expect(workers.length).toBe(2);
      const slow = sourceAddresses(8).map((localAddress) =>
        request({ port: fx.port, localAddress, path: '/slow?ms=1500', timeoutMs: 8000 }).then(
          (r) => (r.status === 200 && /^w=\d+ pid=\d+/.test(r.body) ? 'ok' : `status ${r.status}`),
          (e: Error) => e.message,
        ));
      await sleep(400);
      process.kill(fx.pid, how === 'balancer.close()' ? 'SIGUSR2' : how);

      // New connections are refused soon after (bounded), while the slow ones are still running.
      let refusedAt = 0;
      const signalledAt = Date.now();
      for (let i = 0; i < 60 && !refusedAt && Date.now() - signalledAt < 3000; i++) {
        if ((await tryConnect(fx.port)) === 'refused') refusedAt = Date.now();
        else await sleep(50);
      }
      expect(refusedAt, 'new connections were still accepted 3 s after the signal').toBeGreaterThan(0);
      for (let i = 0; i < 3; i++) expect(await tryConnect(fx.port)).toBe('refused');

      expect(await Promise.all(slow)).toEqual(new Array(8).fill('ok'));
      await fx.waitForLine(/^primary-exit /, 10_000);
      expect(fx.stdout).toContain('primary-exit 0');
      if (how === 'balancer.close()') expect(fx.stdout).toContain('closed');
      for (let i = 0; i < 100 && fx.alive(); i++) await sleep(50);
      expect(fx.alive()).toBe(false);
      expect(workers.filter(alive), 'workers left running').toEqual([]);
    } finally {
      await fx.stop();
    }
  });
});

interface Event { t: number; ok: boolean; worker: number; pid: number; what: string }

/** One Socket.IO client that keeps exchanging 'echo' with acks and reconnects by itself until stopped. */
function socketIoClient(port: number, localAddress: string, transport: 'polling' | 'websocket') {
  const agent = new http.Agent({ localAddress, keepAlive: false });
  const events: Event[] = [];
  let last = { worker: -1, pid: -1 };
  const fail = (what: string) => events.push({ t: Date.now(), ok: false, ...last, what });
  const socket: Socket = io(`http://127.0.0.1:${port}`, {
    transports: [transport],
    upgrade: false,
    forceNew: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    randomizationFactor: 0,
    timeout: 3000,
    agent: agent as unknown as string,
    ...({ localAddress } as object),
  });
  socket.on('disconnect', (reason) => { if (reason !== 'io client disconnect') fail(`disconnect: ${reason}`); });
  socket.on('connect_error', (e) => fail(`connect_error: ${e.message}`));
  let running = true;
  const loop = (async () => {
    for (let i = 0; running && i < 100_000; i++) {
      if (!socket.connected) { await sleep(50); continue; }
      try {
        const reply = await socket.timeout(3000).emitWithAck('echo', { i });
        last = { worker: reply.worker, pid: reply.pid };
        events.push({ t: Date.now(), ok: true, ...last, what: 'ack' });
      } catch (e) {
        fail(`ack: ${(e as Error).message}`);
      }
      await sleep(20);
    }
  })();
  return {
    localAddress,
    events,
    async stop() {
      running = false;
      await loop;
      socket.disconnect();
      agent.destroy();
    },
  };
}

describe('rolling restart', () => {
  it.each([['SIGHUP'], ['balancer.restart()']] as const)('%s under Socket.IO and HTTP load', async (how) => {
    const fx = await startFixture(FIXTURE, { env: { API_ACTION: 'restart', SHUTDOWN_TIMEOUT: '4000' } });
    const clock = lineClock(fx);
    const addrs = sourceAddresses(80);
    const clients = [
      ...addrs.slice(0, 20).map((a) => socketIoClient(fx.port, a, 'polling')),
      ...addrs.slice(20, 40).map((a) => socketIoClient(fx.port, a, 'websocket')),
    ];
    // Plain HTTP, one request per connection, from 40 other addresses.
    const httpFailures: string[] = [];
    let httpDone = 0;
    let loading = true;
    const httpLoad = mapLimit(addrs.slice(40), 4, async (localAddress) => {
      for (let i = 0; loading && i < 10_000; i++) {
        try {
          const r = await request({ port: fx.port, localAddress, timeoutMs: 5000 });
          if (r.status !== 200) httpFailures.push(`${localAddress} status ${r.status}`);
        } catch (e) {
          httpFailures.push(`${localAddress} ${(e as Error).message}`);
        }
        httpDone++;
      }
    });
    try {
      const before = onlinePids(fx);
      expect(before.size).toBe(2);
      const oldPids = new Set(before.values());
      await sleep(1500);
      for (const c of clients) expect(c.events.some((e) => e.ok), `${c.localAddress} never acked before the restart`).toBe(true);
      const warmFailures = clients.flatMap((c) => c.events.filter((e) => !e.ok).map((e) => `${c.localAddress} ${e.what}`));
      expect(warmFailures).toEqual([]);

      const restartAt = Date.now();
      process.kill(fx.pid, how === 'SIGHUP' ? 'SIGHUP' : 'SIGUSR2');
      // Done when every index has a new pid and every old pid is gone. Bounded.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const now = onlinePids(fx);
        if ([...now.values()].every((pid) => !oldPids.has(pid)) && [...oldPids].every((pid) => !alive(pid))) break;
        if (Date.now() > deadline) throw new Error(`restart not done in 30 s:\n${fx.stdout.join('\n')}`);
        await sleep(50);
      }
      if (how === 'balancer.restart()') await fx.waitForLine(/^restarted$/, 5000);
      const doneAt = Date.now();
      await sleep(2000);
      loading = false;
      await httpLoad;
      await Promise.all(clients.map((c) => c.stop()));

      // Every pid changed, the indices stayed, and only the new workers run.
      const after = onlinePids(fx);
      expect([...after.keys()].sort()).toEqual([0, 1]);
      for (const pid of after.values()) expect(oldPids.has(pid)).toBe(false);
      expect(fx.workerPids().sort()).toEqual([...after.values()].sort());
      expect(fx.stdout.filter((l) => l.startsWith('exit ')), 'the pool saw a worker die').toEqual([]);

      // Socket.IO: failures only on the worker being replaced, from the moment
      // its replacement took the index; then each client goes on at its index.
      const replacedAt = new Map([...after].map(([index, pid]) => [index, clock.seenAt(new RegExp(`^online ${index} ${pid}$`)) ?? 0]));
      for (const c of clients) {
        const before = c.events.filter((e) => e.ok && e.t < restartAt).pop()!;
        const bad = c.events.filter((e) => !e.ok && (!oldPids.has(e.pid) || e.t < (replacedAt.get(e.worker) ?? 0) - 100));
        expect(bad.map((e) => `${c.localAddress} ${e.what} on w${e.worker}/${e.pid} at +${e.t - restartAt} ms`)).toEqual([]);
        const later = c.events.filter((e) => e.ok && e.t > doneAt);
        expect(later.length, `${c.localAddress} did not go on after the restart`).toBeGreaterThan(0);
        for (const e of later) {
          expect(e.worker, c.localAddress).toBe(before.worker);
          expect(e.pid).toBe(after.get(before.worker));
        }
      }
      const failed = clients.filter((c) => c.events.some((e) => !e.ok)).length;
      console.log(`${how}: ${failed} of ${clients.length} Socket.IO clients saw their worker replaced and reconnected; ${httpDone} HTTP requests, ${httpFailures.length} failed`);
      expect(httpDone).toBeGreaterThan(100);
      if (KERNEL) expect(httpFailures, 'kernel steering: no refused or failed connection').toEqual([]);
      else expect(httpFailures.slice(0, 10)).toEqual([]);
    } finally {
      loading = false;
      clock.stop();
      await Promise.all(clients.map((c) => c.stop()));
      await fx.stop();
    }
  });
});

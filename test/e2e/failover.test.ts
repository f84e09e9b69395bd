// Failover with ip routing: SIGKILL one of 4 workers under steady load. Only
// the dead worker's clients may move (and only after a short failure window);
// nobody else's ever does; they come back when the worker is respawned at the
// same index. Then a worker that crash-loops at start is respawned with a
// growing, capped delay while the others keep serving.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  countFds, freePort, mapLimit, request, sleep, sourceAddresses, startFixture, stopAll, type Fixture,
} from '../helpers/harness';

const FIXTURE = 'test/fixtures/failover-primary.js';
const CONCURRENCY = 16;

afterAll(async () => {
  await stopAll();
});

interface Hit {
  addr: string;
  start: number;
  ok: boolean;
  w: number;
  pid: number;
  err: string | null;
}

async function hit(port: number, addr: string, timeoutMs = 2000): Promise<Hit> {
  const start = Date.now();
  try {
    const res = await request({ port, localAddress: addr, timeoutMs });
    const m = /^w=(\d+) pid=(\d+)/.exec(res.body);
    if (res.status !== 200 || !m) {
      return { addr, start, ok: false, w: -1, pid: -1, err: `status ${res.status} body ${JSON.stringify(res.body.slice(0, 80))}` };
    }
    return { addr, start, ok: true, w: Number(m[1]), pid: Number(m[2]), err: null };
  } catch (e) {
    return { addr, start, ok: false, w: -1, pid: -1, err: (e as Error).message };
  }
}

const round = (port: number, addrs: string[]): Promise<Hit[]> => mapLimit(addrs, CONCURRENCY, (a) => hit(port, a));

function fmt(hits: Hit[], limit = 10): string {
  return hits.slice(0, limit).map((h) => `${h.addr} ok=${h.ok} w=${h.w} pid=${h.pid} err=${h.err}`).join('\n');
}

// Failover where the primary routes: while a worker is down its clients move
// to live ones. Kernel steering queues them for the respawn instead (covered
// in kernel.test.ts), so under transport 'auto' this file runs over the channel.
const TRANSPORT = process.env.STICKY_TRANSPORT || (process.env.STICKY_NATIVE === 'fallback' ? 'ipc' : 'channel');

describe('failover (ip routing, 4 workers)', () => {
  it('SIGKILL of one worker under load: only its addresses move, briefly; they return after the respawn', async () => {
    // A visible dead window: the killed worker is respawned after 1.5 s.
    const fx: Fixture = await startFixture(FIXTURE, {
      env: { FIXTURE_TRANSPORT: TRANSPORT, PORT: String(await freePort()), RESPAWN_MIN: '1500', RESPAWN_MAX: '3000' },
    });
    try {
      const addrs = sourceAddresses(120);

      // 1. Map every address to its worker, three requests each.
      const mapping = new Map<string, { w: number; pid: number }>();
      const mapHits = await mapLimit(addrs, CONCURRENCY, async (a) => [await hit(fx.port, a), await hit(fx.port, a), await hit(fx.port, a)]);
      for (const hits of mapHits) {
        const failed = hits.filter((h) => !h.ok);
        expect(failed, fmt(failed)).toEqual([]);
        const ws = new Set(hits.map((h) => `${h.w}/${h.pid}`));
        expect(ws.size, `address ${hits[0].addr} not sticky before the kill: ${fmt(hits)}`).toBe(1);
        mapping.set(hits[0].addr, { w: hits[0].w, pid: hits[0].pid });
      }
      const byWorker = new Map<number, string[]>();
      for (const [a, { w }] of mapping) byWorker.set(w, [...(byWorker.get(w) ?? []), a]);
      expect([...byWorker.keys()].sort()).toEqual([0, 1, 2, 3]);
      const pidOf = new Map<number, number>();
      for (const { w, pid } of mapping.values()) pidOf.set(w, pid);
      expect(new Set(pidOf.values()).size).toBe(4);

      // The victim: the worker with the most addresses.
      const victim = [...byWorker.entries()].sort((x, y) => y[1].length - x[1].length)[0][0];
      const victimPid = pidOf.get(victim) as number;
      const victimAddrs = new Set(byWorker.get(victim));
      expect(fx.workerPids()).toContain(victimPid);

      // 2. Steady load; kill after the first round; go on until the respawned
      //    worker answers at its index, then two more rounds. Bounded.
      const all: Hit[] = [];
      const first = await round(fx.port, addrs);
      all.push(...first);
      const killAt = Date.now();
      process.kill(victimPid, 'SIGKILL');
      const deadline = Date.now() + 20_000;
      let backAt = 0;
      let extra = 0;
      for (let r = 0; r < 300 && Date.now() < deadline; r++) {
        const hits = await round(fx.port, addrs);
        all.push(...hits);
        if (!backAt && hits.some((h) => h.ok && h.w === victim && h.pid !== victimPid)) backAt = Date.now();
        if (backAt && ++extra > 2) break;
      }
      expect(backAt, `worker ${victim} never came back at its index within 20 s`).toBeGreaterThan(0);
      const finalRounds = [await round(fx.port, addrs), await round(fx.port, addrs)];

      // 3a. Zero tolerance for everybody else: never failed, never moved.
      const others = all.concat(...finalRounds).filter((h) => !victimAddrs.has(h.addr));
      const othersBad = others.filter((h) => !h.ok || h.w !== mapping.get(h.addr)!.w || h.pid !== mapping.get(h.addr)!.pid);
      expect(othersBad.length, `addresses of the surviving workers failed or moved:\n${fmt(othersBad)}`).toBe(0);

      // 3b. The victim's addresses: failures only in a short window after the kill.
      const victimHits = all.filter((h) => victimAddrs.has(h.addr) && h.start >= killAt);
      const failures = victimHits.filter((h) => !h.ok);
      const lateFailures = failures.filter((h) => h.start > killAt + 2000);
      expect(lateFailures.length, `victim addresses still failing > 2 s after the kill:\n${fmt(lateFailures)}`).toBe(0);
      // No answer from the dead pid after the kill.
      expect(victimHits.filter((h) => h.ok && h.pid === victimPid).length).toBe(0);
      // While it was dead they were served by live workers, each address by one of them.
      const moved = victimHits.filter((h) => h.ok && h.w !== victim);
      expect(moved.length, 'victim addresses were never served by a live worker during the dead window').toBeGreaterThan(0);
      const movedTo = new Map<string, Set<string>>();
      for (const h of moved) {
        expect(h.pid).toBe(pidOf.get(h.w));
        movedTo.set(h.addr, (movedTo.get(h.addr) ?? new Set()).add(`${h.w}`));
      }
      const split = [...movedTo].filter(([, s]) => s.size !== 1);
      expect(split.map(([a, s]) => `${a}->${[...s]}`), 'a moved address was spread over several live workers').toEqual([]);
      // Every victim address was served (by someone) in some round after the failure window.
      for (const a of victimAddrs) {
        expect(victimHits.some((h) => h.addr === a && h.ok), `${a} never served after the kill`).toBe(true);
      }

      // 3c. After the respawn every address is back where it was; the victim's
      //     index has a new pid, the others keep theirs.
      const newPids = new Set<number>();
      for (const hits of finalRounds) {
        for (const h of hits) {
          expect(h.ok, fmt([h])).toBe(true);
          expect(h.w, `${h.addr} after respawn`).toBe(mapping.get(h.addr)!.w);
          if (h.w === victim) newPids.add(h.pid);
          else expect(h.pid).toBe(pidOf.get(h.w));
        }
      }
      expect(newPids.size).toBe(1);
      expect(newPids.has(victimPid)).toBe(false);

      // 3d. The balancer reported it.
      const newPid = [...newPids][0];
      await fx.waitForLine(new RegExp(`^exit ${victim} ${victimPid} null SIGKILL$`), 2000);
      await fx.waitForLine(new RegExp(`^respawn ${victim} \\d+$`), 2000);
      await fx.waitForLine(new RegExp(`^online ${victim} ${newPid}$`), 2000);
      const otherExits = fx.stdout.filter((l) => /^exit /.test(l) && !l.startsWith(`exit ${victim} `));
      expect(otherExits).toEqual([]);
    } finally {
      await fx.stop();
    }
  });

  it('connections in flight when a worker is SIGKILLed are answered or closed, never left hanging; no fd leaks in the primary', async () => {
    const fx = await startFixture(FIXTURE, {
      env: {
        FIXTURE_TRANSPORT: TRANSPORT, PORT: String(await freePort()), RESPAWN_MIN: '100', RESPAWN_MAX: '200' },
    });
    try {
      const addrs = sourceAddresses(120);
      const first = await round(fx.port, addrs);
      expect(first.filter((h) => !h.ok), fmt(first.filter((h) => !h.ok))).toEqual([]);
      const victim = first[0].w;
      const victimAddrs = first.filter((h) => h.w === victim).map((h) => h.addr);
      await sleep(300);
      const baseline = countFds(fx.pid);
      const HANG_MS = 8000;
      const outcomes: string[] = [];
      // A few kill cycles, each with a burst of connections from the victim's
      // addresses racing the kill. Stops at the first hang (already a failure).
      for (let cycle = 0; cycle < 3; cycle++) {
        const pid = (await hit(fx.port, victimAddrs[0])).pid;
        expect(pid).toBeGreaterThan(0);
        const onlineBefore = fx.stdout.filter((l) => l.startsWith(`online ${victim} `)).length;
        const burst = victimAddrs.concat(victimAddrs, victimAddrs).map(async (a) => {
          const t0 = Date.now();
          try {
            const res = await request({ port: fx.port, localAddress: a, timeoutMs: HANG_MS });
            return `answered ${res.status}`;
          } catch (e) {
            const msg = (e as Error).message;
            return /timed out/.test(msg) ? `HUNG ${Date.now() - t0} ms from ${a}` : 'closed';
          }
        });
        process.kill(pid, 'SIGKILL');
        outcomes.push(...(await Promise.all(burst)));
        if (outcomes.some((o) => o.startsWith('HUNG'))) break;
        // Wait (bounded) for the respawned worker before the next cycle.
        const deadline = Date.now() + 10_000;
        while (fx.stdout.filter((l) => l.startsWith(`online ${victim} `)).length === onlineBefore) {
          if (Date.now() > deadline) throw new Error(`worker ${victim} not respawned within 10 s`);
          await sleep(25);
        }
      }
      const hung = outcomes.filter((o) => o.startsWith('HUNG'));
      expect(hung, `connections left open without an answer (of ${outcomes.length})`).toEqual([]);
      // Every connection the primary took is gone from it again.
      let fds = countFds(fx.pid);
      for (let i = 0; i < 100 && fds > baseline; i++) {
        await sleep(50);
        fds = countFds(fx.pid);
      }
      expect(fds, `primary fds: ${baseline} before the kills, ${fds} after`).toBeLessThanOrEqual(baseline);
    } finally {
      await fx.stop();
    }
  });

  it('a worker that crash-loops at start is respawned with growing, capped delays while the others serve', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sticky-crash-'));
    const CRASHES = 7;
    const MIN = 50;
    const MAX = 600;
    const fx = await startFixture(FIXTURE, {
      env: {
        FIXTURE_TRANSPORT: TRANSPORT,
        PORT: String(await freePort()),
        CRASH_DIR: dir,
        CRASH_INDEX: '1',
        CRASH_FROM: '1',
        CRASH_TIMES: String(CRASHES),
        RESPAWN_MIN: String(MIN),
        RESPAWN_MAX: String(MAX),
      },
    });
    try {
      const addrs = sourceAddresses(40);
      // Load while index 1 crash-loops, until it finally comes online (bounded).
      const during: Hit[] = [];
      const deadline = Date.now() + 20_000;
      for (let r = 0; r < 300 && Date.now() < deadline; r++) {
        if (fx.stdout.some((l) => /^online 1 /.test(l))) break;
        during.push(...(await round(fx.port, addrs)));
      }
      const onlineLine = await fx.waitForLine(/^online 1 \d+$/, 1000);
      const goodPid = Number(onlineLine.split(' ')[2]);
      expect(during.length).toBeGreaterThan(0);
      // Every request succeeded; index 1 answered only once its good start was
      // online (a round may straddle that moment), never from a crashing start.
      const bad = during.filter((h) => !h.ok || (h.w === 1 && h.pid !== goodPid));
      expect(bad.length, `requests failed or reached a crashing index 1:\n${fmt(bad)}`).toBe(0);
      const servedByOthers = during.filter((h) => h.ok && h.w !== 1);
      expect(new Set(servedByOthers.map((h) => h.w))).toEqual(new Set([0, 2, 3]));
      // The load overlapped the crash loop: rounds ran before index 1 was up.
      const firstOne = during.findIndex((h) => h.w === 1);
      expect(firstOne === -1 || firstOne >= addrs.length, 'index 1 answered in the very first round').toBe(true);

      // The balancer's account of it.
      const exits = fx.stdout.filter((l) => /^exit /.test(l));
      expect(exits.length, exits.join('\n')).toBe(CRASHES);
      for (const l of exits) expect(l).toMatch(/^exit 1 \d+ 7 null$/);
      const delays = fx.stdout.filter((l) => /^respawn /.test(l)).map((l) => {
        const [, index, ms] = l.split(' ');
        expect(index).toBe('1');
        return Number(ms);
      });
      expect(delays.length).toBe(CRASHES);
      for (let i = 1; i < delays.length; i++) {
        expect(delays[i], `delays ${delays}`).toBeGreaterThanOrEqual(delays[i - 1]);
      }
      expect(delays[0]).toBeGreaterThanOrEqual(MIN);
      expect(delays[1], `delays ${delays}`).toBeGreaterThan(delays[0]);
      expect(Math.max(...delays), `delays ${delays}`).toBeLessThanOrEqual(MAX);
      // Capped: the last ones sit at the maximum.
      expect(delays.slice(-2), `delays ${delays}`).toEqual([MAX, MAX]);
      // One start per crash plus the good one.
      expect(fs.readFileSync(path.join(dir, 'starts-1'), 'utf8').split('\n').filter(Boolean).length).toBe(CRASHES + 1);

      // Now index 1 takes its share again.
      const after = await round(fx.port, addrs);
      expect(after.filter((h) => !h.ok).length, fmt(after.filter((h) => !h.ok))).toBe(0);
      expect(after.some((h) => h.w === 1)).toBe(true);
    } finally {
      await fx.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

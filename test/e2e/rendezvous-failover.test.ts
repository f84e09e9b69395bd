// Rendezvous hashing end to end, 8 workers, where the primary routes (the
// native channel, or Node IPC without the addon): SIGKILL one worker. No
// client of the other 7 moves or fails; the victim's clients spread over
// several live workers while it is down; they all return after the respawn.
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, mapLimit, request, sourceAddresses, startFixture, stopAll } from '../helpers/harness';

afterAll(stopAll);

const FIXTURE = 'test/fixtures/failover-primary.js';
const WORKERS = 8;
const CONCURRENCY = 16;
// Kernel steering never remaps (kernel.test.ts): pin a primary-routed transport.
const TRANSPORT = process.env.STICKY_TRANSPORT || (process.env.STICKY_NATIVE === 'fallback' ? 'ipc' : 'channel');

interface Answer { addr: string; ok: boolean; w: number; pid: number; err: string | null }

async function ask(port: number, addr: string): Promise<Answer> {
  try {
    const res = await request({ port, localAddress: addr, timeoutMs: 3000 });
    const m = /^w=(\d+) pid=(\d+)/.exec(res.body);
    if (res.status !== 200 || !m) return { addr, ok: false, w: -1, pid: -1, err: `status ${res.status}` };
    return { addr, ok: true, w: Number(m[1]), pid: Number(m[2]), err: null };
  } catch (e) {
    return { addr, ok: false, w: -1, pid: -1, err: (e as Error).message };
  }
}

describe(`rendezvous over ${WORKERS} workers (transport ${TRANSPORT})`, () => {
  it('SIGKILL one worker: nobody else moves, its clients spread over several live workers, then return', async () => {
    const fx = await startFixture(FIXTURE, {
      env: {
        FIXTURE_TRANSPORT: TRANSPORT, FIXTURE_WORKERS: String(WORKERS), PORT: String(await freePort()),
        RESPAWN_MIN: '2000', RESPAWN_MAX: '2000',
      },
      timeoutMs: 30_000,
    });
    try {
      const addrs = sourceAddresses(240);
      const round = () => mapLimit(addrs, CONCURRENCY, (a) => ask(fx.port, a));

      // 1. Map each address, twice: it must answer from one worker.
      const [first, second] = [await round(), await round()];
      const owner = new Map<string, Answer>();
      first.forEach((a, i) => {
        expect(a.ok, `${a.addr}: ${a.err}`).toBe(true);
        expect(`${second[i].w}/${second[i].pid}`, a.addr).toBe(`${a.w}/${a.pid}`);
        owner.set(a.addr, a);
      });
      const share = new Array<number>(WORKERS).fill(0);
      for (const a of owner.values()) share[a.w]++;
      expect(Math.min(...share), `addresses per worker: ${share.join('/')}`).toBeGreaterThan(0);

      // The victim: the worker with the most addresses.
      const victim = share.indexOf(Math.max(...share));
      const victimPid = [...owner.values()].find((a) => a.w === victim)!.pid;
      const victimAddrs = addrs.filter((a) => owner.get(a)!.w === victim);
      process.kill(victimPid, 'SIGKILL');
      await fx.waitForLine(new RegExp(`^exit ${victim} ${victimPid} `), 5000);

      // 2. While it is down (respawn after 2 s): rounds until its index answers again. Bounded.
      const during: Answer[] = [];
      let back = false;
      const deadline = Date.now() + 20_000;
      for (let r = 0; r < 100 && !back && Date.now() < deadline; r++) {
        const answers = await round();
        back = answers.some((a) => a.ok && a.w === victim);
        if (!back) during.push(...answers);
      }
      expect(back, `worker ${victim} not back within 20 s`).toBe(true);
      expect(during.length, 'no round ran while the victim was down').toBeGreaterThan(0);

      // Zero tolerance: a client of another worker never failed, never moved.
      const othersBad = during.filter((a) => owner.get(a.addr)!.w !== victim && (!a.ok || a.w !== owner.get(a.addr)!.w || a.pid !== owner.get(a.addr)!.pid));
      expect(othersBad.map((a) => `${a.addr} ${a.ok ? `moved to ${a.w}` : a.err}`)).toEqual([]);

      // The victim's clients: each served by one live worker, and together by several.
      const movedTo = new Map<string, Set<number>>();
      for (const a of during.filter((x) => victimAddrs.includes(x.addr))) {
        expect(a.ok, `${a.addr}: ${a.err}`).toBe(true);
        expect(a.w).not.toBe(victim);
        movedTo.set(a.addr, (movedTo.get(a.addr) ?? new Set()).add(a.w));
      }
      expect([...movedTo].filter(([, s]) => s.size !== 1).map(([a]) => a), 'a moved client changed worker while moved').toEqual([]);
      const takers = new Map<number, number>();
      for (const s of movedTo.values()) for (const w of s) takers.set(w, (takers.get(w) ?? 0) + 1);
      console.log(`worker ${victim} down: its ${victimAddrs.length} clients went to ${[...takers].map(([w, n]) => `${w}:${n}`).join(' ')}`);
      expect(takers.size, `victim clients all went to ${[...takers.keys()]}`).toBeGreaterThanOrEqual(3);
      expect(Math.max(...takers.values())).toBeLessThan(victimAddrs.length);

      // 3. After the respawn every client is back where it was; only the victim's index has a new pid.
      const after = await round();
      for (const a of after) {
        const was = owner.get(a.addr)!;
        expect(a.ok, `${a.addr}: ${a.err}`).toBe(true);
        expect(a.w, a.addr).toBe(was.w);
        if (a.w === victim) expect(a.pid).not.toBe(victimPid);
        else expect(a.pid).toBe(was.pid);
      }
    } finally {
      await fx.stop();
    }
  });
});

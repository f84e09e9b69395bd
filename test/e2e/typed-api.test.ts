// The typed API: createBalancer() options, worker environment, events,
// stats(), close(), and the package's CommonJS and ESM entry points.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  REPO_ROOT, freePort, mapLimit, request, sleep, sourceAddresses, startFixture, stopAll, type Fixture,
} from '../helpers/harness';

const FIXTURE = 'test/fixtures/typed-primary.js';
const READY = /^\{"event":"listening","port":(\d+)\}$/;

afterAll(async () => {
  await stopAll();
});

type Ev = Record<string, any>;

function events(fx: Fixture, name: string): Ev[] {
  const out: Ev[] = [];
  for (const line of fx.stdout) {
    if (!line.startsWith('{')) continue;
    try {
      const e = JSON.parse(line) as Ev;
      if (e.event === name) out.push(e);
    } catch { /* a worker's stray line */ }
  }
  return out;
}

async function waitUntil(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(25);
  }
}

interface Info { index: string; workerId: string; clusterId: number; pid: number; greeting: string | null; slow?: boolean }

async function ask(port: number, localAddress: string, p = '/'): Promise<Info> {
  const res = await request({ port, localAddress, path: p, timeoutMs: 5000 });
  expect(res.status, res.body).toBe(200);
  return JSON.parse(res.body) as Info;
}

async function start(env: Record<string, string>): Promise<Fixture> {
  return startFixture(FIXTURE, { env: { PORT: String(await freePort()), ...env }, readyLine: READY });
}

async function stats(fx: Fixture): Promise<Ev> {
  const before = events(fx, 'stats').length;
  process.kill(fx.pid, 'SIGUSR2');
  await waitUntil('a stats line', () => events(fx, 'stats').length > before, 5000);
  return events(fx, 'stats')[before].stats;
}

describe('createBalancer (typed API)', () => {
  it('workers: 3, env as an object, STICKY_WORKER_INDEX stable across a respawn, NODE_WORKER_ID set, online/exit/respawn events', async () => {
    const fx = await start({ FIXTURE_WORKERS: '3', ENV_MODE: 'object', RESPAWN_MIN: '100' });
    try {
      const online = events(fx, 'online');
      expect(online.map((e) => e.index).sort()).toEqual([0, 1, 2]);
      expect(fx.workerPids().sort()).toEqual(online.map((e) => e.pid).sort());

      const addrs = sourceAddresses(30);
      const infos = await mapLimit(addrs, 8, (a) => ask(fx.port, a));
      const seen = new Set<string>();
      for (const info of infos) {
        seen.add(info.index);
        expect(info.greeting).toBe('hello');
        const ev = online.find((e) => String(e.index) === info.index);
        expect(ev, `online event for index ${info.index}`).toBeDefined();
        expect(info.pid).toBe(ev!.pid);
        expect(info.workerId).toBe(String(info.clusterId));
        expect(info.workerId).toBe(String(ev!.id));
      }
      expect([...seen].sort()).toEqual(['0', '1', '2']);

      // Kill one worker from the inside; it comes back at the same index.
      const addr = addrs[0];
      const before = infos[0];
      const k = Number(before.index);
      await ask(fx.port, addr, '/exit');
      await waitUntil(`exit event of index ${k}`, () => events(fx, 'exit').some((e) => e.index === k));
      const exit = events(fx, 'exit').find((e) => e.index === k)!;
      expect(exit).toMatchObject({ pid: before.pid, code: 3, signal: null });
      await waitUntil(`respawn event of index ${k}`, () => events(fx, 'respawn').some((e) => e.index === k));
      const respawn = events(fx, 'respawn').find((e) => e.index === k)!;
      expect(typeof respawn.delayMs).toBe('number');
      expect(respawn.delayMs).toBeGreaterThanOrEqual(100);
      await waitUntil(`second online event of index ${k}`, () => events(fx, 'online').filter((e) => e.index === k).length === 2);
      const again = events(fx, 'online').filter((e) => e.index === k)[1];
      expect(again.pid).not.toBe(before.pid);

      const after = await ask(fx.port, addr);
      expect(after.index).toBe(before.index);
      expect(after.pid).toBe(again.pid);
      expect(after.workerId).toBe(String(again.id));
      expect(after.workerId).not.toBe(before.workerId);
      expect(after.greeting).toBe('hello');
      // Nobody else was touched.
      expect(events(fx, 'exit').length).toBe(1);
      expect(fx.workerPids().length).toBe(3);
    } finally {
      await fx.stop();
    }
  });

  it('env as a function of the index, also for a respawned worker', async () => {
    const fx = await start({ FIXTURE_WORKERS: '2', ENV_MODE: 'function', RESPAWN_MIN: '100' });
    try {
      const addrs = sourceAddresses(16);
      const infos = await mapLimit(addrs, 8, (a) => ask(fx.port, a));
      expect(new Set(infos.map((i) => i.index))).toEqual(new Set(['0', '1']));
      for (const info of infos) expect(info.greeting).toBe(`hello-${info.index}`);

      const one = infos.find((i) => i.index === '1')!;
      const addr = addrs[infos.indexOf(one)];
      await ask(fx.port, addr, '/exit');
      await waitUntil('index 1 back online', () => events(fx, 'online').filter((e) => e.index === 1).length === 2);
      const after = await ask(fx.port, addr);
      expect(after.index).toBe('1');
      expect(after.pid).not.toBe(one.pid);
      expect(after.greeting).toBe('hello-1');
    } finally {
      await fx.stop();
    }
  });

  it('stats(): per-worker connection counters add up to the requests made', async () => {
    const fx = await start({ FIXTURE_WORKERS: '3' });
    try {
      // The harness's readiness probe is a connection too: count from a
      // snapshot, taken once the counts are still (kernel steering reports
      // them from the workers a few times a second).
      let s0 = await stats(fx);
      for (let tries = 0; tries < 10; tries++) {
        await new Promise((r) => setTimeout(r, 300));
        const again = await stats(fx);
        if (again.routed === s0.routed) break;
        s0 = again;
      }
      expect(s0.workers.length).toBe(3);
      expect(s0.core).toBe(process.env.STICKY_NATIVE === 'fallback' ? 'fallback' : 'native');
      const addrs = sourceAddresses(25);
      const perIndex = [0, 0, 0];
      let made = 0;
      for (let rep = 0; rep < 3; rep++) {
        const infos = await mapLimit(addrs, 8, (a) => ask(fx.port, a));
        for (const i of infos) perIndex[Number(i.index)]++;
        made += infos.length;
      }
      // Under kernel steering the workers report their counts a few times a
      // second: wait (bounded) for the reports to catch up.
      let s1 = await stats(fx);
      for (let tries = 0; tries < 20 && s1.routed - s0.routed < made; tries++) {
        await new Promise((r) => setTimeout(r, 100));
        s1 = await stats(fx);
      }
      const delta = s1.workers.map((w: Ev, i: number) => w.connections - s0.workers[i].connections);
      expect(delta).toEqual(perIndex);
      expect(delta.reduce((a: number, b: number) => a + b, 0)).toBe(made);
      expect(s1.routed - s0.routed).toBe(made);
      for (const w of s1.workers) {
        expect(w.live).toBe(true);
        expect(fx.workerPids()).toContain(w.pid);
      }
    } finally {
      await fx.stop();
    }
  });

  it('close(): lets an in-flight slow request finish, resolves, refuses new connections, leaves no worker', async () => {
    const fx = await start({ FIXTURE_WORKERS: '2' });
    try {
      const pids = events(fx, 'online').map((e) => e.pid as number);
      expect(pids.length).toBe(2);
      const slow = request({ port: fx.port, localAddress: '127.0.0.9', path: '/slow', timeoutMs: 10_000 });
      await fx.waitForLine(/"event":"slow-start"/, 5000);
      process.kill(fx.pid, 'SIGHUP');
      await fx.waitForLine(/"event":"closing"/, 5000);

      const res = await slow;
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body).slow).toBe(true);

      await fx.waitForLine(/"event":"closed"/, 15_000);
      const closed = events(fx, 'closed')[0];
      expect(closed.alive, 'worker pids still in /proc when close() resolved').toEqual([]);
      expect(fx.alive()).toBe(true); // the primary itself lives on
      for (const pid of pids) expect(fs.existsSync(`/proc/${pid}`), `worker ${pid}`).toBe(false);
      expect(fx.workerPids()).toEqual([]);

      const outcome = await new Promise<string>((resolve) => {
        const s = net.connect({ port: fx.port, host: '127.0.0.1' });
        const t = setTimeout(() => { s.destroy(); resolve('timeout'); }, 3000);
        s.once('connect', () => { clearTimeout(t); s.destroy(); resolve('connected'); });
        s.once('error', (e: NodeJS.ErrnoException) => { clearTimeout(t); resolve(e.code ?? e.message); });
      });
      expect(outcome).toBe('ECONNREFUSED');
    } finally {
      await fx.stop();
    }
  });
});

function runNode(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(REPO_ROOT, file)], { cwd: REPO_ROOT, env: process.env, timeout: 15_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${file}: ${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

describe('entry points', () => {
  const api = { createBalancer: 'function', serve: 'function', listen: 'function', Master: 'function' };

  it("require('sticky-native') is the seed function carrying createBalancer, serve, listen, Master", async () => {
    const out = JSON.parse(await runNode('test/fixtures/typed-imports.cjs'));
    expect(out.cjs).toEqual({ self: 'function', ...api });
    expect(out.resolved).toBe(path.join(REPO_ROOT, 'dist', 'index.js'));
  });

  it("import sticky from 'sticky-native' (.mjs): default and named exports, same functions as require()", async () => {
    const out = JSON.parse(await runNode('test/fixtures/typed-imports.mjs'));
    expect(out.esmDefault).toEqual({ self: 'function', ...api });
    expect(out.esmNamed).toMatchObject(api);
    expect(out.cjs).toEqual({ self: 'function', ...api });
    expect(out.sameCreateBalancer).toBe(true);
  });
});

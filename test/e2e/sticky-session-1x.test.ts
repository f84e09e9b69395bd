// sticky-session 1.x fidelity: its own tests (shipped in its npm tarball) run
// as written against sticky-native; a worker that closes its server is
// replaced (1.x semantics, and the typed API's too); cluster.workers is full
// when listen() returns; the habit cluster.on('exit', () => cluster.fork())
// gives a clear warning and no EPIPE crash at shutdown.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { REPO_ROOT, freePort, request, sleep, startFixture, stopAll, type Fixture } from '../helpers/harness';
import { runToExit } from '../helpers/run-to-exit';

const started: Fixture[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((f) => f.stop()));
});
afterAll(stopAll);

const V1_TESTS = path.join(REPO_ROOT, 'node_modules/sticky-session/test');

/**
 * Copies one of sticky-session 1.1.2's tests into a package whose entry is
 * sticky-native, so its `require('../')` loads sticky-native; only its fixed
 * port is replaced by a free one.
 */
async function asStickyNativeTest(name: string): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sticky-1x-'));
  fs.mkdirSync(path.join(dir, 'test'));
  fs.writeFileSync(path.join(dir, 'index.js'), `module.exports = require(${JSON.stringify(REPO_ROOT)});\n`);
  const source = fs.readFileSync(path.join(V1_TESTS, name), 'utf8');
  expect(source).toContain('13845');
  fs.writeFileSync(path.join(dir, 'test', name), source.replaceAll('13845', String(await freePort())));
  return path.join(dir, 'test', name);
}

function pidIsLive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !['Z', 'X'].includes(stat.slice(stat.lastIndexOf(')') + 2)[0]);
  } catch {
    return false;
  }
}

/** `pid=<pid> w=<index>` -> fields. */
function answer(body: string): { pid: number; index: number } {
  const m = /^pid=(\d+) w=(\d+)$/.exec(body);
  if (!m) throw new Error(`not a close-server answer: ${JSON.stringify(body)}`);
  return { pid: Number(m[1]), index: Number(m[2]) };
}

describe("sticky-session 1.1.2's own tests, run against sticky-native", () => {
  // fork-options-test.js is not run: its primary takes the first message from
  // the worker as the test's, and sticky-native's own 'ready' comes first (its
  // messages travel as user messages, not as Node's internal ones).
  test.each(['graceful-close-test.js', '100-connections-test.js'])('%s exits 0', async (name) => {
    const file = await asStickyNativeTest(name);
    const exit = await runToExit([process.execPath, file], { timeoutMs: 30_000 });
    expect(exit.timedOut, exit.stderr).toBe(false);
    expect(exit.code, exit.stderr).toBe(0);
  });
});

/**
 * GET /close from one client address, then requests from it until its index
 * answers from another pid (bounded): every answer after the close must come
 * from another pid, the old worker must exit after running close()'s callback.
 */
async function closeAndFollow(fx: Fixture): Promise<void> {
  const localAddress = '127.0.0.2';
  const first = answer((await request({ port: fx.port, localAddress, path: '/close' })).body);
  let replaced: { pid: number; index: number } | null = null;
  for (let attempt = 0; attempt < 100 && !replaced; attempt++) {
    const next = answer((await request({ port: fx.port, localAddress })).body);
    expect(next.pid, 'a request after server.close() reached the worker that closed').not.toBe(first.pid);
    if (next.index === first.index) replaced = next;
    else await sleep(50);
  }
  expect(replaced, `index ${first.index} was never served again`).not.toBeNull();
  await fx.waitForLine(new RegExp(`^closed ${first.pid}$`), 10_000);
  for (let waited = 0; waited < 100 && pidIsLive(first.pid); waited++) await sleep(50);
  expect(pidIsLive(first.pid), 'the worker that closed its server is still running').toBe(false);
}

describe('a worker that closes its server is replaced', () => {
  test('sticky.listen (1.x): the next request is answered by a new worker at the same index; the old one exits', async () => {
    const port = await freePort();
    const fx = await startFixture('test/fixtures/close-server.js', { env: { PORT: String(port), FIX_API: 'v1', FIX_WORKERS: '2' } });
    started.push(fx);
    await closeAndFollow(fx);
  });

  test('createBalancer + serve (typed API): the same', async () => {
    const port = await freePort();
    const fx = await startFixture('test/fixtures/close-server.js', { env: { PORT: String(port), FIX_API: 'typed', FIX_WORKERS: '2' } });
    started.push(fx);
    await closeAndFollow(fx);
  });
});

describe('sticky.listen fills cluster.workers before it returns', () => {
  test('three workers right after listen(), each started with the env option', async () => {
    const port = await freePort();
    const fx = await startFixture('test/fixtures/close-server.js', { env: { PORT: String(port), FIX_API: 'v1', FIX_WORKERS: '3' } });
    started.push(fx);
    expect(fx.stdout).toContain('workers after listen: 3');
    for (let waited = 0; waited < 100 && fx.stdout.filter((l) => / FOO=/.test(l)).length < 3; waited++) await sleep(50);
    const reports = fx.stdout.filter((l) => / FOO=/.test(l));
    expect(reports).toHaveLength(3);
    for (const line of reports) expect(line).toMatch(/^worker \d+ FOO=bar$/);
  });
});

/** The direct children of `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  return fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name)).map(Number).filter((p) => {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
    } catch {
      return false;
    }
  });
}

async function until(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !ok(); await sleep(50)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

describe("the habit cluster.on('exit', () => cluster.fork()) left in place", () => {
  test('the extra worker is named in one warning; SIGTERM still exits 0 with no EPIPE and no process left', async () => {
    const port = await freePort();
    const exit = await runToExit([process.execPath, path.join(REPO_ROOT, 'test/fixtures/refork-habit.js')], {
      env: { PORT: String(port) },
      timeoutMs: 30_000,
      onStart: async (child) => {
        let out = '';
        let err = '';
        child.stdout!.on('data', (chunk: string) => (out += chunk));
        child.stderr!.on('data', (chunk: string) => (err += chunk));
        await until('listening', () => out.includes(`listening ${port}`));
        await until('two workers', () => childrenOf(child.pid!).length === 2);
        process.kill(childrenOf(child.pid!)[0], 'SIGKILL');
        await until('the warning', () => err.includes('STICKY_NATIVE_FOREIGN_WORKER'));
        expect(err).toMatch(/forked by cluster\.fork\(\) outside the balancer, so no connection goes to it/);
        // The balancer's own respawn serves; the application's extra worker gets nothing.
        await until('the respawn', () => childrenOf(child.pid!).length === 3);
        for (let i = 0; i < 10; i++) expect((await request({ port, localAddress: `127.0.0.${2 + i}` })).status).toBe(200);
        child.kill('SIGTERM');
      },
    });
    expect(exit.timedOut, exit.stderr).toBe(false);
    expect(exit.code, exit.stderr).toBe(0);
    expect(exit.stderr).not.toMatch(/EPIPE/);
    expect(exit.stderr.match(/STICKY_NATIVE_FOREIGN_WORKER/g)).toHaveLength(1);
    expect(exit.leftBehind).toEqual([]);
  });
});

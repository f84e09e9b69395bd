// Forwarded headers you can trust: behind a real nginx that appends the peer
// to X-Forwarded-For, forwardedPick 'rightmost-untrusted' routes each client by
// its own address even when it forges the header; the 'leftmost' control is
// fooled by the forgery. Then RFC 7239 Forwarded and X-Real-IP over raw requests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  freePort, mapLimit, parseResponse, rawExchange, request, sleep, sourceAddresses, startFixture, stopAll,
  type Fixture,
} from '../helpers/harness';

afterAll(stopAll);

const hasNginx = spawnSync('nginx', ['-v'], { encoding: 'utf8' }).status === 0;

function workerOf(body: string): number {
  const m = /^w=(\d+) /.exec(body);
  if (!m) throw new Error(`not an echo-app answer: ${JSON.stringify(body)}`);
  return Number(m[1]);
}

interface Nginx {
  port: number;
  stop(): Promise<void>;
}

/** nginx in front of the balancer, appending its peer to X-Forwarded-For; stopped by its pid. */
async function startNginx(upstreamPort: number): Promise<Nginx> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sticky-nginx-'));
  const port = await freePort();
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((kind) => `${kind}_temp_path ${path.join(dir, kind)};`).join(' ');
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, `worker_processes 1;
events { worker_connections 512; }
http {
  access_log off;
  ${temp}
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://127.0.0.1:${upstreamPort};
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`);
  const pidFile = path.join(dir, 'nginx.pid');
  const child: ChildProcess = spawn('nginx', ['-p', dir, '-c', conf, '-g', `daemon off; pid ${pidFile}; error_log stderr;`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let waited = 0; ; waited += 50) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    const up = await request({ port, path: '/', timeoutMs: 1000 }).then(() => true, () => false);
    if (up) break;
    if (waited > 10_000) throw new Error(`nginx did not come up: ${stderr}`);
    await sleep(50);
  }
  return {
    port,
    async stop() {
      const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
      process.kill(pid, 'SIGQUIT');
      await Promise.race([exited, sleep(5000).then(() => process.kill(pid, 'SIGKILL'))]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Clients from 127.0.0.2.., each forging X-Forwarded-For: 6.6.6.6 through nginx, three times. */
async function forgers(nginx: Nginx, clients: string[]): Promise<Map<string, Set<number>>> {
  const seen = new Map<string, Set<number>>(clients.map((c) => [c, new Set<number>()]));
  await mapLimit([...clients, ...clients, ...clients], 8, async (client) => {
    const r = await request({ port: nginx.port, localAddress: client, headers: { 'X-Forwarded-For': '6.6.6.6' } });
    expect(r.status, r.body).toBe(200);
    seen.get(client)!.add(workerOf(r.body));
  });
  return seen;
}

describe.skipIf(!hasNginx)('behind nginx ($proxy_add_x_forwarded_for), 3 workers, nginx (127.0.0.1) trusted', () => {
  // The clients' own addresses are loopback too: only nginx's is trusted here.
  const clients = sourceAddresses(24).filter((a) => a !== '127.0.0.1');

  describe("forwardedPick 'rightmost-untrusted'", () => {
    let fx: Fixture;
    let nginx: Nginx;
    beforeAll(async () => {
      fx = await startFixture('test/fixtures/typed-server.js', {
        env: { FIX_WORKERS: '3', FIX_ROUTING: 'header', FIX_FORWARDED_PICK: 'rightmost-untrusted', FIX_TRUSTED: '127.0.0.1' },
      });
      nginx = await startNginx(fx.port);
    });
    afterAll(async () => {
      await nginx?.stop();
      await fx?.stop();
    });

    test('each forger is sticky by its own address, and forgers spread over the workers', async () => {
      const seen = await forgers(nginx, clients);
      expect([...seen].filter(([, s]) => s.size !== 1).map(([c]) => c), 'clients that moved').toEqual([]);
      const used = new Set([...seen.values()].map((s) => [...s][0]));
      expect(used.size, 'all forgers on one worker: the forged address decided').toBe(3);
      // The same worker as the client's honest requests.
      for (const client of clients.slice(0, 8)) {
        const honest = await request({ port: nginx.port, localAddress: client });
        expect(workerOf(honest.body), client).toBe([...seen.get(client)!][0]);
      }
    });

    test('a client that bypasses nginx and forges the header itself is routed by its own address', async () => {
      const used = new Set<number>();
      for (const client of clients.slice(0, 12)) {
        const direct = await request({ port: fx.port, localAddress: client, headers: { 'X-Forwarded-For': '6.6.6.6' } });
        const honest = await request({ port: nginx.port, localAddress: client });
        expect(workerOf(direct.body), client).toBe(workerOf(honest.body));
        used.add(workerOf(direct.body));
      }
      expect(used.size, 'all direct forgers on one worker: the forged address decided').toBeGreaterThan(1);
    });
  });

  describe("forwardedPick 'leftmost' (control)", () => {
    let fx: Fixture;
    let nginx: Nginx;
    beforeAll(async () => {
      fx = await startFixture('test/fixtures/typed-server.js', {
        env: { FIX_WORKERS: '3', FIX_ROUTING: 'header', FIX_FORWARDED_PICK: 'leftmost', FIX_TRUSTED: '127.0.0.1' },
      });
      nginx = await startNginx(fx.port);
    });
    afterAll(async () => {
      await nginx?.stop();
      await fx?.stop();
    });

    test('the forged value decides: every forger lands on one worker', async () => {
      const seen = await forgers(nginx, clients);
      const used = new Set([...seen.values()].flatMap((s) => [...s]));
      expect(used.size).toBe(1);
    });
  });
});

/** Sends one raw request with the given header lines; the worker that answered. */
async function rawWorker(port: number, lines: string[]): Promise<{ status: number; worker: number | null; body: string }> {
  const head = `GET /raw HTTP/1.1\r\nHost: x\r\n${lines.map((l) => `${l}\r\n`).join('')}Connection: close\r\n\r\n`;
  const res = await rawExchange(port, [head], { timeoutMs: 10_000 });
  const parsed = parseResponse(res.data);
  if (!parsed) throw new Error(`no HTTP answer: ${JSON.stringify(res.data.toString('latin1'))}`);
  return { status: parsed.status, worker: parsed.status === 200 ? workerOf(parsed.body) : null, body: parsed.body };
}

describe("header 'forwarded' (RFC 7239), rightmost-untrusted, loopback trusted, 3 workers", () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await startFixture('test/fixtures/typed-server.js', {
      env: { FIX_WORKERS: '3', FIX_ROUTING: 'header', FIX_HEADER: 'Forwarded' },
    });
  });
  afterAll(() => fx?.stop());

  test('the client node decides, whatever is prepended, in every node form and split over lines', async () => {
    const used = new Set<number>();
    const mismatched: string[] = [];
    await mapLimit(Array.from({ length: 30 }, (_, i) => i), 4, async (i) => {
      const v4 = `198.51.100.${i + 1}`;
      const v6 = `2001:db8:${(i + 1).toString(16)}::1`;
      const expected4 = (await rawWorker(fx.port, [`Forwarded: for=${v4}`])).worker!;
      const expected6 = (await rawWorker(fx.port, [`Forwarded: for="[${v6}]"`])).worker!;
      used.add(expected4).add(expected6);
      const forms: Array<[number, string[]]> = [
        [expected4, [`Forwarded: for=6.6.6.6, for=${v4};proto=https, for=127.0.0.1`]],
        [expected4, [`Forwarded: for="${v4}:47011";by=_proxy, for="[::1]:8080"`]],
        [expected4, [`forwarded: FOR=6.6.6.6`, `FORWARDED: for=${v4}`, `Forwarded: for=127.0.0.1`]],
        [expected6, [`Forwarded: for=_hidden, for="[${v6}]:4711", for="[::1]"`]],
      ];
      for (const [expected, lines] of forms) {
        const got = await rawWorker(fx.port, lines);
        if (got.worker !== expected) mismatched.push(`${JSON.stringify(lines)} -> ${got.status} ${got.worker}, expected ${expected}`);
      }
    });
    expect(mismatched).toEqual([]);
    expect(used.size).toBe(3);
  });

  test('an obfuscated or unknown node where the client should be -> 400', async () => {
    for (const value of ['for=198.51.100.1, for=_hidden', 'for=unknown', 'proto=https', 'for=198.51.100.1, for=127.0.0.1 junk']) {
      const got = await rawWorker(fx.port, [`Forwarded: ${value}`]);
      expect(got.status, value).toBe(400);
    }
  });
});

describe("header 'X-Real-IP', 3 workers", () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await startFixture('test/fixtures/typed-server.js', {
      env: { FIX_WORKERS: '3', FIX_ROUTING: 'header', FIX_HEADER: 'X-Real-IP' },
    });
  });
  afterAll(() => fx?.stop());

  test('sticky by its value, spread over the workers; X-Forwarded-For is ignored', async () => {
    const values = Array.from({ length: 40 }, (_, i) => (i % 2 ? `203.0.113.${i}` : `2001:db8:77::${i.toString(16)}`));
    const used = new Set<number>();
    const moved: string[] = [];
    await mapLimit(values, 4, async (v) => {
      const first = await rawWorker(fx.port, [`X-Real-IP: ${v}`]);
      expect(first.status, first.body).toBe(200);
      used.add(first.worker!);
      const again = await rawWorker(fx.port, [`X-Forwarded-For: 6.6.6.6`, `x-real-ip:  ${v} `]);
      if (again.worker !== first.worker) moved.push(v);
    });
    expect(moved).toEqual([]);
    expect(used.size).toBe(3);
    expect((await rawWorker(fx.port, ['X-Forwarded-For: 6.6.6.6'])).status).toBe(400);
  });
});

// routing 'proxy-protocol' behind a real HAProxy (send-proxy, send-proxy-v2)
// and nginx (stream proxy_protocol on), with http and https workers, plus the
// failure cases and v1/v2 headers on raw sockets, over whichever transport the
// project picks (the native channel in 'native' and 'channel'). Loopback only;
// every process started here is stopped by its pid.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, hasOpenssl, selfSignedCertificate, sleep, startFixture, type Fixture } from '../helpers/harness';

const FIXTURE = 'test/fixtures/proxy-primary.js';
// 'auto' picks the native channel wherever the addon has a dispatcher.
const TRANSPORT = process.env.STICKY_NATIVE === 'fallback' ? 'ipc' : process.env.STICKY_TRANSPORT || 'channel';

function binary(name: string): string | null {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin']) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return file;
  }
  return null;
}
const HAPROXY = binary('haproxy');
const NGINX = binary('nginx');
// Debian builds the stream module as a loadable one (package libnginx-mod-stream).
const NGINX_STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';
// `nginx -V` prints its build options on stderr.
const NGINX_STREAM = NGINX !== null &&
  (/--with-stream(\s|$)/.test(spawnSync(NGINX, ['-V'], { encoding: 'utf8' }).stderr) || fs.existsSync(NGINX_STREAM_MODULE));

let tmp = '';
let certificate: { key: string; cert: string } | null = null;
const started: ChildProcess[] = [];

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sticky-proxy-'));
  if (hasOpenssl) certificate = selfSignedCertificate(tmp);
});

afterAll(async () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null && child.pid) process.kill(child.pid, 'SIGTERM');
  await sleep(200);
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function waitForPort(port: number, child: ChildProcess, what: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${what} did not listen on ${port}`);
}

function launch(file: string, args: string[]): ChildProcess {
  const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (d) => { if (process.env.HARNESS_VERBOSE) process.stderr.write(d); });
  started.push(child);
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid, 'SIGTERM');
  await Promise.race([exited, sleep(3000)]);
}

/** HAProxy in front of `target`: one frontend with send-proxy (v1), one with send-proxy-v2. */
async function startHaproxy(target: number): Promise<{ v1: number; v2: number; child: ChildProcess }> {
  const v1 = await freePort();
  const v2 = await freePort();
  const config = path.join(tmp, `haproxy-${target}.cfg`);
  fs.writeFileSync(config, [
    'global', '  maxconn 512',
    'defaults', '  mode tcp', '  timeout connect 5s', '  timeout client 30s', '  timeout server 30s',
    'frontend v1', `  bind 127.0.0.1:${v1}`, '  default_backend v1',
    'backend v1', `  server s1 127.0.0.1:${target} send-proxy`,
    'frontend v2', `  bind 127.0.0.1:${v2}`, '  default_backend v2',
    'backend v2', `  server s1 127.0.0.1:${target} send-proxy-v2`, '',
  ].join('\n'));
  const child = launch(HAPROXY!, ['-db', '-f', config]);
  await waitForPort(v1, child, 'haproxy');
  await waitForPort(v2, child, 'haproxy');
  return { v1, v2, child };
}

/** nginx's stream proxy in front of `target`, writing PROXY v1. */
async function startNginx(target: number): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const prefix = fs.mkdtempSync(path.join(tmp, 'nginx-'));
  const config = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(config, [
    fs.existsSync(NGINX_STREAM_MODULE) ? `load_module ${NGINX_STREAM_MODULE};` : '',
    'worker_processes 1;',
    'events { worker_connections 512; }',
    `stream { server { listen 127.0.0.1:${port}; proxy_pass 127.0.0.1:${target}; proxy_protocol on; } }`, '',
  ].join('\n'));
  const child = launch(NGINX!, ['-p', prefix, '-c', config, '-g', `daemon off; pid ${prefix}/nginx.pid; error_log stderr;`]);
  await waitForPort(port, child, 'nginx');
  return { port, child };
}

interface Answer { worker: number; address: string; port: number; family: string }

function get(port: number, localAddress: string, tls: boolean): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = (tls ? https : http).get(
      { host: '127.0.0.1', port, path: '/', localAddress, agent: false, rejectUnauthorized: false, timeout: 10_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => {
          const m = /^w=(\d+) a=(\S+) p=(\d+) f=(\S+)$/.exec(body);
          if (!m) return reject(new Error(`unexpected answer: ${body}`));
          resolve({ worker: Number(m[1]), address: m[2], port: Number(m[3]), family: m[4] });
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', reject);
  });
}

/** 24 clients from 127.0.0.2.., 2 requests each: each sticks to one worker, both workers are used, each sees its client. */
async function checkClients(port: number, tls: boolean): Promise<void> {
  const workerOf = new Map<string, number>();
  for (let round = 0; round < 2; round++) {
    await Promise.all(Array.from({ length: 24 }, async (_, i) => {
      const client = `127.0.0.${i + 2}`;
      const answer = await get(port, client, tls);
      expect(answer.address, client).toBe(client);
      expect(answer.family).toBe('IPv4');
      expect(answer.port).toBeGreaterThan(0);
      if (round === 0) workerOf.set(client, answer.worker);
      else expect(answer.worker, `${client} moved`).toBe(workerOf.get(client));
    }));
  }
  expect(new Set(workerOf.values()).size).toBe(2);
}

async function rejected(fixture: Fixture): Promise<Record<string, number>> {
  const before = fixture.stdout.length;
  process.kill(fixture.pid, 'SIGUSR2');
  for (let i = 0; i < 100 && fixture.stdout.length === before; i++) await sleep(20);
  const line = fixture.stdout.slice(before).find((l) => l.startsWith('stats '));
  if (!line) throw new Error('no stats line');
  return JSON.parse(line.slice('stats '.length));
}

/** Writes `bytes`, then resolves with what came back once the primary closed the connection (or null past `ms`). */
function rawExchange(port: number, bytes: Buffer | string, ms = 5000, localAddress = '127.0.0.1'): Promise<string | null> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () => socket.write(bytes));
    const timer = setTimeout(() => { socket.destroy(); resolve(null); }, ms);
    socket.setEncoding('utf8').on('data', (d) => (answer += d));
    socket.on('close', () => { clearTimeout(timer); resolve(answer); });
    socket.on('error', () => {});
  });
}

const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** A v2 PROXY header for TCP from `source`:`port` (IPv4 or IPv6 text) to the loopback's port 80. */
function v2Header(source: string, port: number): Buffer {
  const v4 = net.isIPv4(source);
  const address = (text: string) => (v4 ? Buffer.from(text.split('.').map(Number)) : ipv6Bytes(text));
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(port, 0);
  ports.writeUInt16BE(80, 2);
  const block = Buffer.concat([address(source), address(v4 ? '127.0.0.1' : '::1'), ports]);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(block.length);
  return Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, v4 ? 0x11 : 0x21]), length, block]);
}

/** 16 bytes of an IPv6 text with at most one '::'. */
function ipv6Bytes(text: string): Buffer {
  const [left, right = ''] = text.split('::');
  const groups = (part: string) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const head = groups(left);
  const tail = text.includes('::') ? groups(right) : [];
  const all = [...head, ...Array(8 - head.length - tail.length).fill(0), ...tail];
  const bytes = Buffer.alloc(16);
  all.forEach((g, i) => bytes.writeUInt16BE(g, i * 2));
  return bytes;
}

/** Sends `header`, then one GET (over TLS when `secure`) on the same connection; the worker's answer. */
function getBehindHeader(port: number, header: Buffer | string, secure: boolean): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const raw = net.connect({ port, host: '127.0.0.1' }, () => {
      raw.write(header);
      const stream: net.Socket = secure ? tlsConnect({ socket: raw, rejectUnauthorized: false }) : raw;
      let reply = '';
      stream.setEncoding('utf8').on('data', (d) => (reply += d));
      stream.once('end', () => {
        clearTimeout(timer);
        const m = /w=(\d+) a=(\S+) p=(\d+) f=(\S+)$/.exec(reply);
        if (!m) return reject(new Error(`unexpected answer: ${reply}`));
        resolve({ worker: Number(m[1]), address: m[2], port: Number(m[3]), family: m[4] });
      });
      stream.once('error', reject);
      const send = () => stream.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      if (secure) stream.once('secureConnect', send);
      else send();
    });
    const timer = setTimeout(() => { raw.destroy(); reject(new Error('timeout')); }, 10_000);
    raw.once('error', reject);
  });
}

describe("routing 'proxy-protocol'", () => {
  for (const tls of [false, true]) {
    describe(tls ? 'https workers' : 'http workers', () => {
      let fixture: Fixture;
      beforeAll(async () => {
        if (tls && !hasOpenssl) return;
        fixture = await startFixture(FIXTURE, {
          env: tls ? { FIX_TLS_KEY: certificate!.key, FIX_TLS_CERT: certificate!.cert } : {},
        });
      });
      afterAll(async () => fixture?.stop());

      // Channel only. Open on IPC: with the header and the request in separate
      // writes (as a proxy sends them) and 16 connections at once, 5-9 of 16
      // get no answer; one write each, or one connection at a time, are served.
      it.skipIf(TRANSPORT !== 'channel' || (tls && !hasOpenssl))("v1 and v2 headers through the native channel: the worker reports the header's client; a client sticks across versions", async () => {
        expect(await fixture.waitForLine(/^transport /)).toBe('transport channel');
        const workerOf = new Map<string, number>();
        await Promise.all(Array.from({ length: 16 }, async (_, i) => {
          const client = `198.51.100.${i + 1}`;
          const v1 = await getBehindHeader(fixture.port, `PROXY TCP4 ${client} 127.0.0.1 ${40000 + i} 80\r\n`, tls);
          expect(v1, client).toMatchObject({ address: client, port: 40000 + i, family: 'IPv4' });
          const v2 = await getBehindHeader(fixture.port, v2Header(client, 50000 + i), tls);
          expect(v2, client).toMatchObject({ address: client, port: 50000 + i, family: 'IPv4', worker: v1.worker });
          workerOf.set(client, v1.worker);
        }));
        expect(new Set(workerOf.values()).size).toBe(2);
        const v6 = await getBehindHeader(fixture.port, v2Header('2001:db8::9', 4569), tls);
        expect(v6).toMatchObject({ address: '2001:db8::9', port: 4569, family: 'IPv6' });
      });

      // HAProxy writes the PROXY header as soon as it has connected to the balancer
      // and forwards the client's first bytes in a later segment, so this case also
      // covers a request that arrives after the primary has decided on the header.
      it('behind HAProxy (send-proxy and send-proxy-v2): sticky, spread, real client address', async ({ skip }) => {
        if (!HAPROXY) skip('haproxy is not installed (apt-get install haproxy)');
        if (tls && !hasOpenssl) skip('openssl is not installed: no certificate for the https workers');
        const haproxy = await startHaproxy(fixture.port);
        try {
          await checkClients(haproxy.v1, tls);
          await checkClients(haproxy.v2, tls);
        } finally {
          await stop(haproxy.child);
        }
      });

      it('behind nginx (stream, proxy_protocol on): sticky, spread, real client address', async ({ skip }) => {
        if (!NGINX) skip('nginx is not installed (apt-get install nginx libnginx-mod-stream)');
        if (!NGINX_STREAM) skip(`nginx has no stream module: neither built in nor ${NGINX_STREAM_MODULE} (apt-get install libnginx-mod-stream)`);
        if (tls && !hasOpenssl) skip('openssl is not installed: no certificate for the https workers');
        const nginx = await startNginx(fixture.port);
        try {
          await checkClients(nginx.port, tls);
        } finally {
          await stop(nginx.child);
        }
      });
    });
  }

  describe('bad input', () => {
    let fixture: Fixture;
    beforeAll(async () => {
      fixture = await startFixture(FIXTURE, { env: { FIX_HEAD_TIMEOUT: '500' } });
    });
    afterAll(async () => fixture?.stop());

    it('a malformed header is closed and counted; the primary still serves', async () => {
      expect(await fixture.waitForLine(/^transport /)).toBe(`transport ${TRANSPORT}`);
      expect(await rawExchange(fixture.port, 'PROXY TCP4 1.2.3.4 5.6.7.8 999999 80\r\nGET / HTTP/1.1\r\n\r\n')).toBe('');
      expect(await rawExchange(fixture.port, Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0, 3, 1, 2, 3])]))).toBe('');
      expect((await rejected(fixture))['malformed-proxy']).toBe(2);
      const answer = await get(fixture.port, '127.0.0.1', false);
      expect(answer.address).toBe('127.0.0.1');
    });

    it('a truncated header then silence is closed at headTimeout', async () => {
      const startedAt = Date.now();
      expect(await rawExchange(fixture.port, 'PROXY TCP4 1.2.3.4 ', 5000)).toBe('');
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(400);
      expect((await rejected(fixture))['head-timeout']).toBe(1);
    });

    it('plain HTTP from a trusted peer is served by peer address', async () => {
      const answer = await get(fixture.port, '127.0.0.5', false);
      expect(answer.address).toBe('127.0.0.5');
    });

    it('a v2 LOCAL header (health check) is consumed, the request served by peer address', async () => {
      const local = Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0, 0])]);
      const reply = await rawExchange(fixture.port, Buffer.concat([local, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')]));
      expect(reply).toMatch(/^HTTP\/1\.1 200 [\s\S]*w=\d a=127\.0\.0\.1 /);
    });

    it('a v1 header with the request in the same segment: the worker reads exactly the rest', async () => {
      const reply = await rawExchange(fixture.port, 'PROXY TCP4 203.0.113.9 10.0.0.1 4567 80\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      expect(reply).toMatch(/w=\d a=203\.0\.113\.9 p=4567 f=IPv4$/);
      const v6 = await rawExchange(fixture.port, 'PROXY TCP6 2001:db8::7 ::1 4568 80\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      expect(v6).toMatch(/w=\d a=2001:db8::7 p=4568 f=IPv6$/);
    });
  });

  describe('untrusted peer (trustedProxies: 10.9.9.9/32)', () => {
    let fixture: Fixture;
    beforeAll(async () => {
      fixture = await startFixture(FIXTURE, { env: { FIX_TRUSTED: '10.9.9.9/32' } });
    });
    afterAll(async () => fixture?.stop());

    it('a PROXY header is closed and counted; plain HTTP goes by peer address', async () => {
      expect(await rawExchange(fixture.port, 'PROXY TCP4 1.2.3.4 5.6.7.8 1111 80\r\nGET / HTTP/1.1\r\n\r\n')).toBe('');
      expect(await rawExchange(fixture.port, Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0, 0])]))).toBe('');
      expect((await rejected(fixture))['untrusted-proxy']).toBe(2);
      const answer = await get(fixture.port, '127.0.0.7', false);
      expect(answer.address).toBe('127.0.0.7');
    });
  });
});

// Many machines for real: two hosts as network namespaces on a bridge made by
// this test, each running the README's examples/many-machines.js as written
// (sticky-native, routing 'proxy-protocol', @socket.io/redis-adapter); HAProxy
// in front (balance source, send-proxy-v2) and a real redis-server, both in
// the root namespace on the bridge's address; 20 socket.io clients from
// distinct 127.0.0.x source addresses. A broadcast from any worker of any host
// reaches every client, io.fetchSockets() counts all of them, and each worker
// sees each client's own address, not HAProxy's. Everything this test starts
// or makes is stopped by its pid or deleted in afterAll, also on failure.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort, sleep, sourceAddresses, startFixture, type Fixture } from '../helpers/harness';
import { broadcast, byWorkerPid, connectClients, waitUntil, type ChatClient } from '../helpers/chat-clients';
import { leftovers, makeLan, namespacesUnavailable, type Lan } from '../helpers/netns';

const HAPROXY = '/usr/sbin/haproxy';
const REDIS = '/usr/bin/redis-server';
const HOST_PORT = 3000; // each host has its own network stack, so both use it
const CLIENTS = 20;

const missing = [
  namespacesUnavailable(),
  fs.existsSync(HAPROXY) ? null : `${HAPROXY} is not installed (apt-get install haproxy)`,
  fs.existsSync(REDIS) ? null : `${REDIS} is not installed (apt-get install redis-server)`,
].filter((m): m is string => m !== null);

let tmp = '';
let lan: Lan | null = null;
const daemons: ChildProcess[] = [];
const hosts: Fixture[] = [];
let clients: ChatClient[] = [];

function launch(file: string, args: string[]): ChildProcess {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = (d: Buffer) => { if (process.env.HARNESS_VERBOSE) process.stderr.write(`[${path.basename(file)}] ${d}`); };
  child.stdout!.on('data', log);
  child.stderr!.on('data', log);
  daemons.push(child);
  return child;
}

async function stopDaemon(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid, 'SIGTERM');
  if (await Promise.race([exited.then(() => true), sleep(3000).then(() => false)])) return;
  process.kill(child.pid, 'SIGKILL');
  await Promise.race([exited, sleep(2000)]);
}

async function waitForPort(host: string, port: number, child: ChildProcess, what: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host, () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${what} did not listen on ${host}:${port}`);
}

/** The HAProxy config: the README's, on this LAN's addresses and a free port. */
function haproxyConfig(l: Lan, port: number): string {
  return [
    'global', '    maxconn 1024',
    'defaults', '    mode tcp', '    timeout connect 5s', '    timeout client 60s', '    timeout server 60s',
    'frontend public', `    bind 127.0.0.1:${port}`, '    default_backend hosts',
    'backend hosts', '    balance source', '    hash-type consistent',
    ...l.hosts.map((h) => `    server ${h.name} ${h.address}:${HOST_PORT} send-proxy-v2`),
    '',
  ].join('\n');
}

const started = Date.now();
let setUp = 0;
let haproxyPort = 0;

beforeAll(async () => {
  if (missing.length > 0) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sticky-many-hosts-'));
  lan = makeLan(['a', 'b']);

  // Redis on its own port, on the LAN's gateway address only: never a system redis's.
  const redisPort = await freePort();
  const redis = launch(REDIS, [
    '--bind', lan.gateway, '--port', String(redisPort), '--protected-mode', 'no',
    '--save', '', '--appendonly', 'no', '--dir', tmp, '--daemonize', 'no',
  ]);
  await waitForPort(lan.gateway, redisPort, redis, 'redis-server');

  const l = lan;
  hosts.push(...await Promise.all(l.hosts.map((h) => startFixture('examples/many-machines.js', {
    wrap: l.exec(h),
    env: { PORT: String(HOST_PORT), HAPROXY: l.gateway, REDIS_URL: `redis://${l.gateway}:${redisPort}` },
    readyLine: /^listening on port \d+$/, // no port group: the harness would check it on the root's loopback
    timeoutMs: 20_000,
  }))));
  // Every worker's adapter connected (serve() comes after), seen from the LAN.
  for (const h of lan.hosts) await waitForPort(h.address, HOST_PORT, redis, `host ${h.name}`);

  haproxyPort = await freePort();
  const config = path.join(tmp, 'haproxy.cfg');
  fs.writeFileSync(config, haproxyConfig(lan, haproxyPort));
  const haproxy = launch(HAPROXY, ['-db', '-f', config]);
  await waitForPort('127.0.0.1', haproxyPort, haproxy, 'haproxy');
  setUp = Date.now();
}, 60_000);

afterAll(async () => {
  const cleanup = Date.now();
  for (const c of clients) c.close();
  await Promise.all(hosts.map((h) => h.stop()));
  for (const d of daemons) await stopDaemon(d);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  if (lan) {
    const l = lan;
    l.remove();
    const s = (from: number, to: number): string => `${((to - from) / 1000).toFixed(1)} s`;
    console.log(`many-hosts: ${s(started, Date.now())} in all: set-up ${s(started, setUp)}, test ${s(setUp, cleanup)}, clean-up ${s(cleanup, Date.now())}`);
    if (!(await waitUntil(() => leftovers(l).length === 0, 3000))) throw new Error(`left behind: ${leftovers(l).join(', ')}`);
  }
});

describe('two hosts behind HAProxy with @socket.io/redis-adapter (examples/many-machines.js)', () => {
  test(`${CLIENTS} clients over both hosts: every worker's broadcast reaches all, each worker sees the real client address`, async ({ skip }) => {
    if (missing.length > 0) skip(missing.join('; '));
    const l = lan!;
    const config = haproxyConfig(l, haproxyPort);
    console.log(`many-hosts: LAN ${l.subnet} on bridge ${l.bridge} (HAProxy and Redis at ${l.gateway}); ` +
      `hosts ${l.hosts.map((h) => `${h.name}=${h.netns}@${h.address}:${HOST_PORT}`).join(', ')}\n${config}`);

    clients = await connectClients(`http://127.0.0.1:${haproxyPort}`, sourceAddresses(CLIENTS));
    const all = clients.map((c) => c.localAddress).sort();

    // Each client's address as its worker saw it.
    for (const c of clients) expect(c.hello!.address, `address seen for ${c.localAddress}`).toBe(c.localAddress);

    const groups = byWorkerPid(clients);
    const hostOf = (pid: number): number => hosts.findIndex((h) => h.workerPids().includes(pid));
    for (const pid of groups.keys()) expect(hostOf(pid), `worker pid ${pid} belongs to a host`).toBeGreaterThanOrEqual(0);
    const perHost = hosts.map((_, i) => [...groups].filter(([pid]) => hostOf(pid) === i).reduce((n, [, g]) => n + g.length, 0));
    console.log(`many-hosts: clients per host ${perHost.join('/')}, per worker ${[...groups].map(([pid, g]) => `${hostOf(pid)}:${pid}=${g.length}`).join(' ')}`);
    expect(perHost.every((n) => n > 0), `clients on every host: ${perHost.join('/')}`).toBe(true);

    for (const [pid, group] of groups) {
      expect(await broadcast(group[0], clients), `heard a broadcast from host ${hostOf(pid)} worker pid ${pid}`).toEqual(all);
    }
    expect(await clients[0].socket.timeout(10_000).emitWithAck('count')).toBe(CLIENTS);
  });
});

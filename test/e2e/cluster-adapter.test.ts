// Broadcasts across the workers of one machine with @socket.io/cluster-adapter,
// on each of sticky-native's APIs: the README's examples/broadcast-*.js as
// written, 4 workers, 20 socket.io clients from distinct source addresses. A
// broadcast from any worker reaches all 20 and io.fetchSockets() counts 20;
// after a worker is SIGKILLed and respawned every reconnected client hears a
// broadcast again. The control (the same app without the adapter) must reach
// only the sender's worker.
import { afterAll, describe, expect, test } from 'vitest';
import { freePort, sourceAddresses, startFixture, stopAll, type Fixture } from '../helpers/harness';
import { broadcast, byWorkerPid, connectClients, waitUntil, type ChatClient } from '../helpers/chat-clients';

// One entry per API: the example the README quotes for it. The
// @socket.io/sticky-compatible setupMaster API adds its entry here once it exists.
const API_FIXTURES = [
  { api: 'seed', file: 'examples/broadcast-seed.js' },
  { api: '1.x', file: 'examples/broadcast-v1.js' },
  { api: 'typed', file: 'examples/broadcast-typed.js' },
];
const CONTROL = 'test/fixtures/broadcast-no-adapter.js';
const WORKERS = 4;
const CLIENTS = 20;
const READY = /^listening on port (\d+)$/;

afterAll(stopAll);

async function start(file: string): Promise<{ fx: Fixture; url: string }> {
  const port = await freePort();
  const fx = await startFixture(file, { env: { PORT: String(port) }, readyLine: READY, timeoutMs: 20_000 });
  expect(fx.port).toBe(port);
  // Every worker up (the 1.x API forks once bound).
  expect(await waitUntil(() => fx.workerPids().length === WORKERS, 10_000), `${WORKERS} workers`).toBe(true);
  return { fx, url: `http://127.0.0.1:${port}` };
}

const addresses = (clients: ChatClient[]): string[] => clients.map((c) => c.localAddress).sort();

describe.each(API_FIXTURES)('$api API with @socket.io/cluster-adapter ($file)', ({ file }) => {
  test(`a broadcast from every worker reaches all ${CLIENTS} clients, before and after a worker is SIGKILLed and respawned`, async () => {
    const { fx, url } = await start(file);
    let clients: ChatClient[] = [];
    try {
      clients = await connectClients(url, sourceAddresses(CLIENTS), { reconnection: true });
      const all = addresses(clients);
      const groups = byWorkerPid(clients);
      expect(groups.size, 'workers serving the clients').toBeGreaterThanOrEqual(2);
      for (const pid of groups.keys()) expect(fx.workerPids()).toContain(pid);

      for (const [pid, group] of groups) {
        expect(await broadcast(group[0], clients), `heard a broadcast from worker pid ${pid}`).toEqual(all);
      }
      expect(await clients[0].socket.timeout(10_000).emitWithAck('count')).toBe(CLIENTS);

      // SIGKILL the worker with the most clients; its clients reconnect.
      const [victim, victims] = [...groups].sort((a, b) => b[1].length - a[1].length)[0];
      process.kill(victim, 'SIGKILL');
      const respawned = await waitUntil(() => {
        const pids = fx.workerPids();
        return pids.length === WORKERS && !pids.includes(victim);
      }, 20_000);
      expect(respawned, 'a new worker replaced the killed one').toBe(true);
      // Settled: every client on a live worker over WebSocket. Until then a
      // client that moved to another worker while its own was down may still
      // be polling, and its next poll goes back to the respawned worker, which
      // answers "Session ID unknown": that client reconnects once more.
      const live = fx.workerPids();
      const settled = (c: ChatClient): boolean =>
        c.hello !== null && live.includes(c.hello.pid) && c.socket.io.engine?.transport.name === 'websocket';
      const back = await waitUntil(() => clients.every(settled), 20_000);
      expect(back, `not settled: ${clients.filter((c) => !settled(c)).map((c) => c.localAddress)}`).toBe(true);
      for (const c of victims) expect(c.hellos.length, `${c.localAddress} reconnected`).toBeGreaterThanOrEqual(2);

      for (const [pid, group] of byWorkerPid(clients)) {
        expect(await broadcast(group[0], clients), `after the respawn, heard a broadcast from worker pid ${pid}`).toEqual(all);
      }
    } finally {
      for (const c of clients) c.close();
      await fx.stop();
    }
  });
});

describe('control: the same app without the adapter', () => {
  test('a broadcast and io.fetchSockets() reach only the sender\'s worker', async () => {
    const { fx, url } = await start(CONTROL);
    let clients: ChatClient[] = [];
    try {
      clients = await connectClients(url, sourceAddresses(CLIENTS));
      const groups = [...byWorkerPid(clients).values()];
      expect(groups.length, 'workers serving the clients').toBeGreaterThanOrEqual(2);
      const group = groups[0];
      // Bounded wait: the other workers' clients never hear it.
      expect(await broadcast(group[0], clients, 1500)).toEqual(addresses(group));
      expect(await group[0].socket.timeout(10_000).emitWithAck('count')).toBe(group.length);
    } finally {
      for (const c of clients) c.close();
      await fx.stop();
    }
  });
});

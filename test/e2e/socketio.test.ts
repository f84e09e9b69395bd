// Socket.IO v4 long-polling through sticky-native: 40 real socket.io-client
// clients, each from its own loopback source address, must keep every request
// of their session on one worker. The same clients against plain round-robin
// cluster must break (the control that shows this test can fail).
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, mapLimit, sourceAddresses, startFixture, stopAll, type Fixture } from '../helpers/harness';
import { runClient, type ClientRun } from '../helpers/socketio';

const CLIENTS = 40;
const ROUND_TRIPS = 5;
const CONCURRENCY = 10;

afterAll(async () => {
  await stopAll();
});

async function start(file: string): Promise<Fixture> {
  return startFixture(file, { env: { PORT: String(await freePort()) }, timeoutMs: 20_000 });
}

function summary(runs: ClientRun[]): string {
  return runs
    .filter((r) => r.error !== null || new Set(r.acks).size !== 1)
    .slice(0, 10)
    .map((r) => `${r.localAddress}: error=${r.error} acks=[${r.acks.join(',')}]`)
    .join('\n');
}

function expectAllSticky(runs: ClientRun[]): void {
  const broken = runs.filter(
    (r) => !r.connected || r.error !== null || r.acks.length !== ROUND_TRIPS || new Set(r.acks).size !== 1,
  );
  expect(broken.length, `clients that failed or were not sticky:\n${summary(broken)}`).toBe(0);
}

describe('Socket.IO v4 behind sticky-native (ip routing, 4 workers)', () => {
  it('40 polling-only clients: every handshake and round trip succeeds, each client stays on one worker', async () => {
    const fx = await start('test/fixtures/socketio-sticky.js');
    try {
      const url = `http://127.0.0.1:${fx.port}`;
      const addrs = sourceAddresses(CLIENTS);
      const runs = await mapLimit(addrs, CONCURRENCY, (a) =>
        runClient(url, a, { transports: ['polling'], roundTrips: ROUND_TRIPS, timeoutMs: 5000 }),
      );
      expectAllSticky(runs);
      for (const r of runs) expect(r.transport, r.localAddress).toBe('polling');
      // The clients were spread over more than one worker (40 addresses, 4 workers).
      const used = new Set(runs.map((r) => r.acks[0]));
      expect(used.size).toBeGreaterThan(1);
      for (const w of used) expect([0, 1, 2, 3]).toContain(w);
    } finally {
      await fx.stop();
    }
  });

  it('40 clients with upgrade allowed (polling then websocket): all succeed on one worker each', async () => {
    const fx = await start('test/fixtures/socketio-sticky.js');
    try {
      const url = `http://127.0.0.1:${fx.port}`;
      const addrs = sourceAddresses(CLIENTS);
      const runs = await mapLimit(addrs, CONCURRENCY, (a) =>
        runClient(url, a, {
          transports: ['polling', 'websocket'],
          roundTrips: ROUND_TRIPS,
          timeoutMs: 5000,
          waitUpgrade: true,
        }),
      );
      expectAllSticky(runs);
      const notUpgraded = runs.filter((r) => !r.upgraded || r.transport !== 'websocket');
      expect(notUpgraded.map((r) => `${r.localAddress}:${r.transport}`)).toEqual([]);
    } finally {
      await fx.stop();
    }
  });

  it('control: the same clients against plain round-robin cluster break', async () => {
    const fx = await start('test/fixtures/socketio-roundrobin.js');
    try {
      const url = `http://127.0.0.1:${fx.port}`;
      const addrs = sourceAddresses(CLIENTS);
      const runs = await mapLimit(addrs, CONCURRENCY, (a) =>
        runClient(url, a, { transports: ['polling'], roundTrips: ROUND_TRIPS, timeoutMs: 5000 }),
      );
      const failed = runs.filter((r) => r.error !== null);
      // At least one session must break: a connect_error (the 400 "Session ID
      // unknown" of a worker that never saw the handshake), a lost ack, or a timeout.
      expect(failed.length, `round-robin should break long-polling; runs:\n${summary(runs)}`).toBeGreaterThan(0);
      for (const r of failed) {
        expect(r.error).toMatch(/connect_error|Session ID unknown|timeout|timed out|ack \d|disconnected/i);
      }
    } finally {
      await fx.stop();
    }
  });
});

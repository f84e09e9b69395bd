// Session-id routing (routing 'sid'): many Socket.IO users behind one source
// address spread over every worker, and every request of a session reaches
// the worker whose index its id carries. Controls: the same clients under
// routing 'ip' all land on one worker; forged or out-of-range ids pick nothing.
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { mintSessionId } from '../../src/session-id';
import { freePort, mapLimit, request, sourceAddresses, startFixture, stopAll, type Fixture } from '../helpers/harness';
import { runClient, type ClientRun } from '../helpers/socketio';

const WORKERS = 4;
const ONE_ADDRESS = '127.0.0.2';
const ROUND_TRIPS = 3;
const CONCURRENCY = 16;

afterAll(async () => {
  await stopAll();
});

async function start(env: Record<string, string>): Promise<Fixture> {
  return startFixture('test/fixtures/socketio-sid.js', {
    env: { PORT: String(await freePort()), FIXTURE_WORKERS: String(WORKERS), ...env },
    timeoutMs: 20_000,
  });
}

/** 100 polling-only clients and 100 that upgrade to WebSocket, all from one address. */
async function twoHundredClients(port: number): Promise<ClientRun[]> {
  const url = `http://127.0.0.1:${port}`;
  const kinds = Array.from({ length: 200 }, (_, i) => i % 2 === 0);
  return mapLimit(kinds, CONCURRENCY, (upgrade) =>
    runClient(url, ONE_ADDRESS, {
      transports: upgrade ? ['polling', 'websocket'] : ['polling'],
      roundTrips: ROUND_TRIPS,
      timeoutMs: 8000,
      waitUpgrade: upgrade,
    }),
  );
}

function sessionsPerWorker(runs: ClientRun[]): number[] {
  const counts = new Array<number>(WORKERS).fill(0);
  for (const run of runs) if (run.acks.length > 0) counts[run.acks[0]]++;
  return counts;
}

function failures(runs: ClientRun[]): string[] {
  return runs
    .filter((r) => !r.connected || r.error !== null || r.acks.length !== ROUND_TRIPS || new Set(r.acks).size !== 1)
    .map((r) => `error=${r.error} acks=[${r.acks.join(',')}] transport=${r.transport}`);
}

/** The worker that answers `GET /whoami?...&sid=<sid>` from `localAddress`. */
async function whoAnswers(port: number, sid: string, localAddress = ONE_ADDRESS): Promise<number> {
  const response = await request({ port, localAddress, path: `/whoami?EIO=4&transport=polling&sid=${sid}`, timeoutMs: 5000 });
  expect(response.status).toBe(200);
  return Number(response.body);
}

/** A real session id minted by some worker, from a polling handshake. */
async function handshake(port: number, localAddress: string): Promise<string> {
  const response = await request({ port, localAddress, path: '/socket.io/?EIO=4&transport=polling', timeoutMs: 5000 });
  expect(response.status).toBe(200);
  return (JSON.parse(response.body.slice(1)) as { sid: string }).sid;
}

const workerOf = (sid: string): number => Buffer.from(sid, 'base64url').readUInt16BE(0);

describe("routing 'sid': 200 Socket.IO clients behind one address, 4 workers", () => {
  it('spreads the sessions over every worker, each within 1.25x of the mean, and every step succeeds', async () => {
    const fx = await start({ FIXTURE_ROUTING: 'sid' });
    try {
      const runs = await twoHundredClients(fx.port);
      const failed = failures(runs);
      expect(failed.length, failed.slice(0, 10).join('\n')).toBe(0);
      const upgraded = runs.filter((_, i) => i % 2 === 0);
      expect(upgraded.filter((r) => !r.upgraded || r.transport !== 'websocket').length).toBe(0);
      expect(runs.filter((_, i) => i % 2 === 1).every((r) => r.transport === 'polling')).toBe(true);
      const counts = sessionsPerWorker(runs);
      const mean = runs.length / WORKERS;
      console.log(`sid spread over ${WORKERS} workers (${process.env.STICKY_TRANSPORT || 'auto'}): ${counts.join(' ')}; max/mean ${(Math.max(...counts) / mean).toFixed(2)}`);
      for (const count of counts) expect(count).toBeGreaterThan(0);
      expect(Math.max(...counts)).toBeLessThanOrEqual(mean * 1.25);
    } finally {
      await fx.stop();
    }
  }, 180_000);

  it("control: under routing 'ip' the same clients all land on one worker", async () => {
    const fx = await start({ FIXTURE_ROUTING: 'ip' });
    try {
      const runs = await twoHundredClients(fx.port);
      const failed = failures(runs);
      expect(failed.length, failed.slice(0, 10).join('\n')).toBe(0);
      const counts = sessionsPerWorker(runs);
      console.log(`ip control over ${WORKERS} workers: ${counts.join(' ')}`);
      expect(counts.filter((count) => count > 0).length).toBe(1);
    } finally {
      await fx.stop();
    }
  }, 180_000);
});

describe("routing 'sid' with sidFallback 'ip': which ids pick a worker", () => {
  it('a real id picks its worker; a wrong tag, a wrong key or an index past the workers picks nothing', async () => {
    const fx = await start({ FIXTURE_ROUTING: 'sid', FIXTURE_SID_FALLBACK: 'ip' });
    try {
      // Requests without a session go by the client address.
      const own = await whoAnswers(fx.port, '');
      expect(await whoAnswers(fx.port, 'not-a-session-id')).toBe(own);
      // A session minted by another worker: a handshake from another address.
      let sid: string | null = null;
      for (const address of sourceAddresses(64).slice(1)) {
        const candidate = await handshake(fx.port, address);
        if (workerOf(candidate) !== own) {
          sid = candidate;
          break;
        }
      }
      expect(sid, 'no handshake from 63 addresses reached another worker').not.toBeNull();
      const target = workerOf(sid!);
      for (let i = 0; i < 5; i++) expect(await whoAnswers(fx.port, sid!)).toBe(target);
      // The same id with one bit of its tag flipped.
      const bytes = Buffer.from(sid!, 'base64url');
      bytes[bytes.length - 1] ^= 0x01;
      expect(await whoAnswers(fx.port, bytes.toString('base64url'))).toBe(own);
      // An id for that worker, well formed, tagged with a key other than the primary's.
      expect(await whoAnswers(fx.port, mintSessionId(target, randomBytes(16)))).toBe(own);
      // An index no worker has (the tag cannot be right either, but the index is refused first).
      expect(await whoAnswers(fx.port, mintSessionId(WORKERS + 3, randomBytes(16)))).toBe(own);
    } finally {
      await fx.stop();
    }
  }, 60_000);
});

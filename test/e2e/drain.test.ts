// Draining a worker (balancer.close()) with keep-alive connections in every
// state: an idle one is ended at once, a busy one after its response (which
// says Connection: close), and one accepted without a request yet is served if
// its request comes within the grace; the control sends later and is ended
// without an answer. Real clients on raw sockets, so the test sees the
// connection end itself, not an HTTP agent's view of it.
import * as net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { parseResponse, sleep, sourceAddresses, startFixture, stopAll } from '../helpers/harness';

afterAll(stopAll);

/** A raw keep-alive connection: what it received, and when the server ended it. */
function rawClient(port: number, localAddress: string) {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  let data = Buffer.alloc(0);
  let endedAt = 0;
  socket.on('data', (chunk) => (data = Buffer.concat([data, chunk])));
  socket.on('end', () => (endedAt = Date.now()));
  socket.on('close', () => (endedAt ||= Date.now()));
  socket.on('error', () => {});
  const connected = new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return {
    connected,
    send: (path: string) => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`),
    responses: () => data.toString('latin1').split(/(?=HTTP\/1\.1 )/).filter(Boolean).map((r) => parseResponse(Buffer.from(r, 'latin1'))),
    endedAt: () => endedAt,
    destroy: () => socket.destroy(),
  };
}

/** Polls `check` every 20 ms for at most `ms`. */
async function until(check: () => boolean, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
    if (check()) return true;
    await sleep(20);
  }
  return check();
}

describe('draining keep-alive connections', () => {
  it('ends idle ones at once, busy ones after their response, and serves a first request within the grace', async () => {
    const fx = await startFixture('test/fixtures/lifecycle-primary.js', { env: { API_ACTION: 'close', SHUTDOWN_TIMEOUT: '8000' } });
    const [a, b, c, d] = sourceAddresses(4);
    const idle = rawClient(fx.port, a);
    const busy = rawClient(fx.port, b);
    const fresh = rawClient(fx.port, c);
    const late = rawClient(fx.port, d);
    try {
      await Promise.all([idle.connected, busy.connected, fresh.connected, late.connected]);
      idle.send('/');
      expect(await until(() => idle.responses().length === 1, 5000), 'the idle connection had its first answer').toBe(true);
      busy.send('/slow?ms=1500');
      await sleep(300);
      const signalledAt = Date.now();
      process.kill(fx.pid, 'SIGUSR2');

      // Idle: ended while the busy response is still being made.
      expect(await until(() => idle.endedAt() > 0, 1000), 'the idle keep-alive connection was not ended').toBe(true);
      expect(busy.endedAt()).toBe(0);

      // Fresh: its first request comes 300 ms into the drain and is answered, then the connection ends.
      await sleep(300);
      fresh.send('/');
      expect(await until(() => fresh.endedAt() > 0, 3000)).toBe(true);
      expect(fresh.responses().map((r) => [r?.status, r?.headers.connection])).toEqual([[200, 'close']]);

      // Busy: its response, which asks the client to close, then the end.
      expect(await until(() => busy.endedAt() > 0, 5000)).toBe(true);
      expect(busy.responses().map((r) => [r?.status, r?.headers.connection])).toEqual([[200, 'close']]);
      expect(busy.endedAt()).toBeGreaterThan(idle.endedAt());

      // Control: a connection that sends nothing through the grace is ended without an answer.
      expect(await until(() => late.endedAt() > 0, 3000)).toBe(true);
      expect(late.endedAt() - signalledAt).toBeGreaterThanOrEqual(900);
      late.send('/');
      await sleep(100);
      expect(late.responses()).toEqual([]);

      await fx.waitForLine(/^primary-exit /, 10_000);
      expect(fx.stdout).toContain('primary-exit 0');
    } finally {
      for (const client of [idle, busy, fresh, late]) client.destroy();
      await fx.stop();
    }
  });
});

// `npm start` (examples/demo.js): the page, the Socket.IO client script and a
// polling Socket.IO round trip, on the defaults plus PORT; the stats line.
import * as os from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { freePort, request, startFixture, stopAll } from '../helpers/harness';

afterAll(async () => {
  await stopAll();
});

describe('examples/demo.js', () => {
  it('serves the page and the client script, and answers a polling Socket.IO round trip', async () => {
    const port = await freePort();
    const fx = await startFixture('examples/demo.js', { env: { PORT: String(port), STATS_INTERVAL_MS: '500' }, timeoutMs: 20_000 });
    try {
      expect(fx.port).toBe(port);
      const core = process.env.STICKY_NATIVE === 'fallback' ? 'fallback' : 'native';
      const workers = os.availableParallelism();
      expect(fx.stdout).toContain(
        `sticky-native demo: http://127.0.0.1:${port}/ (${workers} workers, ${core} routing core)`,
      );
      expect(fx.workerPids().length).toBe(workers);

      const page = await request({ port, path: '/', timeoutMs: 5000 });
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.body).toContain('<script src="/socket.io/socket.io.js"></script>');
      expect(page.body).toContain('whoami');

      const script = await request({ port, path: '/socket.io/socket.io.js', timeoutMs: 5000 });
      expect(script.status).toBe(200);
      expect(script.headers['content-type']).toMatch(/javascript/);
      expect(script.body.length).toBeGreaterThan(1000);

      const socket = io(`http://127.0.0.1:${port}`, {
        transports: ['polling'],
        reconnection: false,
        forceNew: true,
        timeout: 5000,
      });
      try {
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('no connect within 6 s')), 6000);
          socket.once('connect', () => { clearTimeout(t); resolve(); });
          socket.once('connect_error', (e) => { clearTimeout(t); reject(e); });
        });
        const who = await socket.timeout(5000).emitWithAck('whoami');
        expect(who.worker).toBeGreaterThanOrEqual(0);
        expect(who.worker).toBeLessThan(workers);
        expect(fx.workerPids()).toContain(who.pid);
        const again = await socket.timeout(5000).emitWithAck('whoami');
        expect(again).toEqual(who);
        // The chat event comes back to its sender.
        const echoed = new Promise<{ worker: number; text: string }>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('no chat echo within 5 s')), 5000);
          socket.once('chat', (m) => { clearTimeout(t); resolve(m); });
        });
        socket.emit('chat', 'hi there');
        expect(await echoed).toMatchObject({ worker: who.worker, text: 'hi there' });
      } finally {
        socket.disconnect();
      }

      // The stats line, on demand: 3 requests above went through the balancer at least.
      const seen = fx.stdout.length;
      process.kill(fx.pid, 'SIGUSR2');
      for (let i = 0; i < 50 && !fx.stdout.slice(seen).some((l) => l.startsWith('stats ')); i++) await new Promise((r) => setTimeout(r, 100));
      const line = fx.stdout.slice(seen).find((l) => l.startsWith('stats ')) ?? '(no stats line after SIGUSR2)';
      const m = /^stats routed=([\d/]+) live=(\d+)\/(\d+) respawns=(\d+) rejected=(\d+) pending=(\d+)$/.exec(line);
      expect(m, line).not.toBeNull();
      const routed = m![1].split('/').map(Number);
      expect(routed.length).toBe(workers);
      expect(Number(m![2])).toBe(workers);
      expect(Number(m![3])).toBe(workers);
      expect(Number(m![4])).toBe(0);
      // The periodic line (every 500 ms here) counts this test's connections
      // (6 above, at least); under kernel steering the workers report them a
      // few times a second, so wait for one that has them. Bounded.
      const deadline = Date.now() + 5000;
      let counted = 0;
      for (let i = 0; i < 50 && counted < 6 && Date.now() < deadline; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const last = fx.stdout.filter((l) => l.startsWith('stats ')).pop() ?? '';
        counted = (/routed=([\d/]+)/.exec(last)?.[1] ?? '0').split('/').map(Number).reduce((a, b) => a + b, 0);
      }
      expect(counted).toBeGreaterThanOrEqual(6);
    } finally {
      await fx.stop();
    }
  });
});

// A bind failure names the call the user made (listen), never an internal
// function: the same message as Node's own net.Server on every transport.
import * as net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import sticky from '../../src/index';
import { primitives } from '../../src/binding';

const transports = [
  ['kernel', primitives.steering !== null],
  ['channel', primitives.Dispatcher !== null],
  ['ipc', true],
] as const;

const taken = net.createServer();
const port = new Promise<number>((resolve) => taken.listen(0, '127.0.0.1', () => resolve((taken.address() as net.AddressInfo).port)));

afterAll(() => new Promise<void>((resolve) => taken.close(() => resolve())));

describe('listen errors', () => {
  for (const [transport, available] of transports) {
    it.skipIf(!available)(`transport ${transport}: a port in use is "listen EADDRINUSE: ... 127.0.0.1:<port>"`, async () => {
      const p = await port;
      const balancer = sticky.createBalancer({ workers: 1, transport, signals: false });
      const error = await balancer.listen(p, '127.0.0.1').then(() => null, (e: NodeJS.ErrnoException) => e);
      await balancer.close();
      expect(error).not.toBeNull();
      expect(error!.message).toBe(`listen EADDRINUSE: address already in use 127.0.0.1:${p}`);
      expect(error).toMatchObject({ code: 'EADDRINUSE', syscall: 'listen', port: p });
    });
  }

  it('a port out of range names listen', async () => {
    const balancer = sticky.createBalancer({ workers: 1, signals: false });
    await expect(balancer.listen(70_000, '127.0.0.1')).rejects.toThrow(
      'sticky-native: listen: port must be an integer from 0 to 65535, got 70000',
    );
    await balancer.close();
  });
});

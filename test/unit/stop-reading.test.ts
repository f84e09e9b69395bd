// A socket the primary has decided on must read nothing more before it is
// handed to its worker: bytes read in the primary would be lost to the worker.
// Node's stream machinery restarts a handle marked idle on its next tick, so
// holdForHandOff keeps the mark; stopReading (for the worker's sync option,
// which resumes later) is the control that shows the restart happening.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';

import { holdForHandOff, restartReading, stopReading } from '../../src/stop-reading';

const servers: net.Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/** Bytes the server side read after stopping, when the client sent a second write 100 ms after the first. */
function bytesReadAfterStop(stop: (socket: net.Socket) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ pauseOnConnect: true }, (socket) => {
      socket.once('data', () => {
        stop(socket);
        setTimeout(() => {
          resolve(socket.readableLength);
          socket.destroy();
        }, 400);
      });
      socket.resume();
    });
    servers.push(server);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      const client = net.connect(port, '127.0.0.1', () => {
        client.write('first');
        setTimeout(() => client.write('second'), 100);
      });
      client.on('error', () => {});
      client.on('close', () => client.destroy());
      setTimeout(() => client.destroy(), 1000);
    });
    server.on('error', reject);
  });
}

describe('stopping a socket before its hand-off', () => {
  it('holdForHandOff: nothing more is read in this process', async () => {
    expect(await bytesReadAfterStop(holdForHandOff)).toBe(0);
  });

  it('control: stopReading alone is restarted by the stream and reads the second write', async () => {
    expect(await bytesReadAfterStop(stopReading)).toBe('second'.length);
  });

  it('restartReading after holdForHandOff reads what arrived meanwhile, in one chunk (the parked first-bytes reader)', async () => {
    const chunks = await new Promise<string[]>((resolve, reject) => {
      const seen: string[] = [];
      const server = net.createServer({ pauseOnConnect: true }, (socket) => {
        socket.once('data', (first) => {
          seen.push(String(first));
          holdForHandOff(socket);
          socket.on('data', (chunk) => seen.push(String(chunk)));
          // Both later writes wait in the kernel until the restart.
          setTimeout(() => restartReading(socket), 300);
          setTimeout(() => {
            resolve(seen);
            socket.destroy();
          }, 500);
        });
        socket.resume();
      });
      servers.push(server);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        const client = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => {
          client.write('first');
          setTimeout(() => client.write('second'), 100);
          setTimeout(() => client.write('third'), 150);
        });
        client.on('error', () => {});
        setTimeout(() => client.destroy(), 1000);
      });
      server.on('error', reject);
    });
    expect(chunks).toEqual(['first', 'secondthird']);
  });
});

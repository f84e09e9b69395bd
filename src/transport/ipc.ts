import type { Worker } from 'node:cluster';
import type net from 'node:net';
import type { StickyMessage } from '../messages';
import type { Transport } from './index';

/** Node's own IPC channel: the handle travels with a message. Portable, one round trip per connection. */
export const ipcTransport: Transport = {
  send(worker: Worker, socket: net.Socket, head: Buffer | null): void {
    const message: StickyMessage = head ? { sticky: 'connection', head: head.toString('base64') } : { sticky: 'connection' };
    worker.send(message, socket, (error: Error | null) => {
      if (error) socket.destroy();
    });
  },
};

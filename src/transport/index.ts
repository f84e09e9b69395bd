import type { Worker } from 'node:cluster';
import type net from 'node:net';

/** The seam between "which worker" and "how the connection gets there". */
export interface Transport {
  /**
   * Hands `socket` to `worker`; the primary keeps no copy. `head` holds bytes
   * the primary already read from it, which the worker puts back in front.
   */
  send(worker: Worker, socket: net.Socket, head: Buffer | null): void;
}

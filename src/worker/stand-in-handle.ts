import type { AddressInfo } from 'node:net';

/**
 * What a server holds after its own listen() when the primary routes the
 * connections to it (Node IPC, native channel): net.Server#listen listens on
 * it without a socket, `address()` reads `address` from it and 'listening'
 * fires as usual; the connections arrive through deliver(). Node internal:
 * the shape of cluster's own round-robin handle in a worker (listen, close,
 * getsockname, ref, unref), pinned by test/e2e/node-internals.test.ts.
 */
export function standInHandle(address: AddressInfo): object {
  return {
    listen: () => 0,
    close() {},
    getsockname(out: object) {
      Object.assign(out, address);
      return 0;
    },
    ref() {},
    unref() {},
  };
}

import type net from 'node:net';
import type { ProxiedPeer } from '../proxied-peer';

/**
 * The socket reports the client a PROXY header named as its remote end. Set on
 * the TCP handle, not the socket: a TLSSocket (https) wraps the same handle
 * and asks it for the peer through TLSWrap, so http, https and anything else
 * layered on the socket see the same client.
 * Node internal: `_handle.getpeername(out)`, which TLSWrap forwards to the
 * TCP handle (test/e2e/node-internals.test.ts).
 */
export function reportPeer(socket: net.Socket, peer: ProxiedPeer): void {
  const handle = (socket as unknown as { _handle?: { getpeername?: (out: object) => number } | null })._handle;
  if (!handle) return;
  handle.getpeername = (out: object) => {
    Object.assign(out, peer);
    return 0;
  };
}

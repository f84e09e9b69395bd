import type net from 'node:net';
import { primitives } from '../binding';
import type { Decision, RoutingKey } from './types';

/** The socket's peer as a canonical 16-byte address, or null once the client is gone. */
export function peerAddress(socket: net.Socket): Buffer | null {
  const text = socket.remoteAddress;
  return text === undefined ? null : primitives.parseAddress(text);
}

export function routeByPeer(socket: net.Socket): Decision {
  const address = peerAddress(socket);
  return address ? { action: 'route', address, head: null } : { action: 'drop', reason: 'closed-early' };
}

/** Routes by the client's own address: the kernel already told us, nothing to read. */
export class IpRouting implements RoutingKey {
  decide(socket: net.Socket, done: (decision: Decision) => void): void {
    done(routeByPeer(socket));
  }

  close(): void {}
}

import net from 'node:net';
import { primitives } from '../binding';
import { proxiedPeerOf } from '../proxied-peer';
import type { Connections } from './connections';
import { deliver } from './deliver';

/**
 * Native channel: descriptors arrive in batches from the primary's dispatcher,
 * each with the client its PROXY header named, if any.
 */
export function receiveFromChannel(server: net.Server, fd: number, connections: Connections, syncEvent: string | undefined): () => void {
  const { ChannelReceiver } = primitives;
  if (!ChannelReceiver) throw new Error('sticky-native: this worker was given a native channel but the addon is not loaded');
  const receiver = new ChannelReceiver(fd, (fds, peers) => {
    fds.forEach((received, i) => {
      const socket = new net.Socket({ fd: received, readable: true, writable: true });
      const peer = peers?.[i];
      connections.add(socket);
      deliver(server, socket, undefined, syncEvent, peer ? proxiedPeerOf(peer.address, peer.port, peer.family) : undefined);
    });
  });
  return () => receiver.close();
}

import cluster from 'node:cluster';
import type net from 'node:net';
import { isStickyMessage, type StickyMessage } from './messages';
import { receiveFromChannel } from './worker/channel-receiver';
import { Connections } from './worker/connections';
import { deliver } from './worker/deliver';
import { listenOnMember } from './worker/kernel-member';
import { reportLoad } from './worker/load-report';

export interface ServeOptions {
  /**
   * Hold each connection's data until the application emits `event` on its
   * socket (the seed's `sync` option): `connection` fires at once, the first
   * bytes reach the server only after `socket.emit(event)`.
   */
  sync?: { event: string };
}

let served: net.Server | null = null;

/**
 * Worker side: takes the connections the primary routes to this worker and
 * emits them on `server`, which never binds a port of its own.
 */
export function serve(server: net.Server, options: ServeOptions = {}): void {
  if (!cluster.isWorker || !process.send) {
    throw new Error('sticky-native: serve() runs in a worker forked by the balancer; in the primary use createBalancer()');
  }
  if (served) throw new Error('sticky-native: serve() was already called in this worker');
  served = server;
  const syncEvent = options.sync?.event;
  const connections = new Connections(server);
  const fd = Number(process.env.STICKY_FD);
  let stopTaking = () => {};
  switch (process.env.STICKY_HANDOFF) {
    case 'kernel':
      stopTaking = listenOnMember(server, fd, connections, syncEvent);
      break;
    case 'channel':
      stopTaking = receiveFromChannel(server, fd, connections, syncEvent);
      break;
  }
  process.on('message', (message: unknown, socket?: net.Socket) => {
    if (!isStickyMessage(message)) return;
    if (message.sticky === 'connection' && socket) {
      connections.add(socket, message.head !== undefined);
      deliver(server, socket, message.head, syncEvent, message.peer);
    } else if (message.sticky === 'close') {
      stopReportingLoad();
      stopTaking();
      connections.drain(() => process.exit(0));
    }
  });
  const stopReportingLoad = reportLoad(connections);
  process.send({ sticky: 'ready' } satisfies StickyMessage);
}

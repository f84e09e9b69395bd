import cluster from 'node:cluster';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import { isStickyMessage } from './messages';
import { receiveFromChannel } from './worker/channel-receiver';
import { Connections } from './worker/connections';
import { deliver } from './worker/deliver';
import { inheritedMember, takeFromMember } from './worker/kernel-member';
import { leaveOnClose } from './worker/leave-on-close';
import { reportLoad } from './worker/load-report';
import { standInHandle } from './worker/stand-in-handle';
import { tellPrimary } from './worker/tell-primary';

export interface ServeOptions {
  /**
   * Hold each connection's data until the application emits `event` on its
   * socket (the seed's `sync` option): `connection` fires at once, the first
   * bytes reach the server only after `socket.emit(event)`.
   */
  sync?: { event: string };
}

/**
 * A worker's own listen() on the balanced port (worker/own-listen.ts): the
 * public address, and the kernel member's handle when the primary sent one
 * (a worker forked before the bind inherited none).
 */
export interface OwnListen {
  address: AddressInfo;
  member: object | null;
}

let served: net.Server | null = null;

/** The server this worker already serves, if any. */
export function servedServer(): net.Server | null {
  return served;
}

/**
 * Worker side: takes the connections the primary routes to this worker and
 * emits them on `server`, which never binds a port of its own.
 */
export function serve(server: net.Server, options: ServeOptions = {}): void {
  if (!cluster.isWorker || !process.send) {
    throw new Error('sticky-native: serve() runs in a worker forked by the balancer; in the primary use createBalancer()');
  }
  if (served) throw new Error('sticky-native: serve() was already called in this worker');
  takeConnections(server, options, null);
}

/**
 * Takes the connections on `server` and tells the primary this worker is
 * ready. For a worker's own listen() (`own`), returns the handle net.Server
 * must listen on: the kernel member, or a stand-in where the primary routes.
 */
export function takeConnections(server: net.Server, options: ServeOptions, own: OwnListen | null): object | null {
  served = server;
  const syncEvent = options.sync?.event;
  const connections = new Connections(server);
  const fd = Number(process.env.STICKY_FD);
  const handoff = own?.member ? 'kernel' : process.env.STICKY_HANDOFF;
  let handle: object | null = own ? standInHandle(own.address) : null;
  let stop = () => {};
  switch (handoff) {
    case 'kernel': {
      if (own) handle = own.member ?? (inheritedMember(fd) as unknown as { _handle: object })._handle;
      stop = takeFromMember(server, connections, syncEvent, own ? () => {} : () => server.listen(inheritedMember(fd)));
      break;
    }
    case 'channel':
      stop = receiveFromChannel(server, fd, connections, syncEvent);
      break;
  }
  const stopReportingLoad = reportLoad(connections);
  let taking = true;
  const stopTaking = () => {
    if (!taking) return;
    taking = false;
    stopReportingLoad();
    stop();
  };
  const closedByApp = leaveOnClose(server, handoff === 'kernel' ? stopTaking : () => {});
  process.on('message', (message: unknown, socket?: net.Socket) => {
    if (!isStickyMessage(message)) return;
    if (message.sticky === 'connection' && socket) {
      connections.add(socket, message.head !== undefined);
      deliver(server, socket, message.head, syncEvent, message.peer);
    } else if (message.sticky === 'close') {
      stopTaking();
      connections.drain(() => {
        closedByApp();
        process.exit(0);
      });
    }
  });
  tellPrimary({ sticky: 'ready' });
  return handle;
}

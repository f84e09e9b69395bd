import net from 'node:net';
import type { Connections } from './connections';
import { tellPrimary } from './tell-primary';

/** How often a worker under kernel steering reports how many connections it accepted. */
const ACCEPT_REPORT_MS = 200;

/**
 * Kernel steering: the server listens on this worker's member of the
 * primary's SO_REUSEPORT group, so Node's own accept path runs and
 * `server.address()` reports the public port. `listen` makes it listen:
 * serve() listens on the inherited descriptor itself, a worker's own listen()
 * hands the member's handle to net (worker/own-listen.ts). Returns how to stop
 * listening.
 */
export function takeFromMember(server: net.Server, connections: Connections, syncEvent: string | undefined, listen: () => void): () => void {
  if (syncEvent) {
    // Accepted sockets start paused and wait for the application's event.
    // Node internal: net.Server reads `pauseOnConnect` at each accept (test/e2e/node-internals.test.ts).
    (server as { pauseOnConnect?: boolean }).pauseOnConnect = true;
    server.prependListener('connection', (socket: net.Socket) => {
      socket.once(syncEvent, () => socket.resume());
    });
  }
  // The primary never sees these connections: it learns the count from here.
  let accepted = 0;
  let reported = 0;
  const report = () => {
    if (accepted === reported) return;
    reported = accepted;
    tellPrimary({ sticky: 'accepted', total: accepted });
  };
  const reporter = setInterval(report, ACCEPT_REPORT_MS).unref();
  server.on('connection', (socket: net.Socket) => {
    accepted++;
    connections.add(socket);
  });
  listen();
  return () => {
    // Only the listening socket: http.Server#close() also destroys the
    // connections it thinks idle, which on Node 26 includes accepted ones
    // whose first request has not arrived; Connections.drain ends them
    // instead. Node internal: http.Server#close is the net one after that
    // pre-close (test/e2e/node-internals.test.ts).
    net.Server.prototype.close.call(server);
    clearInterval(reporter);
    report();
  };
}

/**
 * The inherited member as a net.Socket: listen() on an object with a TCP
 * handle listens in this worker without asking the primary.
 * Node internal: net.js listens on a handle as `exclusive` (test/e2e/node-internals.test.ts).
 */
export function inheritedMember(fd: number): net.Socket {
  return new net.Socket({ fd, readable: false, writable: false });
}

import cluster from 'node:cluster';
import type net from 'node:net';
import { isStickyMessage, type StickyMessage } from './messages';
import { stopReading } from './stop-reading';

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
  const connections = new Connections(server);
  process.on('message', (message: unknown, socket?: net.Socket) => {
    if (!isStickyMessage(message)) return;
    if (message.sticky === 'connection' && socket) {
      if (!connections.add(socket)) return;
      deliver(server, socket, message.head, options.sync?.event);
    } else if (message.sticky === 'close') {
      connections.drain(() => process.exit(0));
    }
  });
  process.send({ sticky: 'ready' } satisfies StickyMessage);
}

/**
 * The connections this worker was given. The server never listened, so
 * net.Server#close() cannot wait for them; this does. For an http.Server it
 * also counts requests in flight, so that draining ends idle keep-alive
 * connections at once and busy ones after their last response.
 */
class Connections {
  private readonly open = new Set<net.Socket>();
  private readonly requestsInFlight = new Map<net.Socket, number>();
  private onDrained: (() => void) | null = null;

  /** http and https servers: a connection with no request in flight is idle. */
  private readonly speaksHttp: boolean;

  constructor(server: net.Server) {
    this.speaksHttp = typeof (server as { closeIdleConnections?: unknown }).closeIdleConnections === 'function';
    if (!this.speaksHttp) return;
    server.on('request', (req: { socket: net.Socket }, res: { once(event: 'close', listener: () => void): void }) => {
      const socket = req.socket;
      this.requestsInFlight.set(socket, (this.requestsInFlight.get(socket) ?? 0) + 1);
      res.once('close', () => {
        const left = (this.requestsInFlight.get(socket) ?? 1) - 1;
        this.requestsInFlight.set(socket, left);
        if (left === 0 && this.onDrained) socket.end();
      });
    });
  }

  /** False, and the socket destroyed, once draining has begun. */
  add(socket: net.Socket): boolean {
    if (this.onDrained) {
      socket.destroy();
      return false;
    }
    this.open.add(socket);
    if (this.speaksHttp) this.requestsInFlight.set(socket, 0);
    socket.once('close', () => {
      this.open.delete(socket);
      this.requestsInFlight.delete(socket);
      if (this.onDrained && this.open.size === 0) this.onDrained();
    });
    return true;
  }

  /** Takes no more connections, ends the idle ones, calls `done` once none is open. */
  drain(done: () => void): void {
    this.onDrained = done;
    if (this.open.size === 0) return done();
    for (const [socket, inFlight] of this.requestsInFlight) if (inFlight === 0) socket.end();
  }
}

function deliver(server: net.Server, socket: net.Socket, head: string | undefined, syncEvent: string | undefined): void {
  // Bytes the fallback read in the primary go back in front of the stream.
  if (head) socket.unshift(Buffer.from(head, 'base64'));
  if (syncEvent) {
    // Before 'connection': the handler may emit the event at once, and the
    // server must find the socket paused so it does not start the flow itself.
    stopReading(socket);
    socket.once(syncEvent, () => socket.resume());
  }
  server.emit('connection', socket);
}

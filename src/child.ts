import cluster from 'node:cluster';
import net from 'node:net';
import { primitives } from './binding';
import { isStickyMessage, type StickyMessage } from './messages';
import type { ProxiedPeer } from './routing/index';
import { proxiedPeerOf } from './routing/proxy-protocol';
import { liveSessions } from './socketio';
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
      connections.add(socket);
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

/**
 * Routing 'sid' placing handshakes by load: tells the primary this worker's
 * load every STICKY_LOAD_REPORT_MS. A handshake places a session, so the load
 * is the live sessions of the server stickySessionIds() named; without one,
 * the open connections (a polling session holds none between two polls, so
 * those would count it only now and then). Returns how to stop.
 */
function reportLoad(connections: Connections): () => void {
  const interval = Number(process.env.STICKY_LOAD_REPORT_MS);
  if (!(interval > 0)) return () => {};
  const timer = setInterval(() => {
    const load = liveSessions() ?? connections.size;
    if (process.connected) process.send!({ sticky: 'load', load } satisfies StickyMessage);
  }, interval).unref();
  return () => clearInterval(timer);
}

/** How long a draining worker waits for the first request of a connection that has sent none. */
const FIRST_REQUEST_GRACE_MS = 1000;

/** How often a worker under kernel steering reports how many connections it accepted. */
const ACCEPT_REPORT_MS = 200;

/**
 * Kernel steering: the server listens on this worker's member of the
 * primary's SO_REUSEPORT group, so Node's own accept path runs and
 * `server.address()` reports the public port. Returns how to stop listening.
 */
function listenOnMember(server: net.Server, fd: number, connections: Connections, syncEvent: string | undefined): () => void {
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
    if (accepted === reported || !process.connected) return;
    reported = accepted;
    process.send!({ sticky: 'accepted', total: accepted } satisfies StickyMessage);
  };
  const reporter = setInterval(report, ACCEPT_REPORT_MS).unref();
  server.on('connection', (socket: net.Socket) => {
    accepted++;
    connections.add(socket);
  });
  // A net.Socket wraps the inherited descriptor; listen() on an object with a
  // TCP handle listens in this worker without asking the primary.
  // Node internal: net.js listens on a handle as `exclusive` (test/e2e/node-internals.test.ts).
  server.listen(new net.Socket({ fd, readable: false, writable: false }));
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
 * Native channel: descriptors arrive in batches from the primary's dispatcher,
 * each with the client its PROXY header named, if any.
 */
function receiveFromChannel(server: net.Server, fd: number, connections: Connections, syncEvent: string | undefined): () => void {
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

/**
 * The connections this worker was given. The server never listened, so
 * net.Server#close() cannot wait for them; this does. For an http.Server it
 * also counts requests in flight, so that draining ends idle keep-alive
 * connections at once and busy ones after their last response.
 */
class Connections {
  private readonly open = new Set<net.Socket>();
  private readonly requestsInFlight = new Map<net.Socket, number>();
  /** Connections that have begun a request or an upgrade. */
  private readonly used = new WeakSet<net.Socket>();
  private onDrained: (() => void) | null = null;

  /** http and https servers: a connection with no request in flight is idle. */
  private readonly speaksHttp: boolean;

  constructor(server: net.Server) {
    this.speaksHttp = typeof (server as { closeIdleConnections?: unknown }).closeIdleConnections === 'function';
    if (!this.speaksHttp) return;
    server.on('request', (req: { socket: net.Socket }, res: { once(event: 'close', listener: () => void): void }) => {
      const socket = req.socket;
      this.used.add(socket);
      this.requestsInFlight.set(socket, (this.requestsInFlight.get(socket) ?? 0) + 1);
      res.once('close', () => {
        const left = (this.requestsInFlight.get(socket) ?? 1) - 1;
        this.requestsInFlight.set(socket, left);
        if (left === 0 && this.onDrained) socket.end();
      });
    });
    server.on('upgrade', (_req: unknown, socket: net.Socket) => this.used.add(socket));
  }

  /** Connections open now. */
  get size(): number {
    return this.open.size;
  }

  /**
   * Connections still arrive while draining (handed over before the primary
   * stopped routing here); they are served, and the worker waits for them too.
   */
  add(socket: net.Socket): void {
    this.open.add(socket);
    if (this.speaksHttp) this.requestsInFlight.set(socket, 0);
    socket.once('close', () => {
      this.open.delete(socket);
      this.requestsInFlight.delete(socket);
      if (this.onDrained && this.open.size === 0) this.onDrained();
    });
  }

  /** Ends the idle connections and the others after their last response; calls `done` once none is open. */
  drain(done: () => void): void {
    this.onDrained = done;
    if (this.open.size === 0) return done();
    for (const [socket, inFlight] of this.requestsInFlight) {
      if (inFlight > 0) continue;
      if (this.used.has(socket)) {
        socket.end();
        continue;
      }
      // Accepted but no request yet: it is most likely on its way (the
      // client sends right after connecting), and ending now would drop it.
      setTimeout(() => {
        if (this.requestsInFlight.get(socket) === 0) socket.end();
      }, FIRST_REQUEST_GRACE_MS).unref();
    }
  }
}

/**
 * The socket reports the client a PROXY header named as its remote end. Set on
 * the TCP handle, not the socket: a TLSSocket (https) wraps the same handle
 * and asks it for the peer through TLSWrap, so http, https and anything else
 * layered on the socket see the same client.
 * Node internal: `_handle.getpeername(out)`, which TLSWrap forwards to the
 * TCP handle (test/e2e/node-internals.test.ts).
 */
function reportPeer(socket: net.Socket, peer: ProxiedPeer): void {
  const handle = (socket as unknown as { _handle?: { getpeername?: (out: object) => number } | null })._handle;
  if (!handle) return;
  handle.getpeername = (out: object) => {
    Object.assign(out, peer);
    return 0;
  };
}

function deliver(
  server: net.Server,
  socket: net.Socket,
  head: string | undefined,
  syncEvent: string | undefined,
  peer?: ProxiedPeer,
): void {
  if (peer) reportPeer(socket, peer);
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

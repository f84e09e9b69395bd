import type net from 'node:net';

/** How long a draining worker waits for the first request of a connection that has sent none. */
const FIRST_REQUEST_GRACE_MS = 1000;

/**
 * The connections this worker was given. The server never listened, so
 * net.Server#close() cannot wait for them; this does. For an http.Server it
 * also counts requests in flight, so that draining ends idle keep-alive
 * connections at once and busy ones after their last response.
 */
export class Connections {
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

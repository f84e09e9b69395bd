import type net from 'node:net';

/** How long a draining worker waits for the first request of a connection that has sent none. */
const FIRST_REQUEST_GRACE_MS = 1000;

/** What `_httpMessage` holds: the response a connection is writing. */
interface Response {
  headersSent: boolean;
  setHeader(name: string, value: string): unknown;
  once(event: 'close', listener: () => void): unknown;
}

/**
 * The response an http.Server connection is writing now, if any; null between
 * requests. Node internal: the server assigns each response to its socket as
 * `_httpMessage` until it finishes (test/e2e/node-internals.test.ts).
 */
function responseInFlight(socket: net.Socket): Response | null {
  return (socket as unknown as { _httpMessage?: Response | null })._httpMessage ?? null;
}

/**
 * The connections this worker was given. The server never listened, so
 * net.Server#close() cannot wait for them; this does. For an http.Server,
 * draining ends idle keep-alive connections at once and busy ones after
 * their last response.
 *
 * This runs for every connection and request, so it keeps to one map entry
 * and one shared listener per connection and a map lookup per request; which
 * connection is busy is read from the server only when draining starts.
 */
export class Connections {
  /** Each open connection, and whether it has begun a request or an upgrade. */
  private readonly open = new Map<net.Socket, boolean>();
  private onDrained: (() => void) | null = null;

  /** http and https servers: a connection with no response in flight is idle. */
  private readonly speaksHttp: boolean;

  /** One 'close' listener for every connection (no closure each): `this` is the socket. */
  private readonly forget: (this: net.Socket) => void;

  constructor(private readonly server: net.Server) {
    const open = this.open;
    const connections = this;
    this.forget = function (this: net.Socket) {
      open.delete(this);
      if (connections.onDrained && open.size === 0) connections.onDrained();
    };
    this.speaksHttp = typeof (server as { closeIdleConnections?: unknown }).closeIdleConnections === 'function';
    if (!this.speaksHttp) return;
    const begun = (socket: net.Socket) => {
      if (open.get(socket) === false) open.set(socket, true);
    };
    server.on('request', (req: { socket: net.Socket }) => begun(req.socket));
    server.on('upgrade', (_req: unknown, socket: net.Socket) => begun(socket));
  }

  /** Connections open now. */
  get size(): number {
    return this.open.size;
  }

  /**
   * Connections still arrive while draining (handed over before the primary
   * stopped routing here); they are served, and the worker waits for them too.
   * `begun`: the primary already read the start of a request from it.
   */
  add(socket: net.Socket, begun = false): void {
    this.open.set(socket, begun);
    socket.on('close', this.forget);
  }

  /** Ends the idle connections and the others after their last response; calls `done` once none is open. */
  drain(done: () => void): void {
    this.onDrained = done;
    if (this.open.size === 0) return done();
    if (!this.speaksHttp) return;
    // Requests from here on (before the application's handler writes): the
    // response asks the client to close, and the connection ends after it.
    this.server.prependListener('request', (req: { socket: net.Socket }, res: Response) => this.endAfter(req.socket, res));
    for (const [socket, begun] of this.open) {
      const response = responseInFlight(socket);
      if (response) this.endAfter(socket, response);
      else if (begun) socket.end();
      // Accepted but no request yet: it is most likely on its way (the
      // client sends right after connecting), and ending now would drop it.
      else setTimeout(() => this.endWhenIdle(socket), FIRST_REQUEST_GRACE_MS).unref();
    }
  }

  private endWhenIdle(socket: net.Socket): void {
    if (!this.open.has(socket)) return;
    const response = responseInFlight(socket);
    if (response) this.endAfter(socket, response);
    else socket.end();
  }

  /** Ends `socket` once `response` is done and no pipelined one follows it. */
  private endAfter(socket: net.Socket, response: Response): void {
    if (!response.headersSent) response.setHeader('Connection', 'close');
    // 'close' comes a tick after the server has moved on to the next pipelined response, if any.
    response.once('close', () => this.endWhenIdle(socket));
  }
}

import type { Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { primitives } from './binding';
import { normalizeOptions, type BalancerConfig, type BalancerOptions } from './options';
import { pick } from './pick';
import { HeaderRouting } from './routing/header';
import type { Decision, RejectReason, RoutingKey } from './routing/index';
import { IpRouting } from './routing/ip';
import { WorkerPool } from './worker-pool';
import type { Transport } from './transport/index';
import { ipcTransport } from './transport/ipc';

/** Connections that wait while no worker is live; past this they get 503. */
const PENDING_LIMIT = 4096;
/** How long a rejected client may take to read its answer before the socket is destroyed. */
const REJECT_LINGER_MS = 2_000;

export interface WorkerStats {
  index: number;
  pid: number | null;
  live: boolean;
  /** Connections handed to this worker. */
  connections: number;
  respawns: number;
}

export interface BalancerStats {
  /** Which primitives route: the addon or the pure-TS fallback. */
  core: 'native' | 'fallback';
  workers: WorkerStats[];
  routed: number;
  /** Connections turned away, by reason. */
  rejected: Record<RejectReason, number>;
  /** Connections waiting for a live worker. */
  pending: number;
}

interface Pending {
  socket: net.Socket;
  hash: bigint;
  head: Buffer | null;
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 431: 'Request Header Fields Too Large', 503: 'Service Unavailable' };

/**
 * The primary: owns the public socket and the workers, decides each
 * connection's worker from its routing key and hands it over.
 *
 * Events: 'listening' (address), 'online' (index, worker), 'exit' (index, worker,
 * code, signal), 'respawn' (index, delayMs), 'error' (err).
 */
export class Balancer extends EventEmitter {
  readonly config: BalancerConfig;
  /** The public socket; it pauses each connection so no byte is read before routing. */
  readonly server: net.Server;
  private readonly pool: WorkerPool;
  private readonly routing: RoutingKey;
  private readonly transport: Transport = ipcTransport;
  /** Keys the address hash, so clients cannot aim at a worker. */
  private readonly secret = randomBytes(16);
  private readonly routedTo: number[];
  private readonly rejected: Record<RejectReason, number> = {
    'missing-header': 0,
    'invalid-header': 0,
    'head-too-large': 0,
    'head-timeout': 0,
    'closed-early': 0,
    'queue-full': 0,
  };
  private pending: Pending[] = [];
  private started = false;
  private closed: Promise<void> | null = null;

  /** `server` lets a net.Server subclass (the 1.x Master) be the public socket; it must pause on connect. */
  constructor(options: BalancerOptions = {}, server?: net.Server) {
    super();
    this.server = server ?? net.createServer({ pauseOnConnect: true });
    // A server of our own reports its errors through us (listen() rejects with
    // those before it is bound); a Master reports its own.
    if (!server) this.server.on('error', (error: Error) => this.server.listening && this.emit('error', error));
    this.config = normalizeOptions(options);
    this.routedTo = new Array<number>(this.config.workers).fill(0);
    this.routing = this.config.routing === 'header' ? new HeaderRouting(this.config) : new IpRouting();
    this.pool = new WorkerPool(this.config);
    this.pool.on('online', (index: number, worker: Worker) => {
      this.emit('online', index, worker);
      this.flushPending();
    });
    this.pool.on('exit', (...args: unknown[]) => this.emit('exit', ...args));
    this.pool.on('respawn', (...args: unknown[]) => this.emit('respawn', ...args));
    this.server.on('connection', (socket: net.Socket) => this.accept(socket));
    // A Master bound with its own listen() starts its workers once bound.
    this.server.on('listening', () => this.startWorkers());
  }

  /** Starts the workers, waits until each is ready (or has died), then binds. */
  async listen(port: number, host?: string): Promise<AddressInfo> {
    this.startWorkers();
    await this.pool.settled();
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    this.emit('listening', address);
    return address;
  }

  address(): AddressInfo | null {
    return (this.server.address() as AddressInfo | null) ?? null;
  }

  stats(): BalancerStats {
    return {
      core: primitives.kind,
      workers: this.routedTo.map((connections, index) => ({
        index,
        pid: this.pool.worker(index)?.process.pid ?? null,
        live: this.pool.live[index],
        connections,
        respawns: this.pool.respawns(index),
      })),
      routed: this.routedTo.reduce((sum, n) => sum + n, 0),
      rejected: { ...this.rejected },
      pending: this.pending.length,
    };
  }

  /** Stops accepting, lets the workers finish their connections (up to `shutdownTimeout`), resolves when all are gone. */
  close(): Promise<void> {
    this.closed ??= this.shutDown();
    return this.closed;
  }

  private async shutDown(): Promise<void> {
    const unbound = new Promise<void>((resolve) => (this.server.listening ? this.server.close(() => resolve()) : resolve()));
    for (const { socket } of this.pending) socket.destroy();
    this.pending = [];
    this.routing.close();
    await Promise.all([unbound, this.pool.close(this.config.shutdownTimeout)]);
  }

  private startWorkers(): void {
    if (this.started) return;
    this.started = true;
    this.pool.start();
  }

  private accept(socket: net.Socket): void {
    if (this.closed) return void socket.destroy();
    // Until a worker owns it, a reset from the client must not become an uncaught error here.
    socket.on('error', () => socket.destroy());
    this.routing.decide(socket, (decision) => this.settle(socket, decision));
  }

  private settle(socket: net.Socket, decision: Decision): void {
    switch (decision.action) {
      case 'route':
        return this.handOff({ socket, hash: primitives.hash64(this.secret, decision.address), head: decision.head });
      case 'reject':
        this.rejected[decision.reason]++;
        return reject(socket, decision.status, decision.message);
      case 'drop':
        this.rejected[decision.reason]++;
        return void socket.destroy();
    }
  }

  private handOff(connection: Pending): void {
    if (this.closed) return void connection.socket.destroy();
    const index = pick(connection.hash, this.pool.live);
    const worker = index < 0 ? null : this.pool.worker(index);
    if (!worker) {
      if (this.pending.length >= PENDING_LIMIT) {
        this.rejected['queue-full']++;
        return reject(connection.socket, 503, 'No worker is available');
      }
      this.pending.push(connection);
      return;
    }
    this.routedTo[index]++;
    connection.socket.removeAllListeners('error');
    this.transport.send(worker, connection.socket, connection.head);
  }

  private flushPending(): void {
    const waiting = this.pending;
    this.pending = [];
    for (const connection of waiting) {
      if (connection.socket.destroyed) continue;
      this.handOff(connection);
    }
  }
}

/** Answers with an HTTP status and a one-line reason, then closes once the client has read it. */
function reject(socket: net.Socket, status: number, message: string): void {
  const body = `${message}\n`;
  // Reading the rest of the request keeps the close graceful: closing a socket
  // with unread input sends a reset, which can destroy the answer in flight.
  socket.on('data', () => {});
  socket.resume();
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), REJECT_LINGER_MS).unref();
}

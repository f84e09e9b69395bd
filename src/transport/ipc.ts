import type { Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { primitives } from '../binding';
import type { StickyMessage } from '../messages';
import type { BalancerConfig } from '../options';
import { routeWorker } from '../rendezvous';
import { HeaderRouting } from '../routing/header';
import type { ProxiedPeer } from '../proxied-peer';
import type { Decision, RoutingKey } from '../routing/types';
import { IpRouting } from '../routing/ip';
import { SidRouting } from '../routing/sid';
import { ProxyProtocolRouting } from '../routing/proxy-protocol';
import { rejectWithStatus } from '../rejection-response';
import { emptyRejections, rejection } from '../rejections';
import type { Transport, TransportCounters, WorkerHandoff, WorkerView } from './types';
import { LeastLoaded, followLoadReports } from './load';

interface Pending {
  socket: net.Socket;
  hash: bigint;
  head: Buffer | null;
  peer?: ProxiedPeer;
  /** Routing 'sid': the worker a valid session id named. */
  session?: number;
}

/**
 * The portable transport: a net.Server in the primary accepts (paused, so
 * nothing is read), a routing key decides, and the socket travels to its
 * worker over Node's IPC channel with one message. Works without the addon
 * and on every platform; one JS object and one IPC round trip per connection.
 */
export class IpcTransport implements Transport {
  readonly name = 'ipc';
  private readonly routing: RoutingKey;
  /** Keys the address hash, so clients cannot aim at a worker. */
  private readonly secret = randomBytes(16);
  private readonly routed: number[];
  private readonly rejected = emptyRejections();
  private pending: Pending[] = [];
  /** What each socket was routed by, in case its worker dies before taking it. */
  private readonly sent = new WeakMap<net.Socket, Pending>();
  /**
   * Sends not yet written to each worker's channel. Node holds handles back
   * until the previous one is acknowledged, so a message sent later (such as
   * 'close') can overtake them; a retiring worker is told to close only once
   * every socket routed to it has been written ahead of that message.
   */
  private readonly sending = new WeakMap<Worker, { count: number; waiters: (() => void)[] }>();
  private closed = false;
  /** Routing 'sid' with sidFallback 'least-loaded': places handshakes. */
  private readonly leastLoaded: LeastLoaded | null;

  /** `server` must pause on connect; the 1.x Master passes itself. */
  constructor(
    private readonly config: BalancerConfig,
    private readonly workers: WorkerView,
    readonly server: net.Server = net.createServer({ pauseOnConnect: true }),
  ) {
    this.routed = new Array<number>(config.workers).fill(0);
    this.routing =
      config.routing === 'header'
        ? new HeaderRouting(config)
        : config.routing === 'proxy-protocol'
          ? new ProxyProtocolRouting(config)
          : config.routing === 'sid'
            ? new SidRouting(config)
            : new IpRouting();
    this.leastLoaded = config.routing === 'sid' && config.sidFallback === 'least-loaded' ? new LeastLoaded(config.workers) : null;
    server.on('connection', (socket: net.Socket) => this.accept(socket));
  }

  bind(port: number, host: string | undefined): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  address(): AddressInfo | null {
    return (this.server.address() as AddressInfo | null) ?? null;
  }

  handoffFor(): WorkerHandoff | null {
    return null;
  }

  forked(): void {}

  stateChanged(index: number, exited: Worker | null): void {
    const { leastLoaded } = this;
    if (leastLoaded) followLoadReports(this.workers.worker(index), index, (from, load) => leastLoaded.report(from, load));
    const waiting = exited ? [...this.pending, ...this.unsent(exited)] : this.pending;
    this.pending = [];
    for (const connection of waiting) if (!connection.socket.destroyed) this.handOff(connection);
  }

  delivered(worker: Worker): Promise<void> {
    const sending = this.sending.get(worker);
    if (!sending || sending.count === 0) return Promise.resolve();
    return new Promise((resolve) => sending.waiters.push(resolve));
  }

  counters(): TransportCounters {
    return { routed: [...this.routed], rejected: { ...this.rejected }, pending: this.pending.length };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const { socket } of this.pending) socket.destroy();
    this.pending = [];
    this.routing.close();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
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
        return this.handOff({
          socket,
          hash: primitives.hash64(this.secret, decision.address),
          head: decision.head,
          peer: decision.peer,
        });
      case 'route-session':
        return this.handOff({
          socket,
          hash: primitives.hash64(this.secret, decision.address),
          head: decision.head,
          session: decision.worker ?? undefined,
        });
      case 'reject':
        this.rejected[decision.reason]++;
        return rejectWithStatus(socket, decision.status, decision.message);
      case 'drop':
        this.rejected[decision.reason]++;
        return void socket.destroy();
    }
  }

  private handOff(connection: Pending): void {
    if (this.closed) return void connection.socket.destroy();
    const index = this.target(connection);
    const worker = index < 0 ? null : this.workers.worker(index);
    if (!worker) {
      if (this.pending.length < this.config.queueLimit) return void this.pending.push(connection);
      this.rejected['queue-full']++;
      const { status, message } = rejection('queue-full');
      return rejectWithStatus(connection.socket, status, message);
    }
    this.routed[index]++;
    const { socket, head, peer } = connection;
    this.sent.set(socket, connection);
    socket.removeAllListeners('error');
    const message: StickyMessage = { sticky: 'connection' };
    if (head) message.head = head.toString('base64');
    if (peer) message.peer = peer;
    const sending = this.sending.get(worker) ?? { count: 0, waiters: [] };
    this.sending.set(worker, sending);
    sending.count++;
    worker.send(message, socket, (error: Error | null) => {
      if (error) socket.destroy();
      if (--sending.count === 0) for (const resolve of sending.waiters.splice(0)) resolve();
    });
  }

  /** The worker `connection` goes to; -1 while it must wait. */
  private target(connection: Pending): number {
    const { live, starting } = this.workers;
    // A session whose worker is down died with it: the request goes as a handshake.
    if (connection.session !== undefined && live[connection.session]) return connection.session;
    if (this.leastLoaded) return this.leastLoaded.pick(live);
    return routeWorker(connection.hash, live, starting);
  }

  /**
   * Node sends one handle at a time and queues the rest until the worker
   * acknowledges. When the worker dies, Node keeps the unacknowledged handle
   * open and drops the queue without closing it, leaving those clients
   * hanging. The queued ones never reached the worker, so they are routed
   * again; the one in flight may have been read there, so it is closed.
   * Node internals: ChildProcess `_pendingMessage` and `_handleQueue`
   * (guarded by test/e2e/node-internals.test.ts).
   */
  private unsent(worker: Worker): Pending[] {
    const child = worker.process as unknown as {
      _handleQueue?: { handle?: unknown }[] | null;
      _pendingMessage?: { handle?: { close?: () => void } } | null;
    };
    child._pendingMessage?.handle?.close?.();
    child._pendingMessage = null;
    const queue = child._handleQueue ?? [];
    child._handleQueue = null;
    const again: Pending[] = [];
    for (const { handle } of queue) {
      const connection = handle instanceof net.Socket ? this.sent.get(handle) : undefined;
      if (connection) again.push(connection);
    }
    return again;
  }
}

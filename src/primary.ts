import cluster, { type Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { BalancerEvents } from './balancer-events';
import { primitives, warnIfFallback } from './binding';
import { stopForeignWorkers, warnForeignWorker } from './foreign-workers';
import { isStickyMessage } from './messages';
import { normalizeOptions, type BalancerConfig, type BalancerOptions } from './options';
import type { RejectReason } from './rejections';
import { ChannelTransport } from './transport/channel';
import { chooseTransport } from './transport/choose';
import type { Transport, WorkerView } from './transport/types';
import { IpcTransport } from './transport/ipc';
import { KernelTransport } from './transport/kernel';
import { WorkerPool, isBalancerWorker } from './worker-pool';

export interface WorkerStats {
  index: number;
  pid: number | null;
  live: boolean;
  /** Connections handed to this worker by the primary (0 where the kernel steers). */
  connections: number;
  respawns: number;
}

export interface BalancerStats {
  /** Which primitives route: the addon or the pure-TS fallback. */
  core: 'native' | 'fallback';
  transport: Transport['name'];
  workers: WorkerStats[];
  routed: number;
  /** Connections turned away, by reason. */
  rejected: Record<RejectReason, number>;
  /** Connections waiting for a live worker. */
  pending: number;
}

export type { BalancerEvents };

type Event = keyof BalancerEvents;

// EventEmitter's listener methods, typed by event name (merged into the class).
export interface Balancer {
  on<E extends Event>(event: E, listener: BalancerEvents[E]): this;
  once<E extends Event>(event: E, listener: BalancerEvents[E]): this;
  off<E extends Event>(event: E, listener: BalancerEvents[E]): this;
  addListener<E extends Event>(event: E, listener: BalancerEvents[E]): this;
  removeListener<E extends Event>(event: E, listener: BalancerEvents[E]): this;
  prependListener<E extends Event>(event: E, listener: BalancerEvents[E]): this;
  prependOnceListener<E extends Event>(event: E, listener: BalancerEvents[E]): this;
}

/**
 * The primary: owns the workers and the transport that brings each
 * connection to its worker. Events: BalancerEvents.
 */
export class Balancer extends EventEmitter {
  readonly config: BalancerConfig;
  private readonly pool: WorkerPool;
  private readonly transport: Transport;
  private started = false;
  private closed: Promise<void> | null = null;

  /** `server` makes a net.Server subclass (the 1.x Master) the public socket, over IPC. */
  constructor(options: BalancerOptions = {}, server?: net.Server) {
    super();
    this.config = normalizeOptions(options);
    warnIfFallback();
    this.pool = new WorkerPool(this.config, {
      handoffFor: (index) => this.transport.handoffFor(index),
      forked: (index, handoff) => this.transport.forked(index, handoff),
      stateChanged: (index, exited) => this.transport.stateChanged(index, exited),
      delivered: (worker) => this.transport.delivered(worker),
    });
    this.transport = createTransport(this.config, this.pool, server);
    this.pool.on('online', (...args: unknown[]) => this.emit('online', ...args));
    this.pool.on('exit', (...args: unknown[]) => this.emit('exit', ...args));
    this.pool.on('respawn', (...args: unknown[]) => this.emit('respawn', ...args));
    if (server) {
      // A Master bound with its own listen() starts its workers once bound.
      server.on('listening', () => this.forkWorkers());
    }
  }

  /** Binds, starts the workers, and resolves once each is ready (or has died). */
  async listen(port: number, host?: string): Promise<AddressInfo> {
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`sticky-native: listen: port must be an integer from 0 to 65535, got ${String(port)}`);
    }
    const address = await this.transport.bind(port, host);
    if (this.config.signals) this.handleSignals();
    this.forkWorkers();
    await this.pool.settled();
    this.emit('listening', address);
    return address;
  }

  address(): AddressInfo | null {
    return this.transport.address();
  }

  stats(): BalancerStats {
    const { routed, rejected, pending } = this.transport.counters();
    return {
      core: primitives.kind,
      transport: this.transport.name,
      workers: routed.map((connections, index) => ({
        index,
        pid: this.pool.worker(index)?.process.pid ?? null,
        live: this.pool.live[index],
        connections,
        respawns: this.pool.respawns(index),
      })),
      routed: routed.reduce((sum, n) => sum + n, 0),
      rejected,
      pending,
    };
  }

  /** Stops accepting, lets the workers finish their connections (up to `shutdownTimeout`), resolves when all are gone. */
  close(): Promise<void> {
    this.stopHandlingSignals();
    cluster.off('message', this.onClusterMessage);
    this.closed ??= Promise.all([this.transport.close(), this.pool.close(this.config.shutdownTimeout)]).then(() => {});
    return this.closed;
  }

  /**
   * Rolling restart: replaces the workers one at a time, each new one ready
   * before the old one finishes its connections and goes. New code is picked
   * up from disk, as with a fresh start.
   */
  restart(): Promise<void> {
    return this.pool.restart(this.config.shutdownTimeout);
  }

  /** The worker at `index` now, if any. */
  worker(index: number): Worker | null {
    return this.pool.worker(index);
  }

  private readonly onStopSignal = () => {
    void this.close().then(() => {
      stopForeignWorkers();
      process.exit(0);
    });
  };

  /** A worker the application forked itself tries to serve. */
  private readonly onClusterMessage = (worker: Worker, message: unknown) => {
    if (isBalancerWorker(worker) || !isStickyMessage(message)) return;
    if (message.sticky === 'ready') warnForeignWorker(worker, this.config.workers);
  };

  private readonly onRestartSignal = () => {
    void this.restart();
  };

  private handleSignals(): void {
    // once: a second SIGTERM/SIGINT finds no listener and kills at once.
    process.once('SIGTERM', this.onStopSignal);
    process.once('SIGINT', this.onStopSignal);
    process.on('SIGHUP', this.onRestartSignal);
  }

  private stopHandlingSignals(): void {
    process.off('SIGTERM', this.onStopSignal);
    process.off('SIGINT', this.onStopSignal);
    process.off('SIGHUP', this.onRestartSignal);
  }

  /**
   * Forks the workers now rather than once bound, which listen() does itself.
   * sticky-session 1.x's listen() fills cluster.workers before it returns;
   * connections that come before a worker is ready wait for it.
   */
  forkWorkers(): void {
    if (this.started) return;
    this.started = true;
    cluster.on('message', this.onClusterMessage);
    this.pool.start();
  }
}

/** The transport chooseTransport() names; a Master (`server`) always gets IPC. */
function createTransport(config: BalancerConfig, workers: WorkerView, server: net.Server | undefined): Transport {
  const name = chooseTransport(config, server !== undefined);
  switch (name) {
    case 'ipc':
      return new IpcTransport(config, workers, server);
    case 'kernel':
      return new KernelTransport(config, workers);
    case 'channel':
      return new ChannelTransport(config, workers);
  }
}

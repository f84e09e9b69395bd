import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { closeSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { primitives } from '../binding';
import type { BalancerConfig } from '../options';
import type { Dispatcher } from '../primitives';
import { PEEK_MODE } from '../peek-mode';
import { type Transport, type TransportCounters, type WorkerHandoff, type WorkerView } from './types';
import { followLoadReports } from './load';

/**
 * The native channel: the addon's Dispatcher accepts, routes (by peer address,
 * forwarded header, session id or PROXY header, as IpcTransport does) and passes descriptors to each
 * worker in batches over a private socketpair. No JavaScript runs per
 * connection; this class only carries the workers' states and the counters.
 */
export class ChannelTransport implements Transport {
  readonly name = 'channel';
  private readonly dispatcher: Dispatcher;
  private bound: AddressInfo | null = null;
  /** Routing 'sid' with sidFallback 'least-loaded': the workers' load reports go to the dispatcher. */
  private readonly placesByLoad: boolean;

  constructor(config: BalancerConfig, private readonly workers: WorkerView) {
    const { Dispatcher } = primitives;
    if (!Dispatcher) throw new Error(`sticky-native: transport 'channel' needs the native addon on Linux (core: ${primitives.kind})`);
    this.dispatcher = new Dispatcher({
      routing: config.routing,
      headerLower: config.headerLower,
      header: config.header,
      ignoreMissingHeader: config.ignoreMissingHeader,
      headRules: config.headRules,
      trustedProxies: config.trustedProxies,
      ...(config.sidKey ? { sidKey: config.sidKey, sidFallback: config.sidFallback } : {}),
      headLimit: config.headLimit,
      headTimeout: config.headTimeout,
      workers: config.workers,
      queueLimit: config.queueLimit,
      // Keys the address hash, so clients cannot aim at a worker.
      secret: randomBytes(16),
      peek: PEEK_MODE,
    });
    this.placesByLoad = config.routing === 'sid' && config.sidFallback === 'least-loaded';
    for (let index = 0; index < config.workers; index++) this.stateChanged(index);
  }

  async bind(port: number, host: string | undefined): Promise<AddressInfo> {
    // The dispatcher binds address literals only; a name is resolved here, as net.Server would.
    const literal = host === undefined || net.isIP(host) ? host : (await lookup(host)).address;
    if (literal !== undefined) return (this.bound = this.dispatcher.listen(literal, port));
    // No host: dual-stack "::" as net.Server does, IPv4 where the host has no IPv6.
    try {
      return (this.bound = this.dispatcher.listen('::', port));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT') throw error;
      return (this.bound = this.dispatcher.listen('0.0.0.0', port));
    }
  }

  address(): AddressInfo | null {
    return this.bound;
  }

  handoffFor(index: number): WorkerHandoff | null {
    return { kind: 'channel', fd: this.dispatcher.openChannel(index) };
  }

  /** The worker holds its end now (or the fork failed): the primary's copy goes, so the worker's exit is seen as the channel's end. */
  forked(_index: number, handoff: WorkerHandoff | null): void {
    if (handoff) closeSync(handoff.fd);
  }

  stateChanged(index: number): void {
    if (this.placesByLoad) followLoadReports(this.workers.worker(index), index, (from, load) => this.dispatcher.setLoad(from, load));
    this.dispatcher.setState(index, this.workers.live[index], this.workers.starting[index]);
  }

  /**
   * Nothing waits for a worker that is no longer routed to: what was sent is
   * in its channel, and its receiver delivers that before it closes.
   */
  delivered(): Promise<void> {
    return Promise.resolve();
  }

  counters(): TransportCounters {
    return this.dispatcher.counters();
  }

  async close(): Promise<void> {
    this.bound = null;
    this.dispatcher.close();
  }
}

import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import * as fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { primitives } from '../binding';
import type { BalancerConfig } from '../options';
import type { Worker } from 'node:cluster';
import { isStickyMessage } from '../messages';
import { emptyRejections } from '../rejections';
import type { Transport, TransportCounters, WorkerHandoff, WorkerView } from './types';

/**
 * Kernel steering (Linux, ip routing): one listening socket per worker in an
 * SO_REUSEPORT group whose classic BPF program hashes each SYN's source
 * address to a member. Each worker listens on its own member with Node's
 * accept path, so the primary does no work per connection; the per-worker
 * counts come from the workers, which report their accept totals a few times
 * a second.
 *
 * The primary keeps its copy of every member for its whole life, so the group
 * never changes and the program's indexes stay valid: a dead worker's clients
 * wait in its member's backlog until the respawned worker (same index, same
 * descriptor) takes them, and no other client changes worker.
 */
export class KernelTransport implements Transport {
  readonly name = 'kernel';
  /** The primary's copy of each member; member i is worker i's. */
  private fds: number[] = [];
  private bound: AddressInfo | null = null;
  private closed = false;
  /** Connections each index's workers have reported accepting, summed over respawns. */
  private readonly accepted: number[];
  /** The last total each worker process reported. */
  private readonly reported = new WeakMap<Worker, number>();

  constructor(
    private readonly config: BalancerConfig,
    private readonly workers: WorkerView,
  ) {
    this.accepted = new Array<number>(config.workers).fill(0);
  }

  async bind(port: number, host: string | undefined): Promise<AddressInfo> {
    const { steering } = primitives;
    if (!steering) throw new Error(`sticky-native: transport 'kernel' needs the addon on Linux (core: ${primitives.kind})`);
    // Names resolve as net.Server#listen resolves them; the addon takes
    // literals, '' (every address, dual-stack) and 'localhost' (127.0.0.1).
    const literal = !host || host === 'localhost' || net.isIP(host) ? (host ?? '') : (await lookup(host)).address;
    if (this.closed) throw new Error('sticky-native: the balancer was closed before it was bound');
    const group = steering.createGroup(literal, port, this.config.workers, randomBytes(16));
    this.fds = group.fds;
    this.bound = { address: group.address, family: group.family, port: group.port };
    return this.bound;
  }

  address(): AddressInfo | null {
    return this.bound;
  }

  handoffFor(index: number): WorkerHandoff | null {
    // Once closed the numbers may already name other files: hand over nothing.
    if (this.closed || this.fds.length === 0) return null;
    return { kind: 'kernel', fd: this.fds[index] };
  }

  /** The primary keeps its copy: the member must outlive every worker that uses it. */
  forked(): void {}

  /** The kernel steers by the fixed group: nothing changes when a worker comes or goes, but its reports are read. */
  stateChanged(index: number): void {
    const worker = this.workers.worker(index);
    if (!worker || this.reported.has(worker)) return;
    this.reported.set(worker, 0);
    worker.on('message', (message: unknown) => {
      if (!isStickyMessage(message) || message.sticky !== 'accepted') return;
      this.accepted[index] += message.total - (this.reported.get(worker) ?? 0);
      this.reported.set(worker, message.total);
    });
  }

  /** The kernel queues nothing in the primary: whatever it steered waits in the member's backlog. */
  delivered(): Promise<void> {
    return Promise.resolve();
  }

  counters(): TransportCounters {
    return { routed: [...this.accepted], rejected: emptyRejections(), pending: 0 };
  }

  /**
   * Closes the primary's copies at once. A worker still listening holds its
   * own copy, so its member keeps taking connections until that worker stops
   * listening, and then closes at that moment: new clients are refused (or
   * steered to a member still served) instead of waiting in a backlog nobody
   * will accept. Only members without a worker (one waiting to be respawned,
   * which close() cancels) close now, with the connections queued on them.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const fd of this.fds) fs.closeSync(fd);
    this.fds = [];
  }
}

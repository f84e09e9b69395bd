import type { Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import type { RejectReason } from '../rejections';

/** What the transports count; the balancer adds the worker pool's side. */
export interface TransportCounters {
  /** Connections handed to each worker, by index. */
  routed: number[];
  rejected: Record<RejectReason, number>;
  /** Connections waiting for a live worker or a free channel. */
  pending: number;
}

/** What a transport may know of the workers (the WorkerPool). */
export interface WorkerView {
  /** Connections may go to worker i. */
  readonly live: readonly boolean[];
  /** Worker i is starting for the first time: its clients wait for it. */
  readonly starting: readonly boolean[];
  worker(index: number): Worker | null;
}

/**
 * A descriptor one worker inherits at fork: its member of the kernel's
 * SO_REUSEPORT group, or its end of a native channel. The worker finds the
 * kind in STICKY_HANDOFF and the fd number in STICKY_FD.
 */
export interface WorkerHandoff {
  kind: 'kernel' | 'channel';
  /** The primary's descriptor. */
  fd: number;
}

/**
 * How connections reach their workers: the seam between the balancer's
 * lifecycle and the data path. `ipc` accepts in JS and sends each socket over
 * Node's IPC; `kernel` lets an SO_REUSEPORT group steer them; `channel`
 * accepts and routes in C++ and passes descriptors in batches.
 */
export interface Transport {
  readonly name: 'ipc' | 'kernel' | 'channel';
  /** Binds the public address. Connections that come before a worker is live wait. */
  bind(port: number, host: string | undefined): Promise<AddressInfo>;
  address(): AddressInfo | null;
  /** Called just before worker `index` is forked; null when it inherits nothing. */
  handoffFor(index: number): WorkerHandoff | null;
  /** Called after the fork (or a failed fork) with the hand-off it used. */
  forked(index: number, handoff: WorkerHandoff | null): void;
  /** Worker `index` became live, stopped being live, or finished starting; `exited` is the worker that died, if one did. */
  stateChanged(index: number, exited: Worker | null): void;
  /** Resolves once nothing more is on its way to `worker` (it is no longer routed to); then it may be told to close. */
  delivered(worker: Worker): Promise<void>;
  counters(): TransportCounters;
  /** Stops accepting and drops what waits; the workers finish the rest. */
  close(): Promise<void>;
}

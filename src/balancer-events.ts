import type { Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';

/** The events a Balancer emits and their listeners' arguments. */
export interface BalancerEvents {
  /** Bound, and every worker is ready (or has died). */
  listening: (address: AddressInfo) => void;
  /** The worker at `index` is serving. */
  online: (index: number, worker: Worker) => void;
  /** The worker at `index` exited: `code` when it exited itself, `signal` when it was killed. */
  exit: (index: number, worker: Worker, code: number | null, signal: NodeJS.Signals | null) => void;
  /** The worker at `index` is forked again in `delayMs` (its back-off). */
  respawn: (index: number, delayMs: number) => void;
  error: (error: Error) => void;
}

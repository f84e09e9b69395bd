import type { AddressInfo } from 'node:net';
import type { ProxiedPeer } from './proxied-peer';

/** Messages between the primary and its workers, told apart from user messages by `sticky`. */
export type StickyMessage =
  | { sticky: 'ready' }
  /** `peer`: the client a PROXY header named; the worker's socket reports it as its remote end. */
  | { sticky: 'connection'; head?: string; peer?: ProxiedPeer }
  | { sticky: 'close' }
  /** The application closed its server (sticky-session 1.x): the primary replaces this worker, then sends 'close'. */
  | { sticky: 'leave' }
  /** Kernel steering: how many connections this worker has accepted so far. */
  | { sticky: 'accepted'; total: number }
  /**
   * Routing 'sid' with sidFallback 'least-loaded': this worker's load now, its
   * live Engine.IO sessions once stickySessionIds() named its server, else its open connections.
   */
  | { sticky: 'load'; load: number }
  /** The application's own net.Server#listen() in a worker (worker/own-listen.ts); `address` null: no host given. */
  | { sticky: 'listen'; id: number; address: string | null; port: number; member: boolean }
  | ({ sticky: 'listen-reply'; id: number } & ListenReply);

/**
 * How the primary answers a worker's own listen(): `serve`, the balancer
 * serves it (a kernel member handle comes with the message when the worker
 * has none); `idle`, it listens but gets nothing (a worker the balancer did
 * not fork); `cluster`, not the balanced port, so Node's cluster takes it;
 * `error`, the listen fails with `code` and `message`.
 */
export type ListenReply =
  | { action: 'serve'; address: AddressInfo }
  | { action: 'idle'; address: AddressInfo }
  | { action: 'cluster' }
  | { action: 'error'; code: string; message: string };

export function isStickyMessage(message: unknown): message is StickyMessage {
  return typeof message === 'object' && message !== null && typeof (message as { sticky?: unknown }).sticky === 'string';
}

import type { ProxiedPeer } from './proxied-peer';

/** Messages between the primary and its workers, told apart from user messages by `sticky`. */
export type StickyMessage =
  | { sticky: 'ready' }
  /** `peer`: the client a PROXY header named; the worker's socket reports it as its remote end. */
  | { sticky: 'connection'; head?: string; peer?: ProxiedPeer }
  | { sticky: 'close' }
  /** Kernel steering: how many connections this worker has accepted so far. */
  | { sticky: 'accepted'; total: number }
  /**
   * Routing 'sid' with sidFallback 'least-loaded': this worker's load now, its
   * live Engine.IO sessions once stickySessionIds() named its server, else its open connections.
   */
  | { sticky: 'load'; load: number };

export function isStickyMessage(message: unknown): message is StickyMessage {
  return typeof message === 'object' && message !== null && typeof (message as { sticky?: unknown }).sticky === 'string';
}

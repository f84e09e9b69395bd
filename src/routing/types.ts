import type net from 'node:net';
import type { ProxiedPeer } from '../proxied-peer';
import type { RejectReason } from '../rejections';

/** What a routing key decided for one connection. */
export type Decision =
  /**
   * Hash `address` (16 bytes) to a worker; `head` holds bytes already read
   * from the socket, if any; `peer` the client a PROXY header named.
   */
  | { action: 'route'; address: Buffer; head: Buffer | null; peer?: ProxiedPeer }
  /**
   * Routing 'sid': to `worker` (a valid session id named it) while it is
   * live; otherwise placed as a handshake, by `address` or by load.
   */
  | { action: 'route-session'; worker: number | null; address: Buffer; head: Buffer | null }
  /** Answer with an HTTP status and close. */
  | { action: 'reject'; reason: RejectReason; status: number; message: string }
  /** Close without an answer: the client left, or said nothing in time. */
  | { action: 'drop'; reason: RejectReason };

/** The seam between "which client is this" and the rest of the primary. */
export interface RoutingKey {
  /** Calls `done` exactly once, unless `close()` comes first. */
  decide(socket: net.Socket, done: (decision: Decision) => void): void;
  close(): void;
}

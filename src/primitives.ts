// The shape both the native addon and src/fallback/ provide
// (docs/internals.md "Primitives").

import type { PeekMode } from './peek-mode';
import type { RejectReason } from './rejections';

export type HeadStatus = 'need-more' | 'found' | 'missing' | 'invalid' | 'not-http' | 'too-large';

export interface HeadScan {
  status: HeadStatus;
  /** The canonical 16-byte address when `status` is 'found', otherwise null. */
  address: Buffer | null;
}

/** How a header lists addresses: comma-separated (X-Forwarded-For) or RFC 7239 `for=` elements. */
export type HeaderFormat = 'list' | 'forwarded';

/**
 * Which element of the header's combined list is the client: the leftmost, or
 * the rightmost that is not a trusted proxy's address (the leftmost if all are).
 */
export type AddressPick = 'leftmost' | 'rightmost-untrusted';

/** How scanHead reads the header's value; every field has the seed's default. */
export interface HeadRules {
  /** Default 'list'. */
  format?: HeaderFormat;
  /** Default 'leftmost'. */
  pick?: AddressPick;
  /** Addresses or CIDR ranges of trusted proxies, for 'rightmost-untrusted'. Default none. */
  trusted?: readonly string[];
}

export type ProxyStatus = 'need-more' | 'found' | 'local' | 'not-proxy' | 'malformed';

/** Which PROXY signature a connection's first bytes start with ('none': they cannot start one). */
export type ProxySignature = 'need-more' | 'none' | 'v1' | 'v2';

export interface ProxyScan {
  status: ProxyStatus;
  /** 'found' and 'local': the header's byte count; 0 otherwise. */
  headerLength: number;
  /** 'found' only: canonical 16-byte addresses (IPv4 as ::ffff:a.b.c.d), ports in host order. */
  source: Buffer | null;
  sourcePort: number;
  destination: Buffer | null;
  destinationPort: number;
  /** 'found': 4 or 6, as the header declares; 0 otherwise. */
  family: 0 | 4 | 6;
}

export type SidStatus = 'need-more' | 'found' | 'none' | 'not-http' | 'too-large';

export interface SidScan {
  /** 'none': no sid parameter, or one that is malformed, forged or names a worker out of range. */
  status: SidStatus;
  /** The worker the session id names when `status` is 'found', otherwise -1. */
  worker: number;
}

export type PeekOutcome = Exclude<HeadStatus, 'need-more'> | 'closed' | 'error';

export interface HeadPeeker {
  /** Start watching an accepted socket that nobody is reading. */
  watch(fd: number): void;
  /** Idempotent; call before the fd leaves the process. */
  unwatch(fd: number): void;
  close(): void;
}

export interface HeadPeekerClass {
  new (
    headerLower: string,
    limit: number,
    onResult: (fd: number, outcome: PeekOutcome, address: Buffer | null) => void,
    rules?: HeadRules,
    peek?: PeekMode,
  ): HeadPeeker;
}

export interface Primitives {
  kind: 'native' | 'fallback';
  /** SipHash-2-4 of `address` under the 16-byte `key`. */
  hash64(key: Buffer, address: Buffer): bigint;
  /** The canonical 16-byte address, or null if `text` is not an address. */
  parseAddress(text: string): Buffer | null;
  scanHead(head: Buffer, headerLower: string, limit: number, rules?: HeadRules): HeadScan;
  /** A PROXY protocol v1/v2 header in the bytes seen so far. */
  scanProxyHeader(buf: Buffer): ProxyScan;
  /** The PROXY signature the bytes seen so far start with, decided from their first 6 (v1) or 12 (v2) bytes. */
  proxySignature(buf: Buffer): ProxySignature;
  /**
   * The Engine.IO session id (src/session-id.ts) in the request line of `head`,
   * verified with the 16-byte `key`, naming a worker below `workers`; only
   * the first `limit` bytes are looked at.
   */
  scanSid(head: Buffer, key: Buffer, workers: number, limit: number): SidScan;
  /** Null in the fallback, which reads the first chunk instead of peeking. */
  HeadPeeker: HeadPeekerClass | null;
  /** Null where the kernel cannot steer (and in the fallback). */
  steering: Steering | null;
  /** The native channel, primary side and worker side; null in the fallback. */
  Dispatcher: DispatcherClass | null;
  ChannelReceiver: ChannelReceiverClass | null;
}

/** Kernel steering (Linux): an SO_REUSEPORT group whose classic BPF program hashes the source address. */
export interface Steering {
  /** Whether this kernel attaches the steering program (probed once, then remembered). */
  available(): boolean;
  /**
   * Binds `count` listening sockets to host:port (port 0: one free port for all)
   * in one group, steered by a hash keyed with the 16-byte `key`. Member i
   * takes the connections of the addresses that hash to i. `host` is an IP
   * literal, '' (every address: `::` dual-stack, or 0.0.0.0 without IPv6) or
   * 'localhost' (127.0.0.1); `address` and `family` say what was bound.
   */
  createGroup(
    host: string,
    port: number,
    count: number,
    key: Buffer,
  ): { fds: number[]; port: number; address: string; family: 'IPv4' | 'IPv6' };
}

/** Routing and back-pressure settings of the native dispatcher. */
export interface DispatcherOptions {
  routing: 'ip' | 'header' | 'sid' | 'proxy-protocol';
  /** sid: the 16-byte key of the session ids' tags. */
  sidKey?: Buffer;
  /** sid: where a request without a valid session id goes. */
  sidFallback?: 'ip' | 'least-loaded';
  headerLower: string;
  /** The header as the user wrote it, for the text of a 400. */
  header: string;
  ignoreMissingHeader: boolean;
  /** How the header lists addresses and which one is the client; the trust list is parsed once. */
  headRules?: HeadRules;
  /** proxy-protocol: addresses or CIDR ranges of the peers whose PROXY headers are believed. */
  trustedProxies?: readonly string[];
  headLimit: number;
  headTimeout: number;
  workers: number;
  queueLimit: number;
  /** 16 bytes keying the address hash. */
  secret: Buffer;
  /** How undecided connections are peeked at (src/peek-mode.ts). Default 'offset'. */
  peek?: PeekMode;
}

export interface DispatcherCounters {
  routed: number[];
  rejected: Record<RejectReason, number>;
  /** Connections accepted and not yet handed over (peeking, or queued for a channel). */
  pending: number;
}

/** The primary's native data path: accepts, routes and passes descriptors in batches; JS sees counters. */
export interface Dispatcher {
  listen(host: string, port: number): { address: string; family: string; port: number };
  /** A new channel to worker `index` (replacing any old one); returns the worker's end, to hand over at fork and then close. */
  openChannel(index: number): number;
  /** Worker `index` is live (takes connections) or starting (its clients wait for it). */
  setState(index: number, live: boolean, starting: boolean): void;
  /** Routing 'sid', least-loaded: worker `index` reported its load (sessions, or open connections). */
  setLoad(index: number, load: number): void;
  counters(): DispatcherCounters;
  close(): void;
}

export interface DispatcherClass {
  new (options: DispatcherOptions): Dispatcher;
}

/** The client a PROXY header named, as the channel carries it with its descriptor. */
export interface ChannelPeer {
  /** Canonical 16 bytes (IPv4 as ::ffff:a.b.c.d). */
  address: Buffer;
  port: number;
  family: 4 | 6;
}

/** The worker's end of a channel: calls `onSockets` with each batch of received descriptors. */
export interface ChannelReceiver {
  close(): void;
}

export interface ChannelReceiverClass {
  /** `peers[i]` belongs to `fds[i]` (null: the socket's own peer); `peers` is null when none of the batch has one. */
  new (fd: number, onSockets: (fds: number[], peers: (ChannelPeer | null)[] | null) => void): ChannelReceiver;
}

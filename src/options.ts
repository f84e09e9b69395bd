import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { parseCidrList, type CidrSet } from './cidr';
import type { AddressPick, HeadRules } from './primitives';

export type Routing = 'ip' | 'header' | 'proxy-protocol' | 'sid';
/** How routing 'sid' places a request without a session id (a handshake). */
export type SidFallback = 'ip' | 'least-loaded';
export type TransportName = 'ipc' | 'kernel' | 'channel';

/** Options of the typed API; the seed and 1.x APIs are translated into these. */
export interface BalancerOptions {
  /** Number of workers. Default: `os.availableParallelism()`. */
  workers?: number;
  /**
   * What picks the worker: the client's address, a forwarded header, or the
   * client address in a PROXY protocol v1/v2 header. Default `'ip'`.
   * `'sid'`: the worker an Engine.IO session id names (the workers mint them
   * with `stickySessionIds(io)`); requests without one go by `sidFallback`.
   */
  routing?: Routing;
  /**
   * Routing 'sid': where a request without a valid session id (a Socket.IO
   * handshake) goes. `'least-loaded'` (default): the live worker with the
   * fewest live sessions (open connections where stickySessionIds() named no
   * server); `'ip'`: by client address, as routing 'ip'.
   */
  sidFallback?: SidFallback;
  /**
   * Peers whose PROXY headers are believed, and the proxies whose entries
   * forwardedPick 'rightmost-untrusted' skips in a forwarded header, as
   * addresses or CIDR ranges ('10.0.0.0/8', '::1/128'). Default: loopback
   * (127.0.0.0/8 and ::1).
   */
  trustedProxies?: string[];
  /** Header holding the client address when `routing` is `'header'`, any case. Default `x-forwarded-for`. */
  header?: string;
  /** Route requests without a usable header by peer address instead of answering 400. */
  ignoreMissingHeader?: boolean;
  /**
   * Which address of the header's list (every line of it, in order) is the
   * client. `'rightmost-untrusted'` (default): walking from the right, the
   * first address not in `trustedProxies` (the leftmost if all are), so what a
   * client prepends itself is never believed. `'leftmost'`: the first address,
   * as the seed API does; safe only if the first proxy overwrites the header.
   * `header: 'forwarded'` reads RFC 7239 `for=` nodes, other headers
   * comma-separated addresses.
   */
  forwardedPick?: AddressPick;
  /** Largest request head the primary looks through, in bytes; past it the answer is 431. Default 16384. */
  headLimit?: number;
  /** How long a connection may take to send the header, in ms; then it is closed. Default 10000. */
  headTimeout?: number;
  /** How long `close()` lets workers finish before killing them, in ms. Default 10000. */
  shutdownTimeout?: number;
  /** Extra environment for the workers, or a function of the worker index returning it. */
  env?: Record<string, string | undefined> | ((index: number) => Record<string, string | undefined>);
  /** Respawn back-off for a worker that keeps dying, in ms. Default `{ min: 100, max: 10000 }`. */
  respawnDelay?: { min?: number; max?: number };
  /**
   * How connections reach the workers. `'auto'` (default) picks kernel steering
   * for ip routing on Linux, the native channel where the addon loads, and Node
   * IPC elsewhere; the environment variable STICKY_TRANSPORT overrides `'auto'`.
   */
  transport?: 'auto' | TransportName;
  /** Connections that may wait for a worker (none live, or its channel full); past it, 503. Default 4096. */
  queueLimit?: number;
  /**
   * Once listening, the primary closes gracefully on SIGTERM and SIGINT (then
   * exits 0; a second signal kills at once) and restarts its workers one by
   * one on SIGHUP. Default true; false leaves signals to the application.
   */
  signals?: boolean;
}

export interface BalancerConfig {
  workers: number;
  routing: Routing;
  /** The header as the user spelled it, for messages. */
  header: string;
  /** The header lower-cased, for matching. */
  headerLower: string;
  ignoreMissingHeader: boolean;
  /** How the header's value is read (format from the header name, pick, trust list). */
  headRules: Required<HeadRules>;
  sidFallback: SidFallback;
  /** Routing 'sid': keys the session ids' tags; drawn at random, given to the workers only. Null otherwise. */
  sidKey: Buffer | null;
  /** As the user wrote them (the dispatcher parses the same text). */
  trustedProxies: string[];
  trusted: CidrSet;
  headLimit: number;
  headTimeout: number;
  shutdownTimeout: number;
  env: (index: number) => Record<string, string | undefined>;
  respawnDelay: { min: number; max: number };
  transport: 'auto' | TransportName;
  queueLimit: number;
  signals: boolean;
}

/** Loopback: a proxy on the same host. */
const DEFAULT_TRUSTED_PROXIES: readonly string[] = ['127.0.0.0/8', '::1/128'];

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`sticky-native: ${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

export function normalizeOptions(options: BalancerOptions = {}): BalancerConfig {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('sticky-native: options must be an object');
  }
  const routing = options.routing ?? 'ip';
  if (routing !== 'ip' && routing !== 'header' && routing !== 'proxy-protocol' && routing !== 'sid') {
    throw new TypeError(`sticky-native: routing must be 'ip', 'header', 'proxy-protocol' or 'sid', got ${String(routing)}`);
  }
  const sidFallback = options.sidFallback ?? 'least-loaded';
  if (sidFallback !== 'ip' && sidFallback !== 'least-loaded') {
    throw new TypeError(`sticky-native: sidFallback must be 'ip' or 'least-loaded', got ${String(sidFallback)}`);
  }
  const trustedProxies = options.trustedProxies ?? DEFAULT_TRUSTED_PROXIES;
  if (!Array.isArray(trustedProxies)) {
    throw new TypeError('sticky-native: trustedProxies must be an array of addresses or CIDR ranges');
  }
  const trusted = parseCidrList(trustedProxies);
  const header = options.header ?? 'x-forwarded-for';
  if (typeof header !== 'string' || !HEADER_NAME.test(header)) {
    throw new TypeError(`sticky-native: header must be an HTTP header name, got ${String(header)}`);
  }
  const forwardedPick = options.forwardedPick ?? 'rightmost-untrusted';
  if (forwardedPick !== 'leftmost' && forwardedPick !== 'rightmost-untrusted') {
    throw new TypeError(`sticky-native: forwardedPick must be 'leftmost' or 'rightmost-untrusted', got ${String(forwardedPick)}`);
  }
  const env = options.env ?? {};
  if (typeof env !== 'function' && (env === null || typeof env !== 'object')) {
    throw new TypeError('sticky-native: env must be an object or a function of the worker index');
  }
  const transport = options.transport ?? 'auto';
  if (!['auto', 'ipc', 'kernel', 'channel'].includes(transport)) {
    throw new TypeError(`sticky-native: transport must be 'auto', 'ipc', 'kernel' or 'channel', got ${String(transport)}`);
  }
  if (transport === 'kernel' && routing !== 'ip') {
    throw new TypeError("sticky-native: transport 'kernel' steers by client address only; use routing 'ip'");
  }
  const min = integer('respawnDelay.min', options.respawnDelay?.min, 100, 0, 3_600_000);
  const max = integer('respawnDelay.max', options.respawnDelay?.max, Math.max(min, 10_000), min, 3_600_000);
  return {
    workers: integer('workers', options.workers, os.availableParallelism?.() ?? os.cpus().length, 1, 1024),
    routing,
    header,
    headerLower: header.toLowerCase(),
    ignoreMissingHeader: options.ignoreMissingHeader === true,
    headRules: {
      format: header.toLowerCase() === 'forwarded' ? 'forwarded' : 'list',
      pick: forwardedPick,
      trusted: [...trustedProxies],
    },
    sidFallback,
    sidKey: routing === 'sid' ? randomBytes(16) : null,
    trustedProxies: [...trustedProxies],
    trusted,
    headLimit: integer('headLimit', options.headLimit, 16 * 1024, 64, 1024 * 1024),
    headTimeout: integer('headTimeout', options.headTimeout, 10_000, 1, 3_600_000),
    shutdownTimeout: integer('shutdownTimeout', options.shutdownTimeout, 10_000, 0, 3_600_000),
    env: typeof env === 'function' ? env : () => env,
    respawnDelay: { min, max },
    transport,
    queueLimit: integer('queueLimit', options.queueLimit, 4096, 1, 1_000_000),
    signals: options.signals !== false,
  };
}

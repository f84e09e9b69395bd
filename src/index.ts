import cluster from 'node:cluster';
import * as binding from './binding';
import * as child from './child';
import * as seed from './legacy/seed';
import * as v1 from './legacy/v1';
import * as options from './options';
import * as primary from './primary';
import * as socketio from './socketio';

// The seed's examples print NODE_WORKER_ID, which old Node set in every worker.
if (cluster.isWorker && process.env.NODE_WORKER_ID === undefined && cluster.worker) {
  process.env.NODE_WORKER_ID = String(cluster.worker.id);
}

/**
 * `require('sticky-native')` is the seed's `sticky(...)`: give it a server or
 * a factory (and optionally a worker count or options), then call `.listen()`.
 * It also carries the 1.x API (`listen`, `Master`) and the typed API
 * (`createBalancer`, `serve`).
 */
function sticky(serverOrFactory: seed.ServerOrFactory): seed.StickyListener;
function sticky(num: number, serverOrFactory: seed.ServerOrFactory): seed.StickyListener;
function sticky(options: seed.SeedOptions, serverOrFactory: seed.ServerOrFactory): seed.StickyListener;
function sticky(first: seed.ServerOrFactory | number | seed.SeedOptions, second?: seed.ServerOrFactory): seed.StickyListener {
  return seed.sticky(first as seed.SeedOptions, second as seed.ServerOrFactory);
}

// `export =` keeps require() returning the function itself; the namespace
// adds the rest, as values and as types.
namespace sticky {
  export type BalancerOptions = options.BalancerOptions;
  export type Routing = options.Routing;
  export type BalancerEvents = primary.BalancerEvents;
  export type BalancerStats = primary.BalancerStats;
  export type WorkerStats = primary.WorkerStats;
  export type ServeOptions = child.ServeOptions;
  export type SeedOptions = seed.SeedOptions;
  export type ServerOrFactory = seed.ServerOrFactory;
  export type StickyListener = seed.StickyListener;
  export type V1Options = v1.V1Options;
  export type SidFallback = options.SidFallback;

  export import Balancer = primary.Balancer;
  export import Master = v1.Master;
  export const listen = v1.listen;
  export const serve = child.serve;
  /** Worker side of routing 'sid': Socket.IO session ids that name this worker. */
  export const stickySessionIds = socketio.stickySessionIds;
  /** Which routing core is loaded: the native addon or the pure-TS fallback. */
  export const core = binding.primitives.kind;
  /** Why the native addon did not load (the core is then the fallback); null when it did or STICKY_NATIVE=fallback. */
  export const nativeLoadError = binding.nativeLoadError;

  /** Creates the primary's balancer. Call `listen()` on it to fork the workers and bind. */
  export function createBalancer(balancerOptions?: BalancerOptions): Balancer {
    if (cluster.isWorker) {
      throw new Error('sticky-native: createBalancer() runs in the primary; in a worker use serve(server)');
    }
    return new Balancer(balancerOptions);
  }
}

export = sticky;

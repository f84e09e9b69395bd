import cluster from 'node:cluster';
import type net from 'node:net';
import { serve, type ServeOptions } from '../child';
import type { BalancerOptions } from '../options';
import { Balancer } from '../primary';

/** Options of the proxy-capable sticky-session 0.x fork, accepted as its README shows them. */
export interface SeedOptions {
  /** Number of workers; defaults to the core count. */
  num?: number;
  /** Route by the forwarded header instead of the peer address. */
  proxy?: boolean;
  /** Header with the client address; defaults to x-forwarded-for, any case. */
  header?: string;
  /** Route requests without the header by peer address instead of answering 400. */
  ignoreMissingHeader?: boolean;
  /** Hold each connection's data until the application emits `event` on its socket. */
  sync?: { isSynced?: boolean; isSyncable?: boolean; event?: string };
}

export type ServerOrFactory = net.Server | (() => net.Server);

export interface StickyListener {
  /**
   * Binds `port` in the primary and returns its Balancer; in a worker, starts
   * the server (calling the factory), calls `callback` and returns the server.
   */
  listen(port: number, callback?: () => void): net.Server | Balancer;
  listen(port: number, host: string, callback?: () => void): net.Server | Balancer;
}

function toBalancerOptions(options: SeedOptions): BalancerOptions {
  return {
    workers: options.num,
    routing: options.proxy ? 'header' : 'ip',
    header: options.header,
    // The fork routed by the leftmost address; kept, so a drop-in behaves alike.
    forwardedPick: 'leftmost',
    ignoreMissingHeader: options.ignoreMissingHeader,
  };
}

function toServeOptions(options: SeedOptions): ServeOptions {
  const { sync } = options;
  if (!sync || !(sync.isSynced || sync.isSyncable)) return {};
  if (typeof sync.event !== 'string' || sync.event === '') {
    throw new TypeError('sticky-native: sync.event must name the event that releases a connection');
  }
  return { sync: { event: sync.event } };
}

export function sticky(serverOrFactory: ServerOrFactory): StickyListener;
export function sticky(num: number, serverOrFactory: ServerOrFactory): StickyListener;
export function sticky(options: SeedOptions, serverOrFactory: ServerOrFactory): StickyListener;
export function sticky(first: ServerOrFactory | number | SeedOptions, second?: ServerOrFactory): StickyListener {
  let options: SeedOptions;
  let serverOrFactory: ServerOrFactory | undefined;
  if (typeof first === 'number') {
    options = { num: first };
    serverOrFactory = second;
  } else if (typeof first === 'function' || isServer(first)) {
    options = {};
    serverOrFactory = first;
  } else {
    options = first ?? {};
    serverOrFactory = second;
  }
  if (typeof serverOrFactory !== 'function' && !isServer(serverOrFactory)) {
    throw new TypeError('sticky-native: sticky() needs a server or a function that returns one');
  }
  const balancerOptions = toBalancerOptions(options);
  const serveOptions = toServeOptions(options);
  const target = serverOrFactory;

  return {
    listen(port: number, hostOrCallback?: string | (() => void), callback?: () => void): net.Server | Balancer {
      const host = typeof hostOrCallback === 'string' ? hostOrCallback : undefined;
      const done = typeof hostOrCallback === 'function' ? hostOrCallback : callback;
      if (cluster.isWorker) {
        const server = typeof target === 'function' ? target() : target;
        serve(server, serveOptions);
        if (done) process.nextTick(done);
        return server;
      }
      const balancer = new Balancer(balancerOptions);
      balancer.listen(port, host).then(
        () => done?.(),
        (error: Error) => balancer.emit('error', error),
      );
      return balancer;
    },
  };
}

function isServer(value: unknown): value is net.Server {
  return typeof value === 'object' && value !== null && typeof (value as net.Server).listen === 'function';
}

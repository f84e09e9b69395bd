import cluster from 'node:cluster';
import net from 'node:net';
import os from 'node:os';
import { serve } from '../child';
import { Balancer } from '../primary';

/** Options of sticky-session 1.x's `listen`. */
export interface V1Options {
  workers?: number;
  env?: Record<string, string | undefined>;
  host?: string;
  /** Return the Master instead of false in the primary. */
  returnInstance?: boolean;
}

/**
 * sticky-session 1.x's Master: the public net.Server of the primary. Its
 * workers start once it is bound with `listen()`.
 */
export class Master extends net.Server {
  readonly balancer: Balancer;

  constructor(workerCount: number = os.availableParallelism?.() ?? os.cpus().length, env?: Record<string, string | undefined>) {
    super({ pauseOnConnect: true });
    this.balancer = new Balancer({ workers: workerCount, env }, this);
  }
}

/**
 * sticky-session 1.x's entry: false in the primary (which binds `port` and
 * then emits 'listening' on `server`), true in a worker (whose `server` is fed
 * the connections routed to it).
 */
export function listen(server: net.Server, port: number, options: V1Options = {}): boolean | Master {
  if (cluster.isWorker) {
    serve(server);
    return true;
  }
  const master = new Master(options.workers, options.env);
  master.once('listening', () => server.emit('listening'));
  master.listen(port, options.host);
  // 1.x users read cluster.workers right after listen() returns.
  master.balancer.forkWorkers();
  return options.returnInstance ? master : false;
}

import cluster, { type Worker } from 'node:cluster';
import { isBalancerWorker } from './worker-pool';

let warned = false;

/**
 * A worker the application forked itself (the habit of
 * `cluster.on('exit', () => cluster.fork())`) tries to serve: no connection
 * goes to it, and the user is told so once, with what to do.
 */
export function warnForeignWorker(worker: Worker, workers: number): void {
  if (warned) return;
  warned = true;
  process.emitWarning(
    `worker ${worker.id} (pid ${worker.process.pid}) was forked by cluster.fork() outside the balancer, so no connection goes to it. ` +
      `The balancer forks its own ${workers} worker(s) and respawns each at its index when it dies: ` +
      "remove the cluster.fork() from cluster.on('exit') (or fork there only workers that do not serve).",
    { code: 'STICKY_NATIVE_FOREIGN_WORKER' },
  );
}

/**
 * Before the primary exits: stops the workers the application forked, so
 * that none is still starting once the primary is gone (its first message to
 * the primary would crash it with EPIPE).
 */
export function stopForeignWorkers(): void {
  for (const worker of Object.values(cluster.workers ?? {})) {
    if (worker && !isBalancerWorker(worker) && !worker.isDead()) worker.process.kill('SIGTERM');
  }
}

// Shorthands over src/pick.ts's routeWorker that only tests need.

import { routeWorker } from '../../src/pick';

/** The highest-scoring live worker for a client's hash; -1 when no worker is live. */
export function pick(hash: bigint, live: readonly boolean[]): number {
  return routeWorker(hash, live, null);
}

/** The worker a client belongs to when every worker is live: the highest score of all. */
export function ownWorker(hash: bigint, workers: number): number {
  return pick(hash, new Array<boolean>(workers).fill(true));
}

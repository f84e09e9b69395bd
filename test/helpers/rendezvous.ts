// Rendezvous hashing for tests: a reference for src/rendezvous.ts and native
// route_worker, written apart from both (BigInt arithmetic straight from the
// definition of the score, the workers ranked by sorting their scores instead
// of a running maximum), and shorthands over routeWorker that only tests need.

import { routeWorker } from '../../src/rendezvous';

const U32 = 0xffffffffn;

/** lowbias32((low XOR index * 0x9e3779b9) + high), every step mod 2^32. */
export function referenceScore(hash: bigint, index: number): bigint {
  const high = (hash >> 32n) & U32;
  const low = hash & U32;
  let x = ((low ^ ((BigInt(index) * 0x9e3779b9n) & U32)) + high) & U32;
  x ^= x >> 16n;
  x = (x * 0x7feb352dn) & U32;
  x ^= x >> 15n;
  x = (x * 0x846ca68bn) & U32;
  x ^= x >> 16n;
  return x;
}

/** Worker indices, highest score first. */
export function referenceRanking(hash: bigint, workers: number): number[] {
  const scores = Array.from({ length: workers }, (_, index) => referenceScore(hash, index));
  return scores.map((_, index) => index).sort((a, b) => (scores[b] > scores[a] ? 1 : scores[b] < scores[a] ? -1 : a - b));
}

/** The client's worker: its own if live; waits for an own worker still starting; else the best-ranked live one. */
export function referenceRoute(hash: bigint, live: readonly boolean[], starting: readonly boolean[]): number | 'wait' {
  const ranking = referenceRanking(hash, live.length);
  const own = ranking[0];
  if (!live[own] && starting[own]) return 'wait';
  return ranking.find((index) => live[index]) ?? 'wait';
}

/** The highest-scoring live worker for a client's hash; -1 when no worker is live. */
export function pick(hash: bigint, live: readonly boolean[]): number {
  return routeWorker(hash, live, null);
}

/** The worker a client belongs to when every worker is live: the highest score of all. */
export function ownWorker(hash: bigint, workers: number): number {
  return pick(hash, new Array<boolean>(workers).fill(true));
}

// Rendezvous (highest random weight) hashing: every worker gets a score from
// the client's hash and its index, and the client belongs to the worker with
// the highest score. A worker's score does not depend on the others, so when
// one is down only its clients move (each to its own second-highest, which
// spreads them evenly), and they come back when it is live again.
// native/rendezvous.cc `route_worker` is the C++ twin: same scores, same answers
// (test/vectors/rendezvous.json).

/** Odd, so index * INDEX_STEP differs for every index below 2^32. */
const INDEX_STEP = 0x9e3779b9;

/**
 * Worker `index`'s score for a client whose 64-bit hash has the halves
 * `high` and `low`: lowbias32((low XOR index * 0x9e3779b9) + high), mod 2^32.
 * The inputs differ for different indices and lowbias32 is a bijection, so a
 * client's scores never tie.
 */
export function workerScore(high: number, low: number, index: number): number {
  return mix32((low ^ Math.imul(index, INDEX_STEP)) + high);
}

/**
 * lowbias32 (Chris Wellons' integer hash prospector): a bijection on 32 bits
 * with full avalanche in 2 multiplies. The only mixer in TS; native/ has its
 * twin (`mix32`).
 */
function mix32(value: number): number {
  let x = value;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

const highHalf = (hash: bigint): number => Number(hash >> 32n);
const lowHalf = (hash: bigint): number => Number(BigInt.asUintN(32, hash));

/**
 * The highest-scoring live worker for a client's hash, with the starting
 * rule: a client whose own worker (its highest score of all) is down but still
 * starting for the first time waits for it (-1) rather than move and come
 * back a moment later. -1 also when no worker is live.
 */
export function routeWorker(hash: bigint, live: readonly boolean[], starting: readonly boolean[] | null): number {
  const high = highHalf(hash);
  const low = lowHalf(hash);
  let own = 0;
  let ownScore = -1;
  let best = -1;
  let bestScore = -1;
  for (let index = 0; index < live.length; index++) {
    const score = workerScore(high, low, index);
    if (score > ownScore) {
      own = index;
      ownScore = score;
    }
    if (live[index] && score > bestScore) {
      best = index;
      bestScore = score;
    }
  }
  return starting && !live[own] && starting[own] ? -1 : best;
}

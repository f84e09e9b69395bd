/** The worker a client belongs to when every worker is live. */
export function ownWorker(hash: bigint, workers: number): number {
  return Number(hash % BigInt(workers));
}

/**
 * Maps a client's 64-bit hash to a worker index. A client whose own worker
 * is live always gets it; while it is down the client goes to a live worker
 * chosen by the hash's other half, so only a dead worker's clients move, and
 * they come back when it is live again. Returns -1 when no worker is live.
 */
export function pick(hash: bigint, live: readonly boolean[]): number {
  const own = ownWorker(hash, live.length);
  if (live[own]) return own;
  let liveCount = 0;
  for (const isLive of live) if (isLive) liveCount++;
  if (liveCount === 0) return -1;
  let nth = Number((hash >> 32n) % BigInt(liveCount));
  for (let index = 0; index < live.length; index++) {
    if (live[index] && nth-- === 0) return index;
  }
  return -1;
}

import type { Worker } from 'node:cluster';
import { isStickyMessage } from '../messages';

/** How often workers report their load when the primary places handshakes by load. */
export const LOAD_REPORT_MS = 200;

const followed = new WeakSet<Worker>();

/**
 * Passes each load `worker` (now at `index`) reports to `onReport`; a worker
 * already followed is left as it is.
 */
export function followLoadReports(worker: Worker | null, index: number, onReport: (index: number, load: number) => void): void {
  if (!worker || followed.has(worker)) return;
  followed.add(worker);
  worker.on('message', (message: unknown) => {
    if (isStickyMessage(message) && message.sticky === 'load') onReport(index, message.load);
  });
}

/**
 * sidFallback 'least-loaded' on the IPC path (native/dispatcher.cc does the
 * same for the channel): a worker's load is what it last reported plus the
 * handshakes placed on it since, so a burst of handshakes between two
 * reports still spreads.
 */
export class LeastLoaded {
  private readonly reported: number[];
  private readonly placedSinceReport: number[];
  /** Where the search starts: after the last pick, so equals take turns. */
  private next = 0;

  constructor(workers: number) {
    this.reported = new Array<number>(workers).fill(0);
    this.placedSinceReport = new Array<number>(workers).fill(0);
  }

  report(index: number, load: number): void {
    this.reported[index] = load;
    this.placedSinceReport[index] = 0;
  }

  /** Places a handshake on the live worker with the least load; -1 when none is live. */
  pick(live: readonly boolean[]): number {
    let best = -1;
    let bestLoad = 0;
    for (let step = 0; step < live.length; step++) {
      const index = (this.next + step) % live.length;
      if (!live[index]) continue;
      const load = this.reported[index] + this.placedSinceReport[index];
      if (best < 0 || load < bestLoad) {
        best = index;
        bestLoad = load;
      }
    }
    if (best < 0) return -1;
    this.placedSinceReport[best]++;
    this.next = (best + 1) % live.length;
    return best;
  }
}

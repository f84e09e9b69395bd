import type { Worker } from 'node:cluster';
import { isStickyMessage } from '../messages';

/** How often workers report their open connections when the primary places handshakes by load. */
export const LOAD_REPORT_MS = 200;

const followed = new WeakSet<Worker>();

/**
 * Passes each open-connection count `worker` (now at `index`) reports to
 * `onReport`; a worker already followed is left as it is.
 */
export function followLoadReports(worker: Worker | null, index: number, onReport: (index: number, open: number) => void): void {
  if (!worker || followed.has(worker)) return;
  followed.add(worker);
  worker.on('message', (message: unknown) => {
    if (isStickyMessage(message) && message.sticky === 'load') onReport(index, message.open);
  });
}

/**
 * sidFallback 'least-loaded' on the IPC path (native/dispatcher.cc does the
 * same for the channel): a worker's load is the open connections it last
 * reported plus those handed to it since, so a burst of handshakes between
 * two reports still spreads.
 */
export class LeastLoaded {
  private readonly reported: number[];
  private readonly routedAtReport: number[];
  /** Where the search starts: after the last pick, so equals take turns. */
  private next = 0;

  /** `routed` is the transport's own count of connections handed to each worker, read live. */
  constructor(private readonly routed: readonly number[]) {
    this.reported = routed.map(() => 0);
    this.routedAtReport = routed.map(() => 0);
  }

  report(index: number, open: number): void {
    this.reported[index] = open;
    this.routedAtReport[index] = this.routed[index];
  }

  /** The live worker with the least load; -1 when none is live. */
  pick(live: readonly boolean[]): number {
    let best = -1;
    let bestLoad = 0;
    for (let step = 0; step < live.length; step++) {
      const index = (this.next + step) % live.length;
      if (!live[index]) continue;
      const load = this.reported[index] + this.routed[index] - this.routedAtReport[index];
      if (best < 0 || load < bestLoad) {
        best = index;
        bestLoad = load;
      }
    }
    if (best >= 0) this.next = (best + 1) % live.length;
    return best;
  }
}

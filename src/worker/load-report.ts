import type { StickyMessage } from '../messages';
import { liveSessions } from '../socketio';
import type { Connections } from './connections';

/**
 * Routing 'sid' placing handshakes by load: tells the primary this worker's
 * load every STICKY_LOAD_REPORT_MS. A handshake places a session, so the load
 * is the live sessions of the server stickySessionIds() named; without one,
 * the open connections (a polling session holds none between two polls, so
 * those would count it only now and then). Returns how to stop.
 */
export function reportLoad(connections: Connections): () => void {
  const interval = Number(process.env.STICKY_LOAD_REPORT_MS);
  if (!(interval > 0)) return () => {};
  const timer = setInterval(() => {
    const load = liveSessions() ?? connections.size;
    if (process.connected) process.send!({ sticky: 'load', load } satisfies StickyMessage);
  }, interval).unref();
  return () => clearInterval(timer);
}

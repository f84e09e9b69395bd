import type net from 'node:net';
import { tellPrimary } from './tell-primary';

/**
 * sticky-session 1.x: a worker whose application closes its server leaves.
 * `server.close()` tells the primary, which stops routing here, forks a
 * replacement at this index and then sends 'close'; this worker finishes its
 * connections and exits. `stopAccepting` runs at once (under kernel steering
 * the worker accepts by itself: it stops now, and its member's backlog waits
 * for the replacement). close()'s callback and 'close' come once the
 * connections are done, before the exit. Returns what to call then.
 */
export function leaveOnClose(server: net.Server, stopAccepting: () => void): () => void {
  let left = false;
  let closeEmitted = false;
  server.once('close', () => (closeEmitted = true));
  server.close = function close(this: net.Server, callback?: (error?: Error) => void) {
    if (typeof callback === 'function') this.once('close', () => callback());
    if (!left) {
      left = true;
      stopAccepting();
      tellPrimary({ sticky: 'leave' });
    }
    return this;
  };
  return () => {
    if (left && !closeEmitted) server.emit('close');
  };
}

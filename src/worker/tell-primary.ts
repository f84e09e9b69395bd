import type { StickyMessage } from '../messages';

/**
 * Sends to the primary while it is there. A write that fails because the
 * primary just exited goes to the callback, not to an 'error' event that
 * would crash this worker with EPIPE.
 */
export function tellPrimary(message: StickyMessage): void {
  if (process.connected) process.send!(message, undefined, undefined, () => {});
}

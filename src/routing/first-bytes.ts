import type net from 'node:net';
import { holdForHandOff } from '../stop-reading';

/** How a read of a connection's first bytes ended: decided, or the client went quiet or away. */
export type ReadEnd<T> =
  | { decided: T; head: Buffer }
  | { decided: null; head: Buffer | null; reason: 'closed-early' | 'head-timeout' };

/**
 * Without peeking, the primary reads a connection's first bytes itself until
 * `scan` decides (returns anything but null), then holds the socket for its
 * hand-off; the bytes read travel to the worker with it. `done` is called
 * once: with the decision and every byte read, or with why there is none (the
 * client closed or failed, or `timeoutMs` passed; null: no timeout). Returns a
 * cancel that stops reading without calling `done`.
 */
export function readUntilDecided<T>(
  socket: net.Socket,
  scan: (head: Buffer) => T | null,
  timeoutMs: number | null,
  done: (end: ReadEnd<T>) => void,
): () => void {
  let head: Buffer | null = null;
  const timer = timeoutMs === null ? null : setTimeout(() => finish({ decided: null, head, reason: 'head-timeout' }), timeoutMs);
  const stop = () => {
    if (timer) clearTimeout(timer);
    socket.off('data', onData).off('end', onGone).off('error', onGone);
    holdForHandOff(socket);
  };
  const finish = (end: ReadEnd<T>) => {
    stop();
    done(end);
  };
  const onData = (chunk: Buffer) => {
    head = head ? Buffer.concat([head, chunk]) : chunk;
    const decided = scan(head);
    if (decided !== null) finish({ decided, head });
  };
  const onGone = () => finish({ decided: null, head, reason: 'closed-early' });
  socket.on('data', onData).on('end', onGone).on('error', onGone);
  socket.resume();
  return stop;
}

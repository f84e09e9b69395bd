import type net from 'node:net';
import { PEEK_MODE } from '../peek-mode';
import { holdForHandOff, restartReading } from '../stop-reading';

/** How a read of a connection's first bytes ended: decided, or the client went quiet or away. */
export type ReadEnd<T> =
  | { decided: T; head: Buffer }
  | { decided: null; head: Buffer | null; reason: 'closed-early' | 'head-timeout' };

/**
 * Chunks a connection may send without a decision before its reads are
 * parked (never with STICKY_PEEK=whole), and how long each pause lasts: as
 * native/peeker.h parks the sockets it peeks at (kParkAfter, kRevisitMs).
 */
const PARK_AFTER_CHUNKS = PEEK_MODE === 'whole' ? Infinity : 8;
const PARKED_MS = 50;

/**
 * Without peeking, the primary reads a connection's first bytes itself until
 * `scan` decides (returns anything but null), then holds the socket for its
 * hand-off; the bytes read travel to the worker with it. `done` is called
 * once: with the decision and every byte read, or with why there is none (the
 * client closed or failed, or `timeoutMs` passed; null: no timeout). Returns a
 * cancel that stops reading without calling `done`.
 *
 * A client that sends its head in many small segments would cost a 'data'
 * event and a scan of everything so far per segment: after PARK_AFTER_CHUNKS
 * undecided chunks, each chunk is followed by PARKED_MS without reading, and
 * what arrives meanwhile comes as one chunk.
 */
export function readUntilDecided<T>(
  socket: net.Socket,
  scan: (head: Buffer) => T | null,
  timeoutMs: number | null,
  done: (end: ReadEnd<T>) => void,
): () => void {
  let head: Buffer | null = null;
  let chunks = 0;
  let parked: NodeJS.Timeout | null = null;
  const timer = timeoutMs === null ? null : setTimeout(() => finish({ decided: null, head, reason: 'head-timeout' }), timeoutMs);
  const stop = () => {
    if (timer) clearTimeout(timer);
    if (parked) clearTimeout(parked);
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
    if (decided !== null) return finish({ decided, head });
    if (++chunks < PARK_AFTER_CHUNKS) return;
    holdForHandOff(socket);
    parked = setTimeout(() => {
      parked = null;
      restartReading(socket);
    }, PARKED_MS);
  };
  const onGone = () => finish({ decided: null, head, reason: 'closed-early' });
  socket.on('data', onData).on('end', onGone).on('error', onGone);
  socket.resume();
  return stop;
}

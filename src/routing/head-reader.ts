import type net from 'node:net';
import type { PeekOutcome } from '../primitives';

/** Called once per read with the verdict on the request head. `head` holds bytes read out of the socket, if any. */
export type HeadCallback = (outcome: PeekOutcome, address: Buffer | null, head: Buffer | null) => void;

/** Looks at the start of a connection's request head: native peeking or the fallback's first-chunk read. */
export interface HeadReader {
  read(socket: net.Socket, done: HeadCallback): void;
  /** Stops a read whose callback has not come yet; it never will. */
  cancel(socket: net.Socket): void;
  close(): void;
}

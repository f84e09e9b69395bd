import type net from 'node:net';
import type { HeadPeeker, HeadPeekerClass, HeadRules } from '../primitives';
import type { HeadCallback, HeadReader } from './head-reader';

/**
 * The OS descriptor behind an accepted socket, or -1 once it is closed.
 * Node internal: `socket._handle.fd` (guarded by test/e2e/node-internals.test.ts).
 */
function socketFd(socket: net.Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: number } | null })._handle;
  return typeof handle?.fd === 'number' ? handle.fd : -1;
}

/**
 * Native reader: the addon peeks at the socket (MSG_PEEK) as bytes arrive and
 * reports once it knows. Nothing is consumed, so the worker's parser later reads
 * the untouched stream from the kernel; JS does nothing until the verdict.
 */
export class PeekingHeadReader implements HeadReader {
  private readonly waiting = new Map<number, HeadCallback>();
  private readonly peeker: HeadPeeker;

  constructor(Peeker: HeadPeekerClass, headerLower: string, limit: number, rules: HeadRules) {
    this.peeker = new Peeker(
      headerLower,
      limit,
      (fd, outcome, address) => {
        const done = this.waiting.get(fd);
        if (!done) return;
        this.waiting.delete(fd);
        done(outcome, address, null);
      },
      rules,
    );
  }

  read(socket: net.Socket, done: HeadCallback): void {
    const fd = socketFd(socket);
    if (fd < 0) return done('closed', null, null);
    try {
      this.peeker.watch(fd);
    } catch {
      return done('error', null, null);
    }
    this.waiting.set(fd, done);
  }

  cancel(socket: net.Socket): void {
    const fd = socketFd(socket);
    if (fd < 0 || !this.waiting.delete(fd)) return;
    this.peeker.unwatch(fd);
  }

  close(): void {
    this.peeker.close();
    this.waiting.clear();
  }
}

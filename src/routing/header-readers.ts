import type net from 'node:net';
import { primitives } from '../binding';
import type { HeadPeeker, HeadPeekerClass, HeadRules, PeekOutcome } from '../primitives';
import { PEEK_MODE } from '../peek-mode';
import { readUntilDecided } from './first-bytes';

/** Called once per read with the verdict on the request head. `head` holds bytes read out of the socket, if any. */
export type HeadCallback = (outcome: PeekOutcome, address: Buffer | null, head: Buffer | null) => void;

/** Looks at the start of a connection's request head: native peeking or the fallback's first-chunk read. */
export interface HeadReader {
  read(socket: net.Socket, done: HeadCallback): void;
  /** Stops a read whose callback has not come yet; it never will. */
  cancel(socket: net.Socket): void;
  close(): void;
}

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
      PEEK_MODE,
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

/**
 * Fallback reader for when the addon is missing: it cannot peek, so it reads
 * the first chunks in the primary and hands them to the worker with the socket,
 * which puts them back in front of the stream.
 */
export class FirstChunkHeadReader implements HeadReader {
  private readonly cancels = new WeakMap<net.Socket, () => void>();

  constructor(
    private readonly headerLower: string,
    private readonly limit: number,
    private readonly rules: HeadRules,
  ) {}

  read(socket: net.Socket, done: HeadCallback): void {
    const scan = (head: Buffer) => {
      const result = primitives.scanHead(head, this.headerLower, this.limit, this.rules);
      return result.status === 'need-more' ? null : result;
    };
    const cancel = readUntilDecided(socket, scan, null, (end) => {
      this.cancels.delete(socket);
      if (end.decided) done(end.decided.status as PeekOutcome, end.decided.address, end.head);
      else done('closed', null, end.head);
    });
    this.cancels.set(socket, cancel);
  }

  cancel(socket: net.Socket): void {
    this.cancels.get(socket)?.();
  }

  close(): void {}
}

import type net from 'node:net';
import { primitives } from '../binding';
import type { HeadRules, PeekOutcome } from '../primitives';
import type { HeadCallback, HeadReader } from './head-reader';
import { readUntilDecided } from './read-head';

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

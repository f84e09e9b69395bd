import type net from 'node:net';
import { primitives } from '../binding';
import type { HeadRules, PeekOutcome } from '../primitives';
import { holdForHandOff } from '../stop-reading';
import type { HeadCallback, HeadReader } from './head-reader';

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
    let head: Buffer | null = null;
    const finish = (outcome: PeekOutcome, address: Buffer | null) => {
      detach();
      holdForHandOff(socket);
      done(outcome, address, head);
    };
    const onData = (chunk: Buffer) => {
      head = head ? Buffer.concat([head, chunk]) : chunk;
      const scan = primitives.scanHead(head, this.headerLower, this.limit, this.rules);
      if (scan.status !== 'need-more') finish(scan.status, scan.address);
    };
    const onEnd = () => finish('closed', null);
    const onError = () => finish('error', null);
    const detach = () => {
      this.cancels.delete(socket);
      socket.off('data', onData).off('end', onEnd).off('error', onError);
    };
    this.cancels.set(socket, () => {
      detach();
      holdForHandOff(socket);
    });
    socket.on('data', onData).on('end', onEnd).on('error', onError);
    socket.resume();
  }

  cancel(socket: net.Socket): void {
    this.cancels.get(socket)?.();
  }

  close(): void {}
}

import type net from 'node:net';
import { primitives } from '../binding';
import type { BalancerConfig } from '../options';
import type { SidScan } from '../primitives';
import type { Decision, RoutingKey } from './types';
import { peerAddress } from './ip';
import { readUntilDecided } from './first-bytes';

/**
 * Routing 'sid' without the native channel: reads the first chunks of the
 * request in the primary until the request line shows whether it carries a
 * session id this balancer's workers minted (src/session-id.ts), and hands
 * the bytes read to the worker with the socket. A valid id names its worker;
 * anything else (a handshake, a forged or stale id, not HTTP) is placed as a
 * handshake, by the transport's sidFallback.
 */
export class SidRouting implements RoutingKey {
  /** Reads in progress, stopped by close() without an answer. */
  private readonly reads = new Set<() => void>();

  constructor(private readonly config: BalancerConfig) {
    if (!config.sidKey) throw new Error('sticky-native: routing sid needs its key');
  }

  decide(socket: net.Socket, done: (decision: Decision) => void): void {
    const { sidKey, workers, headLimit, headTimeout } = this.config;
    const scan = (head: Buffer) => {
      const result = primitives.scanSid(head, sidKey!, workers, headLimit);
      return result.status === 'need-more' ? null : result;
    };
    const stop = readUntilDecided(socket, scan, headTimeout, (end) => {
      this.reads.delete(stop);
      done(end.decided ? this.interpret(socket, end.decided, end.head) : { action: 'drop', reason: end.reason });
    });
    this.reads.add(stop);
  }

  close(): void {
    for (const stop of [...this.reads]) stop();
  }

  private interpret(socket: net.Socket, scan: SidScan, head: Buffer): Decision {
    const address = peerAddress(socket);
    if (!address) return { action: 'drop', reason: 'closed-early' };
    return { action: 'route-session', worker: scan.status === 'found' ? scan.worker : null, address, head };
  }
}

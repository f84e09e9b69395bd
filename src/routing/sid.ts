import type net from 'node:net';
import { primitives } from '../binding';
import type { BalancerConfig } from '../options';
import type { SidScan } from '../primitives';
import { holdForHandOff } from '../stop-reading';
import type { Decision, RoutingKey } from './index';
import { peerAddress } from './ip';

/**
 * Routing 'sid' without the native channel: reads the first chunks of the
 * request in the primary until the request line shows whether it carries a
 * session id this balancer's workers minted (src/session-id.ts), and hands
 * the bytes read to the worker with the socket. A valid id names its worker;
 * anything else (a handshake, a forged or stale id, not HTTP) is placed as a
 * handshake, by the transport's sidFallback.
 */
export class SidRouting implements RoutingKey {
  private readonly cancels = new Set<() => void>();

  constructor(private readonly config: BalancerConfig) {
    if (!config.sidKey) throw new Error('sticky-native: routing sid needs its key');
  }

  decide(socket: net.Socket, done: (decision: Decision) => void): void {
    const { sidKey, workers, headLimit, headTimeout } = this.config;
    let head: Buffer | null = null;
    const finish = (decision: Decision) => {
      detach();
      holdForHandOff(socket);
      done(decision);
    };
    const onData = (chunk: Buffer) => {
      head = head ? Buffer.concat([head, chunk]) : chunk;
      const scan = primitives.scanSid(head, sidKey!, workers, headLimit);
      if (scan.status !== 'need-more') finish(this.interpret(socket, scan, head));
    };
    const onEnd = () => finish({ action: 'drop', reason: 'closed-early' });
    const timer = setTimeout(() => finish({ action: 'drop', reason: 'head-timeout' }), headTimeout);
    const detach = () => {
      clearTimeout(timer);
      this.cancels.delete(cancel);
      socket.off('data', onData).off('end', onEnd).off('error', onEnd);
    };
    const cancel = () => {
      detach();
      holdForHandOff(socket);
    };
    this.cancels.add(cancel);
    socket.on('data', onData).on('end', onEnd).on('error', onEnd);
    socket.resume();
  }

  close(): void {
    for (const cancel of [...this.cancels]) cancel();
  }

  private interpret(socket: net.Socket, scan: SidScan, head: Buffer): Decision {
    const address = peerAddress(socket);
    if (!address) return { action: 'drop', reason: 'closed-early' };
    return { action: 'route-session', worker: scan.status === 'found' ? scan.worker : null, address, head };
  }
}

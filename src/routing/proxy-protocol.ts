import type net from 'node:net';
import { primitives } from '../binding';
import { cidrContains } from '../cidr';
import type { BalancerConfig } from '../options';
import type { ProxyScan } from '../primitives';
import { proxiedPeerOf, type ProxiedPeer } from '../proxied-peer';
import type { Decision, RoutingKey } from './types';
import { peerAddress } from './ip';
import { readUntilDecided } from './first-bytes';

/**
 * Routes by the client address in a PROXY protocol v1/v2 header sent by a
 * trusted proxy (options.trustedProxies). Without the peeking dispatcher the
 * primary reads the first chunks itself: the header's bytes are consumed, the
 * rest travels to the worker as `head`, and the worker's socket reports the
 * client from the header as its remote end.
 *
 * Trusted peer: found -> the header's source; local (health checks) and
 * no header at all -> the peer; malformed -> closed. Untrusted peer: anything
 * that could be a header -> closed, since it would let any client pick its
 * own address, decided at its signature (6 bytes for v1, 12 for v2) however
 * long the rest; the rest -> the peer.
 */
export class ProxyProtocolRouting implements RoutingKey {
  /** Reads in progress, stopped by close() without an answer. */
  private readonly reads = new Set<() => void>();

  constructor(private readonly config: BalancerConfig) {}

  decide(socket: net.Socket, done: (decision: Decision) => void): void {
    const peer = peerAddress(socket);
    if (!peer) return done({ action: 'drop', reason: 'closed-early' });
    const trusted = cidrContains(this.config.trusted, peer);
    const scan = (head: Buffer) => {
      if (!trusted && primitives.proxySignature(head) === 'need-more') return null;
      const result = primitives.scanProxyHeader(head);
      return trusted && result.status === 'need-more' ? null : result;
    };
    const stop = readUntilDecided(socket, scan, this.config.headTimeout, (end) => {
      this.reads.delete(stop);
      done(end.decided ? decideOn(end.decided, trusted, peer, end.head) : { action: 'drop', reason: end.reason });
    });
    this.reads.add(stop);
  }

  close(): void {
    for (const stop of [...this.reads]) stop();
  }
}

function decideOn(scan: ProxyScan, trusted: boolean, peer: Buffer, head: Buffer): Decision {
  if (scan.status === 'not-proxy') return { action: 'route', address: peer, head };
  if (!trusted) return { action: 'drop', reason: 'untrusted-proxy' };
  const rest = head.length > scan.headerLength ? head.subarray(scan.headerLength) : null;
  switch (scan.status) {
    case 'found':
      return { action: 'route', address: scan.source!, head: rest, peer: proxiedPeer(scan) };
    case 'local':
      return { action: 'route', address: peer, head: rest };
    default:
      return { action: 'drop', reason: 'malformed-proxy' };
  }
}

function proxiedPeer(scan: ProxyScan): ProxiedPeer {
  return proxiedPeerOf(scan.source!, scan.sourcePort, scan.family as 4 | 6);
}

import type net from 'node:net';
import { primitives } from '../binding';
import type { BalancerConfig } from '../options';
import type { PeekOutcome } from '../primitives';
import { rejection } from '../rejections';
import { FirstChunkHeadReader, PeekingHeadReader, type HeadReader } from './header-readers';
import type { Decision, RoutingKey } from './types';
import { cidrContains } from '../cidr';
import { peerAddress, routeByPeer } from './ip';

/**
 * Routes by the client address a proxy wrote into a request header
 * (X-Forwarded-For by default; of a list, the address config.headRules picks).
 * Bytes that are not HTTP (TLS, say) carry no header and go by peer address.
 */
export class HeaderRouting implements RoutingKey {
  private readonly reader: HeadReader;

  constructor(private readonly config: BalancerConfig) {
    const { headerLower, headLimit, headRules } = config;
    this.reader = primitives.HeadPeeker
      ? new PeekingHeadReader(primitives.HeadPeeker, headerLower, headLimit, headRules)
      : new FirstChunkHeadReader(headerLower, headLimit, headRules);
  }

  decide(socket: net.Socket, done: (decision: Decision) => void): void {
    // With the safe pick the peer is the rightmost hop: a client that reaches
    // the balancer itself, not through a trusted proxy, is the client, whatever
    // its header says.
    if (this.config.headRules.pick === 'rightmost-untrusted') {
      const peer = peerAddress(socket);
      if (!peer) return done({ action: 'drop', reason: 'closed-early' });
      if (!cidrContains(this.config.trusted, peer)) return done({ action: 'route', address: peer, head: null });
    }
    const timer = setTimeout(() => {
      this.reader.cancel(socket);
      done({ action: 'drop', reason: 'head-timeout' });
    }, this.config.headTimeout);
    this.reader.read(socket, (outcome, address, head) => {
      clearTimeout(timer);
      done(this.interpret(socket, outcome, address, head));
    });
  }

  close(): void {
    this.reader.close();
  }

  private interpret(socket: net.Socket, outcome: PeekOutcome, address: Buffer | null, head: Buffer | null): Decision {
    const { header, ignoreMissingHeader, headLimit } = this.config;
    switch (outcome) {
      case 'found':
        return { action: 'route', address: address!, head };
      case 'not-http':
        return withHead(routeByPeer(socket), head);
      case 'missing':
      case 'invalid':
        if (ignoreMissingHeader) return withHead(routeByPeer(socket), head);
        return { action: 'reject', ...rejection(outcome === 'missing' ? 'missing-header' : 'invalid-header', { header }) };
      case 'too-large':
        return { action: 'reject', ...rejection('head-too-large', { limit: headLimit }) };
      case 'closed':
      case 'error':
        return { action: 'drop', reason: 'closed-early' };
    }
  }
}

function withHead(decision: Decision, head: Buffer | null): Decision {
  return decision.action === 'route' ? { ...decision, head } : decision;
}

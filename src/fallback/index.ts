// The pure-TypeScript primitives: used when the addon is not built, or when
// STICKY_NATIVE=fallback. There is no HeadPeeker (the fallback reads the first
// chunk of a connection in the primary instead of peeking), and no kernel
// steering or native channel: connections travel over Node IPC.

import type { Primitives } from '../primitives';
import { parseAddress } from '../address';
import { scanHead } from './http-head';
import { proxySignature, scanProxyHeader } from './proxy-header';
import { scanSid } from './sid';
import { hash64 } from './siphash';

export const fallback: Primitives = {
  kind: 'fallback',
  hash64,
  parseAddress,
  scanHead,
  scanProxyHeader,
  proxySignature,
  scanSid,
  HeadPeeker: null,
  steering: null,
  Dispatcher: null,
  ChannelReceiver: null,
};

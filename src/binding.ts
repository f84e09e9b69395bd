// Chooses the primitives once, at load: the only module that loads
// src/fallback/ (test/unit/fallback-imports.test.ts checks). STICKY_NATIVE=fallback
// forces the pure-TS twins, STICKY_NATIVE=native requires the addon, and unset
// tries the addon and falls back silently (the reason stays in nativeLoadError).

import * as path from 'path';
import { fallback } from './fallback';
import type { ChannelReceiverClass, DispatcherClass, HeadPeekerClass, Primitives, Steering } from './primitives';

interface Addon {
  hash64: Primitives['hash64'];
  parseAddress: Primitives['parseAddress'];
  scanHead: Primitives['scanHead'];
  scanProxyHeader: Primitives['scanProxyHeader'];
  scanSid: Primitives['scanSid'];
  HeadPeeker?: HeadPeekerClass; // absent where the platform cannot peek (Windows)
  steering?: Steering; // Linux only
  Dispatcher?: DispatcherClass; // absent where the platform cannot peek (Windows)
  ChannelReceiver?: ChannelReceiverClass;
}

// binding.ts sits in src/ (tests) or dist/ (the package): the root is one up.
const packageRoot = path.join(__dirname, '..');

/** The addon in the Primitives shape; throws if it is not built for this platform. */
export function loadNative(): Primitives {
  let addon: Addon;
  try {
    const load = require('node-gyp-build') as (dir: string) => Addon;
    addon = load(packageRoot);
  } catch (cause) {
    throw new Error(
      'sticky-native: cannot load the native addon (build it with "npm run build:native", ' +
        `or set STICKY_NATIVE=fallback): ${(cause as Error).message}`,
      { cause },
    );
  }
  return {
    kind: 'native',
    hash64: addon.hash64,
    parseAddress: addon.parseAddress,
    scanHead: addon.scanHead,
    scanProxyHeader: addon.scanProxyHeader,
    scanSid: addon.scanSid,
    HeadPeeker: addon.HeadPeeker ?? null,
    steering: addon.steering ?? null,
    Dispatcher: addon.Dispatcher ?? null,
    ChannelReceiver: addon.ChannelReceiver ?? null,
  };
}

/** Why the addon is not in use when the choice fell back silently; otherwise null. */
export let nativeLoadError: Error | null = null;

function choose(mode: string | undefined): Primitives {
  switch (mode ?? '') {
    case 'fallback':
      return fallback;
    case 'native':
      return loadNative();
    case '':
      try {
        return loadNative();
      } catch (error) {
        nativeLoadError = error as Error;
        return fallback;
      }
    default:
      throw new Error(`sticky-native: STICKY_NATIVE must be "native", "fallback" or unset, not "${mode}"`);
  }
}

export const primitives: Primitives = choose(process.env.STICKY_NATIVE);

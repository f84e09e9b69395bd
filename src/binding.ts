// Chooses the primitives once, at load: the only module that loads
// src/fallback/ (test/unit/fallback-imports.test.ts checks). STICKY_NATIVE=fallback
// forces the pure-TS twins, STICKY_NATIVE=native requires the addon, and unset
// tries the addon and falls back: the reason stays in nativeLoadError, and the
// primary prints it once (warnIfFallback).

import * as fs from 'fs';
import * as path from 'path';
import { fallback } from './fallback';
import type { ChannelReceiverClass, DispatcherClass, HeadPeekerClass, Primitives, Steering } from './primitives';

interface Addon {
  hash64: Primitives['hash64'];
  parseAddress: Primitives['parseAddress'];
  scanHead: Primitives['scanHead'];
  scanProxyHeader: Primitives['scanProxyHeader'];
  proxySignature: Primitives['proxySignature'];
  scanSid: Primitives['scanSid'];
  HeadPeeker?: HeadPeekerClass; // absent where the platform cannot peek (Windows)
  steering?: Steering; // Linux only
  Dispatcher?: DispatcherClass; // Linux only
  ChannelReceiver?: ChannelReceiverClass; // Linux only
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
    throw loadFailure(cause);
  }
  return {
    kind: 'native',
    hash64: addon.hash64,
    parseAddress: addon.parseAddress,
    scanHead: addon.scanHead,
    scanProxyHeader: addon.scanProxyHeader,
    proxySignature: addon.proxySignature,
    scanSid: addon.scanSid,
    HeadPeeker: addon.HeadPeeker ?? null,
    steering: addon.steering ?? null,
    Dispatcher: addon.Dispatcher ?? null,
    ChannelReceiver: addon.ChannelReceiver ?? null,
  };
}

/** The reason, what runs instead, and the fix: a user's project has no build script of ours to run. */
function loadFailure(cause: unknown): Error {
  const platform = `${process.platform}-${process.arch}`;
  let shipped: string[] = [];
  try {
    shipped = fs.readdirSync(path.join(packageRoot, 'prebuilds'));
  } catch {}
  return new Error(
    `sticky-native: the native addon cannot load on ${platform}: ${(cause as Error).message}\n` +
      'Without it, routing runs on the pure-TypeScript fallback over Node IPC (same routing, several times slower).\n' +
      'Fix: install a C++ compiler and Python (node-gyp) and run `npm rebuild sticky-native`, or install on a platform ' +
      `with a matching prebuild (this copy has: ${shipped.join(', ') || 'none'}); ` +
      'STICKY_NATIVE=fallback chooses the fallback without this message.',
    { cause },
  );
}

/** Why the addon is not in use when the choice fell back; otherwise null. */
export let nativeLoadError: Error | null = null;

let warned = false;

/** The primary's one notice, at its first balancer, that the addon did not load (STICKY_NATIVE unset). */
export function warnIfFallback(): void {
  if (nativeLoadError === null || warned) return;
  warned = true;
  process.emitWarning(nativeLoadError.message, { code: 'STICKY_NATIVE_FALLBACK' });
}

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

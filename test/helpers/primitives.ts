// Shared by the tests that check native code against its TypeScript twin.
import { loadNative } from '../../src/binding';
import type { Primitives } from '../../src/primitives';

/** The addon, or null where it is not built (the fallback project still runs the TS half). */
export function tryLoadNative(): Primitives | null {
  try {
    return loadNative();
  } catch {
    return null;
  }
}

/** mulberry32: a seeded PRNG, so every run sees the same "random" input. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

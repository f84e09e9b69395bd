// The session ids sticky-native mints for Engine.IO (docs/internals.md
// "Session ids"): 24 base64url characters holding
//   worker index (2 bytes, big-endian) | random (10) | tag (6)
// with tag = the first 6 bytes of SipHash-2-4(key, index | random), output
// little-endian. The key is drawn by the primary and given to its workers
// only, so a client cannot make up an id that picks a worker.
// native/sid.h and src/fallback/sid.ts read them back.

import { randomBytes } from 'node:crypto';
import { primitives } from './binding';
import { SID_INDEX_BYTES, SID_RANDOM_BYTES, SID_TAG_BYTES } from './sid-layout';

/** Worker indexes an id can carry. */
export const SID_MAX_WORKERS = 1 << (8 * SID_INDEX_BYTES);

/** The 6-byte tag of `signed` (index | random) under the 16-byte `key`. */
export function sessionTag(key: Buffer, signed: Buffer, hash64 = primitives.hash64): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(hash64(key, signed));
  return out.subarray(0, SID_TAG_BYTES);
}

/** A session id for worker `index`; `random` (10 bytes) comes from crypto unless given (tests). */
export function mintSessionId(index: number, key: Buffer, random: Buffer = randomBytes(SID_RANDOM_BYTES)): string {
  if (!Number.isInteger(index) || index < 0 || index >= SID_MAX_WORKERS) {
    throw new RangeError(`sticky-native: a session id carries a worker index from 0 to ${SID_MAX_WORKERS - 1}, got ${index}`);
  }
  if (key.length !== 16 || random.length !== SID_RANDOM_BYTES) {
    throw new RangeError(`sticky-native: a session id needs a 16-byte key and ${SID_RANDOM_BYTES} random bytes`);
  }
  const signed = Buffer.alloc(SID_INDEX_BYTES + SID_RANDOM_BYTES);
  signed.writeUInt16BE(index, 0);
  random.copy(signed, SID_INDEX_BYTES);
  return Buffer.concat([signed, sessionTag(key, signed)]).toString('base64url');
}

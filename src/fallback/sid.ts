// The TypeScript twin of native/sid.cc: finds the Engine.IO session id in an
// HTTP request line and the worker it names. Same contract as scan_sid in
// native/sid.h; both are checked against test/vectors/sid.json.

import type { SidScan } from '../primitives';
import { SID_INDEX_BYTES, SID_RANDOM_BYTES, SID_TAG_BYTES, SID_TEXT_LENGTH } from '../sid-layout';
import { hash64 } from './siphash';

const MAX_METHOD_LENGTH = 20;
const SPACE = 0x20;
const QUESTION = 0x3f;
const AMPERSAND = 0x26;
const HASH = 0x23;
const EQUALS = 0x3d;

const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN[c.charCodeAt(0)] = 1;

// base64url digit values; 0xff outside the alphabet.
const BASE64URL = new Uint8Array(256).fill(0xff);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  .split('')
  .forEach((c, i) => (BASE64URL[c.charCodeAt(0)] = i));

const SID_NAME = Buffer.from('sid');

/** The worker an id names, or -1 if `text` is not exactly an id under `key` with an index below `workers`. */
export function verifySid(text: Buffer, key: Buffer, workers: number): number {
  if (text.length !== SID_TEXT_LENGTH) return -1;
  const bytes = Buffer.alloc((SID_TEXT_LENGTH / 4) * 3);
  for (let group = 0; group < SID_TEXT_LENGTH / 4; group++) {
    let bits = 0;
    for (let k = 0; k < 4; k++) {
      const digit = BASE64URL[text[group * 4 + k]];
      if (digit === 0xff) return -1;
      bits = (bits << 6) | digit;
    }
    bytes[group * 3] = bits >>> 16;
    bytes[group * 3 + 1] = (bits >>> 8) & 0xff;
    bytes[group * 3 + 2] = bits & 0xff;
  }
  const index = bytes.readUInt16BE(0);
  if (index >= workers) return -1;
  const signedLength = SID_INDEX_BYTES + SID_RANDOM_BYTES;
  let tag = hash64(key, bytes.subarray(0, signedLength));
  let difference = 0;
  for (let i = 0; i < SID_TAG_BYTES; i++, tag >>= 8n) difference |= Number(tag & 0xffn) ^ bytes[signedLength + i];
  return difference === 0 ? index : -1;
}

/** scan_sid of native/sid.h: the request line's first `sid=` query parameter, verified. */
export function scanSid(head: Buffer, key: Buffer, workers: number, limit: number): SidScan {
  const end = Math.min(head.length, limit);
  const undecided: SidScan = { status: end >= limit ? 'too-large' : 'need-more', worker: -1 };
  const none: SidScan = { status: 'none', worker: -1 };
  const notHttp: SidScan = { status: 'not-http', worker: -1 };

  let at = 0;
  while (at < end && head[at] !== SPACE) {
    if (!TOKEN[head[at]] || at === MAX_METHOD_LENGTH) return notHttp;
    at++;
  }
  if (at === end) return undecided;
  if (at === 0) return notHttp;
  const target = ++at;

  let inQuery = false;
  let parameter = 0;
  let value = 0;
  for (; at < end; at++) {
    const c = head[at];
    const targetEnds = c === SPACE;
    if (!targetEnds && (c < 0x20 || c === 0x7f)) return notHttp;
    if (targetEnds && at === target) return notHttp;
    if (value !== 0 && (targetEnds || c === AMPERSAND || c === HASH)) {
      const worker = verifySid(head.subarray(value, at), key, workers);
      return worker < 0 ? none : { status: 'found', worker };
    }
    // The fragment ends the query (and comes after it, if there is one).
    if (targetEnds || c === HASH) return none;
    if (!inQuery) {
      if (c === QUESTION) {
        inQuery = true;
        parameter = at + 1;
      }
    } else if (c === AMPERSAND) {
      parameter = at + 1;
    } else if (c === EQUALS && at - parameter === 3 && head.compare(SID_NAME, 0, 3, parameter, at) === 0) {
      value = at + 1;
    }
  }
  return undecided;
}

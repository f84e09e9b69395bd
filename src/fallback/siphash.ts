// SipHash-2-4, the twin of native/siphash.cc. JavaScript has no fast 64-bit
// integers, so each 64-bit word is a pair of uint32 halves held in a small
// Uint32Array; only the result becomes a bigint.

// v0..v3 as [hi, lo] pairs: state[0]=v0.hi, state[1]=v0.lo, ... state[7]=v3.lo.
const state = new Uint32Array(8);
const V0 = 0;
const V1 = 2;
const V2 = 4;
const V3 = 6;

// a += b (mod 2^64)
function add(a: number, b: number): void {
  const lo = (state[a + 1] + state[b + 1]) >>> 0;
  const carry = lo < state[a + 1] ? 1 : 0;
  state[a] = state[a] + state[b] + carry;
  state[a + 1] = lo;
}

// a ^= b
function xor(a: number, b: number): void {
  state[a] ^= state[b];
  state[a + 1] ^= state[b + 1];
}

// Rotate left by 0 < bits < 32 (SipHash only uses 13, 16, 17, 21 and 32).
function rotl(a: number, bits: number): void {
  const hi = state[a];
  const lo = state[a + 1];
  state[a] = (hi << bits) | (lo >>> (32 - bits));
  state[a + 1] = (lo << bits) | (hi >>> (32 - bits));
}

// Rotating by 32 swaps the halves.
function swapHalves(a: number): void {
  const t = state[a];
  state[a] = state[a + 1];
  state[a + 1] = t;
}

function sipRound(): void {
  add(V0, V1); rotl(V1, 13); xor(V1, V0); swapHalves(V0);
  add(V2, V3); rotl(V3, 16); xor(V3, V2);
  add(V0, V3); rotl(V3, 21); xor(V3, V0);
  add(V2, V1); rotl(V1, 17); xor(V1, V2); swapHalves(V2);
}

function compress(hi: number, lo: number): void {
  state[V3] ^= hi;
  state[V3 + 1] ^= lo;
  sipRound();
  sipRound();
  state[V0] ^= hi;
  state[V0 + 1] ^= lo;
}

function readLe32(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

/** SipHash-2-4 of `data` under the 16-byte `key`, as an unsigned 64-bit bigint. */
export function hash64(key: Buffer, data: Buffer): bigint {
  const k0lo = readLe32(key, 0);
  const k0hi = readLe32(key, 4);
  const k1lo = readLe32(key, 8);
  const k1hi = readLe32(key, 12);
  // The constants spell "somepseudorandomlygeneratedbytes".
  state[0] = k0hi ^ 0x736f6d65; state[1] = k0lo ^ 0x70736575;
  state[2] = k1hi ^ 0x646f7261; state[3] = k1lo ^ 0x6e646f6d;
  state[4] = k0hi ^ 0x6c796765; state[5] = k0lo ^ 0x6e657261;
  state[6] = k1hi ^ 0x74656462; state[7] = k1lo ^ 0x79746573;

  const len = data.length;
  const whole = len - (len % 8);
  for (let i = 0; i < whole; i += 8) compress(readLe32(data, i + 4), readLe32(data, i));

  // The last word holds the 0..7 trailing bytes and, in its top byte, len mod 256.
  let lastLo = 0;
  let lastHi = (len & 0xff) << 24;
  for (let i = whole; i < len; i++) {
    const shift = 8 * (i - whole);
    if (shift < 32) lastLo |= data[i] << shift;
    else lastHi |= data[i] << (shift - 32);
  }
  compress(lastHi >>> 0, lastLo >>> 0);

  state[V2 + 1] ^= 0xff;
  for (let r = 0; r < 4; r++) sipRound();
  const hi = (state[0] ^ state[2] ^ state[4] ^ state[6]) >>> 0;
  const lo = (state[1] ^ state[3] ^ state[5] ^ state[7]) >>> 0;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

// Address ranges in CIDR notation, the twin of native/cidr.cc: "10.0.0.0/8",
// "::1/128", or a bare address for one host. IPv4 ranges are kept IPv4-mapped
// (::ffff:0:0/96 + prefix), so they match the IPv4 clients in the canonical
// 16-byte form. Shared vectors: test/vectors/cidr.json.

import { parseAddressBytes } from './address';

export interface CidrRange {
  /** 16 bytes, host bits zero. */
  prefix: Buffer;
  /** 0..128 over the 16-byte form (an IPv4 /8 is 104). */
  bits: number;
}

export interface CidrSet {
  ranges: CidrRange[];
}

const COLON = 0x3a;
const SLASH = 0x2f;

/** One entry as native/cidr.cc reads it, or null. */
export function parseCidr(text: string): CidrRange | null {
  const b = Buffer.from(text, 'utf8');
  const slash = b.indexOf(SLASH);
  const addressEnd = slash === -1 ? b.length : slash;
  // A range has no port: "a.b.c.d:port" and "[v6]:port" are addresses, not
  // ranges. Every IPv6 text has at least two colons, so one colon is a port.
  let colons = 0;
  for (let i = 0; i < addressEnd; i++) {
    if (b[i] === 0x5b) return null;
    if (b[i] === COLON) colons++;
  }
  if (colons === 1 || addressEnd === 0) return null;
  const ipv4 = colons === 0;
  const prefix = Buffer.alloc(16);
  if (!parseAddressBytes(b, 0, addressEnd, prefix)) return null;

  const familyBits = ipv4 ? 32 : 128;
  let bits = familyBits;
  if (slash !== -1) {
    const digits = b.subarray(slash + 1);
    if (digits.length === 0 || digits.length > 3 || (digits.length > 1 && digits[0] === 0x30)) return null;
    bits = 0;
    for (const c of digits) {
      if (c < 0x30 || c > 0x39) return null;
      bits = bits * 10 + (c - 0x30);
    }
    if (bits > familyBits) return null;
  }
  const total = ipv4 ? 96 + bits : bits;
  for (let i = 0; i < 16; i++) {
    const firstBit = i * 8;
    if (firstBit >= total) prefix[i] = 0;
    else if (total - firstBit < 8) prefix[i] &= 0xff << (8 - (total - firstBit));
  }
  return { prefix, bits: total };
}

/** Throws a RangeError naming the first entry that is not a range. */
export function parseCidrList(list: readonly string[]): CidrSet {
  if (!Array.isArray(list)) throw new TypeError('sticky-native: trustedProxies must be an array of strings');
  const ranges: CidrRange[] = [];
  for (const entry of list) {
    const range = typeof entry === 'string' ? parseCidr(entry) : null;
    if (!range) {
      throw new RangeError(
        `sticky-native: trustedProxies entry ${JSON.stringify(entry)} is not an address or CIDR range ` +
          "(e.g. '10.0.0.0/8', '192.168.1.7', '::1/128', 'fd00::/8')",
      );
    }
    ranges.push(range);
  }
  return { ranges };
}

export function cidrContains(set: CidrSet, address: Uint8Array): boolean {
  for (const { prefix, bits } of set.ranges) {
    const whole = bits >> 3;
    let i = 0;
    while (i < whole && prefix[i] === address[i]) i++;
    if (i < whole) continue;
    const rest = bits & 7;
    if (rest === 0 || (address[whole] & (0xff << (8 - rest)) & 0xff) === prefix[whole]) return true;
  }
  return false;
}

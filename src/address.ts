// Text -> canonical 16-byte client address, the twin of native/address.cc
// (docs/internals.md "Canonical address"). Both read bytes: a string is taken
// as UTF-8, so any non-ASCII character fails in both the same way.

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

const COLON = 0x3a;
const DOT = 0x2e;

// Four '.'-separated parts of 1..3 decimal digits, each 0..255, written to
// out[at..at+3]. Returns the position after the last part, or -1.
function parseIpv4(b: Uint8Array, p: number, end: number, out: Uint8Array, at: number): number {
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (p === end || b[p] !== DOT) return -1;
      p++;
    }
    let value = 0;
    let digits = 0;
    while (p !== end && isDigit(b[p])) {
      if (++digits > 3) return -1;
      value = value * 10 + (b[p] - 0x30);
      p++;
    }
    if (digits === 0 || value > 255) return -1;
    out[at + part] = value;
  }
  return p;
}

// ":" followed by 1..5 decimal digits worth at most 65535, then the end.
function isPortSuffix(b: Uint8Array, p: number, end: number): boolean {
  if (p === end || b[p] !== COLON) return false;
  p++;
  if (p === end || end - p > 5) return false;
  let value = 0;
  for (; p !== end; p++) {
    if (!isDigit(b[p])) return false;
    value = value * 10 + (b[p] - 0x30);
  }
  return value <= 65535;
}

// RFC 4291 section 2.2 text forms; the whole of [p, end) must be the address.
function parseIpv6(b: Uint8Array, p: number, end: number, out: Uint8Array): boolean {
  const groups: number[] = [];
  let gap = -1; // how many groups precede "::", if it appeared

  if (p === end) return false;
  if (b[p] === COLON) {
    if (end - p < 2 || b[p + 1] !== COLON) return false;
    gap = 0;
    p += 2;
  }
  while (p !== end) {
    const piece = p;
    let value = 0;
    let digits = 0;
    for (; p !== end && hexValue(b[p]) >= 0; p++) {
      if (++digits > 4) return false;
      value = value * 16 + hexValue(b[p]);
    }
    if (digits === 0) return false;
    if (p !== end && b[p] === DOT) {
      // An IPv4 tail ends the address and fills the last two groups.
      const v4 = new Uint8Array(4);
      if (groups.length > 6 || parseIpv4(b, piece, end, v4, 0) !== end) return false;
      groups.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      break;
    }
    if (groups.length === 8) return false;
    groups.push(value);
    if (p === end) break;
    if (b[p] !== COLON) return false;
    p++;
    if (p !== end && b[p] === COLON) {
      if (gap >= 0) return false;
      gap = groups.length;
      p++;
    } else if (p === end) {
      return false; // a single trailing ':'
    }
  }
  const count = groups.length;
  // "::" stands for one or more zero groups; without it all eight are written.
  if (gap < 0 ? count !== 8 : count > 7) return false;

  out.fill(0);
  const head = gap < 0 ? count : gap;
  for (let i = 0; i < count; i++) {
    const slot = i < head ? i : 8 - count + i;
    out[2 * slot] = groups[i] >>> 8;
    out[2 * slot + 1] = groups[i] & 0xff;
  }
  return true;
}

/**
 * Parses b[start..end) into `out` (16 bytes). Shared with the header scanner,
 * which finds the address inside a larger buffer.
 */
export function parseAddressBytes(b: Uint8Array, start: number, end: number, out: Uint8Array): boolean {
  if (end > start && b[start] === 0x5b /* [ */) {
    let close = start + 1;
    while (close !== end && b[close] !== 0x5d /* ] */) close++;
    if (close === end || !parseIpv6(b, start + 1, close, out)) return false;
    return close + 1 === end || isPortSuffix(b, close + 1, end);
  }
  const afterV4 = parseIpv4(b, start, end, out, 12);
  if (afterV4 >= 0 && (afterV4 === end || isPortSuffix(b, afterV4, end))) {
    out.fill(0, 0, 10);
    out[10] = 0xff;
    out[11] = 0xff;
    return true;
  }
  return parseIpv6(b, start, end, out);
}

/** The canonical 16-byte address (IPv4 as ::ffff:a.b.c.d), or null. */
export function parseAddress(text: string): Buffer | null {
  const bytes = Buffer.from(text, 'utf8');
  const out = Buffer.alloc(16);
  return parseAddressBytes(bytes, 0, bytes.length, out) ? out : null;
}

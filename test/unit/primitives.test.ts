// The primitives, native and fallback, against the shared vectors, against
// each other on every prefix and on random input, and the spread of the hash
// over workers. Both implementations are checked in either project; the
// native project also insists that the addon loads.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fallback } from '../../src/fallback';
import { workerScore } from '../../src/rendezvous';
import { ownWorker } from '../helpers/rendezvous';
import type { AddressPick, HeaderFormat, HeadRules, HeadScan, Primitives } from '../../src/primitives';
import { prng, tryLoadNative } from '../helpers/primitives';

const vectorsDir = path.join(__dirname, '..', 'vectors');
const readVectors = (file: string) => JSON.parse(readFileSync(path.join(vectorsDir, file), 'utf8'));

interface SipVector { name: string; key: string; message: string; hash: string }
interface AddressVector { name: string; input: string; expected: string | null }
interface HeadVector {
  name: string;
  text?: string;
  hex?: string;
  header?: string;
  limit?: number;
  format?: HeaderFormat;
  pick?: AddressPick;
  trusted?: string[];
  status: string;
  address: string | null;
}

const sipVectors: SipVector[] = readVectors('siphash.json').vectors;
const addressVectors: AddressVector[] = readVectors('address.json').vectors;
const headFile = readVectors('http-head.json');
const headVectors: HeadVector[] = headFile.vectors;
const headDefaults: { header: string; limit: number; format: HeaderFormat; pick: AddressPick; trusted: string[] } =
  headFile.defaults;

const headBytes = (v: HeadVector): Buffer =>
  v.hex !== undefined ? Buffer.from(v.hex, 'hex') : Buffer.from(v.text ?? '', 'latin1');
const headerOf = (v: HeadVector) => v.header ?? headDefaults.header;
const limitOf = (v: HeadVector) => v.limit ?? headDefaults.limit;
// One rules object per vector, as a reader keeps one for all its connections.
const vectorRules = new Map<HeadVector, HeadRules>();
const rulesOf = (v: HeadVector): HeadRules => {
  let rules = vectorRules.get(v);
  if (!rules) {
    rules = { format: v.format ?? headDefaults.format, pick: v.pick ?? headDefaults.pick, trusted: v.trusted ?? headDefaults.trusted };
    vectorRules.set(v, rules);
  }
  return rules;
};

const native = tryLoadNative();
const implementations: Primitives[] = native ? [native, fallback] : [fallback];
// The implementation this project is about: the one the spread is measured with.
const primary = process.env.STICKY_NATIVE === 'fallback' || !native ? fallback : native;


// An integer in 0..n-1.
function int(random: () => number, n: number): number {
  return Math.floor(random() * n);
}

const hex = (b: Buffer | null) => (b === null ? null : b.toString('hex'));
const plain = (scan: HeadScan) => ({ status: scan.status, address: hex(scan.address) });

it.runIf(process.env.STICKY_NATIVE === 'native')('the native addon loads', () => {
  expect(native?.kind).toBe('native');
});

describe.each(implementations.map((impl) => [impl.kind, impl] as const))('%s', (_kind, impl) => {
  it.each(sipVectors)('hash64 $name', (v) => {
    const hash = impl.hash64(Buffer.from(v.key, 'hex'), Buffer.from(v.message, 'hex'));
    expect(hash.toString(16).padStart(16, '0')).toBe(v.hash);
  });

  it.each(addressVectors)('parseAddress: $name', (v) => {
    expect(hex(impl.parseAddress(v.input))).toBe(v.expected);
  });

  it.each(headVectors)('scanHead: $name', (v) => {
    const scan = impl.scanHead(headBytes(v), headerOf(v), limitOf(v), rulesOf(v));
    expect(plain(scan)).toEqual({ status: v.status, address: v.address });
  });

  it('scanHead: once decided, more bytes never change the answer', () => {
    const pending = new Set(['need-more', 'too-large']);
    for (const v of headVectors) {
      const bytes = headBytes(v);
      let decided: ReturnType<typeof plain> | null = null;
      for (let cut = 0; cut <= bytes.length; cut++) {
        const scan = plain(impl.scanHead(bytes.subarray(0, cut), headerOf(v), limitOf(v), rulesOf(v)));
        if (decided) expect(scan, `${v.name} cut at ${cut}`).toEqual(decided);
        else if (!pending.has(scan.status)) decided = scan;
      }
    }
  });
});

describe.runIf(native !== null)('native and fallback agree', () => {
  const nat = native as Primitives;

  it('on every prefix of every http-head vector', () => {
    for (const v of headVectors) {
      const bytes = headBytes(v);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const prefix = bytes.subarray(0, cut);
        expect(plain(nat.scanHead(prefix, headerOf(v), limitOf(v), rulesOf(v))), `${v.name} cut at ${cut}`).toEqual(
          plain(fallback.scanHead(prefix, headerOf(v), limitOf(v), rulesOf(v))),
        );
      }
    }
  });

  // Pieces that reach deep into the scanner's states when strung together.
  const headPieces = [
    'GET', 'get', 'PRI', ' ', '  ', '/', '*', 'HTTP/1.1', 'HTTP/2', 'http/1.0', '\r\n', '\n', '\r', '\t',
    ':', ': ', ',', ', ', 'Host', 'X-Forwarded-For', 'x-forwarded-for', 'X-Forwarded-For-Foo', '1.2.3.4',
    '::1', '[::1]:80', '2001:db8::1', 'unknown', '256.1.1.1', '\x00', '\x16\x03\x01', '\x7f', '\xff',
  ];
  const addressAlphabet = '0123456789abcdefABCDEF:.[]% x';

  it('on random buffers, random piece strings and mutated heads', () => {
    const random = prng(0x5eed);
    const compare = (buf: Buffer, limit: number) => {
      const header = random() < 0.9 ? 'x-forwarded-for' : 'host';
      expect(plain(nat.scanHead(buf, header, limit)), buf.toString('hex')).toEqual(
        plain(fallback.scanHead(buf, header, limit)),
      );
    };
    for (let n = 0; n < 3000; n++) {
      const bytes = Buffer.alloc(int(random, 64));
      for (let i = 0; i < bytes.length; i++) bytes[i] = int(random, 256);
      compare(bytes, int(random, 80));
    }
    for (let n = 0; n < 3000; n++) {
      let text = '';
      for (let parts = 2 + int(random, 16); parts > 0; parts--) text += headPieces[int(random, headPieces.length)];
      compare(Buffer.from(text, 'latin1'), 8192);
    }
    for (let n = 0; n < 3000; n++) {
      const bytes = Buffer.from(headBytes(headVectors[int(random, headVectors.length)]));
      for (let edits = 1 + int(random, 3); edits > 0 && bytes.length > 0; edits--) {
        bytes[int(random, bytes.length)] = int(random, 256);
      }
      compare(bytes.subarray(0, int(random, bytes.length + 1)), 8192);
    }
  });

  // Pieces of forwarded headers, for the list and Forwarded formats under both picks:
  // header names, and what their values are made of (a few bytes that break a line too).
  const headerNames = ['X-Forwarded-For', 'x-forwarded-for', 'Forwarded', 'FORWARDED', 'X-Real-IP', 'Host', 'X-Pad'];
  const valuePieces = [
    ' ', '\t', ',', ', ', ';', '=', '"', '\\', 'for=', 'For=', 'for=', 'by=', 'proto=https', 'host="a,b"',
    '127.0.0.1', '127.0.0.2', '::1', '[::1]:80', '"[::1]"', '10.1.2.3', '198.51.100.7', '6.6.6.6', '2001:db8::1',
    '"[2001:db8::1]:4711"', '"192.0.2.43:47011"', '::ffff:127.0.0.1', 'unknown', '_hidden', '"_gazonk"', 'junk',
  ];
  const rareBytes = ['\r', '\n', '\x00', '\xff', ':'];
  const trustLists: HeadRules['trusted'][] = [undefined, [], ['127.0.0.0/8', '::1'], ['10.0.0.0/8', '2001:db8::/32'], ['0.0.0.0/0', '::/0']];
  const ruleSets: HeadRules[] = [];
  for (const format of ['list', 'forwarded'] as const) {
    for (const pick of ['leftmost', 'rightmost-untrusted'] as const) {
      for (const trusted of trustLists) ruleSets.push({ format, pick, trusted });
    }
  }

  it('under every header format, pick and trust list: random piece strings and mutated forwarded vectors', () => {
    const random = prng(0xf0f0);
    const counts = new Map<string, number>();
    const compare = (buf: Buffer, limit: number, rules: HeadRules, header = ['x-forwarded-for', 'forwarded', 'x-real-ip'][int(random, 3)]) => {
      const scan = plain(nat.scanHead(buf, header, limit, rules));
      expect(scan, `${JSON.stringify(rules)} ${header} ${buf.toString('hex')}`).toEqual(
        plain(fallback.scanHead(buf, header, limit, rules)),
      );
      counts.set(scan.status, (counts.get(scan.status) ?? 0) + 1);
    };
    for (let n = 0; n < 10000; n++) {
      let text = 'GET / HTTP/1.1\r\n';
      for (let lines = int(random, 5); lines > 0; lines--) {
        text += headerNames[int(random, headerNames.length)] + ':';
        for (let parts = int(random, 10); parts > 0; parts--) {
          text += random() < 0.02 ? rareBytes[int(random, rareBytes.length)] : valuePieces[int(random, valuePieces.length)];
        }
        text += random() < 0.9 ? '\r\n' : '\n';
      }
      if (random() < 0.8) text += '\r\n';
      // Some cut short, to see need-more and too-large.
      const bytes = Buffer.from(text, 'latin1');
      const limit = random() < 0.9 ? 8192 : int(random, bytes.length + 1);
      compare(random() < 0.9 ? bytes : bytes.subarray(0, int(random, bytes.length + 1)), limit, ruleSets[int(random, ruleSets.length)]);
    }
    // Well-formed lists of addresses (mostly), so that many heads are found.
    const addresses = ['127.0.0.1', '::1', '10.1.2.3', '198.51.100.7', '6.6.6.6', '2001:db8::1', '"[2001:db8::2]:4711"', '_hidden'];
    for (let n = 0; n < 6000; n++) {
      const forwarded = random() < 0.5;
      const rules = ruleSets[int(random, ruleSets.length)];
      let text = 'GET / HTTP/1.1\r\nHost: a\r\n';
      for (let lines = 1 + int(random, 3); lines > 0; lines--) {
        const elements: string[] = [];
        for (let k = 1 + int(random, 4); k > 0; k--) {
          const address = addresses[int(random, addresses.length)];
          elements.push(forwarded ? `${random() < 0.2 ? 'proto=http;' : ''}for=${address}` : address.replace(/"/g, ''));
        }
        text += `${forwarded ? 'Forwarded' : 'X-Forwarded-For'}: ${elements.join(random() < 0.5 ? ', ' : ',')}\r\n`;
      }
      // Mostly the header and format that fit the text.
      const fits = random() < 0.8;
      compare(Buffer.from(text + '\r\n', 'latin1'), 8192, fits ? { ...rules, format: forwarded ? 'forwarded' : 'list' } : rules,
        fits ? (forwarded ? 'forwarded' : 'x-forwarded-for') : undefined);
    }
    const forwardedVectors = headVectors.filter((v) => v.pick !== undefined || v.format !== undefined || v.header !== undefined);
    for (let n = 0; n < 4000; n++) {
      const v = forwardedVectors[int(random, forwardedVectors.length)];
      const bytes = Buffer.from(headBytes(v));
      for (let edits = 1 + int(random, 3); edits > 0 && bytes.length > 0; edits--) {
        bytes[int(random, bytes.length)] = random() < 0.5 ? int(random, 256) : ' \t,;="\\:'.charCodeAt(int(random, 9));
      }
      compare(bytes, 8192, random() < 0.5 ? rulesOf(v) : ruleSets[int(random, ruleSets.length)]);
    }
    console.log(`forwarded rules: native and fallback agree on 20,000 inputs: ${JSON.stringify(Object.fromEntries(counts))}`);
    // Every answer occurs, so the agreement is not all on one outcome.
    for (const status of ['found', 'invalid', 'missing', 'not-http', 'need-more', 'too-large']) {
      expect(counts.get(status) ?? 0, `${status} in ${JSON.stringify([...counts])}`).toBeGreaterThan(100);
    }
  });

  it('on random address-like strings', () => {
    const random = prng(0xadd7);
    for (let n = 0; n < 5000; n++) {
      let text = '';
      for (let len = int(random, 24); len > 0; len--) text += addressAlphabet[int(random, addressAlphabet.length)];
      expect(hex(nat.parseAddress(text)), JSON.stringify(text)).toBe(hex(fallback.parseAddress(text)));
    }
  });

  it('hash64 on random keys and addresses', () => {
    const random = prng(0x51a);
    const key = Buffer.alloc(16);
    const data = Buffer.alloc(40);
    for (let n = 0; n < 5000; n++) {
      for (let i = 0; i < 16; i++) key[i] = int(random, 256);
      for (let i = 0; i < data.length; i++) data[i] = int(random, 256);
      const message = data.subarray(0, int(random, 41));
      expect(nat.hash64(key, message)).toBe(fallback.hash64(key, message));
    }
  });
});

// The client's worker among n is the highest of its first n scores (a
// worker's score does not depend on n), so one pass of 64 scores per address
// gives its worker for every n in 2..64: a running maximum. The first
// addresses are checked against ownWorker itself, so this is the real pick.
function worstSpread(hi: Uint32Array, lo: Uint32Array, hashes: bigint[]): { ratio: number; workers: number } {
  const counts = Array.from({ length: 65 }, (_, n) => new Uint32Array(n));
  for (let i = 0; i < hi.length; i++) {
    let best = 0;
    let bestScore = workerScore(hi[i], lo[i], 0);
    for (let n = 2; n <= 64; n++) {
      const score = workerScore(hi[i], lo[i], n - 1);
      if (score > bestScore) {
        best = n - 1;
        bestScore = score;
      }
      counts[n][best]++;
      if (i < hashes.length && best !== ownWorker(hashes[i], n)) throw new Error(`running maximum differs from ownWorker at ${i}, ${n} workers`);
    }
  }
  let worst = { ratio: 0, workers: 0 };
  for (let n = 2; n <= 64; n++) {
    const ratio = Math.max(...counts[n]) / (hi.length / n);
    if (ratio > worst.ratio) worst = { ratio, workers: n };
  }
  return worst;
}

describe(`spread of ${primary.kind} hash64 and rendezvous pick over 2..64 workers`, () => {
  const random = prng(0xc0ffee);
  const key = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) key[i] = int(random, 256);
  const count = 1_000_000;
  const checked = 2_000;

  // Hashes `count` canonical addresses that `fill` writes into one reused buffer.
  function hashAll(fill: (address: Buffer, i: number) => void) {
    const hi = new Uint32Array(count);
    const lo = new Uint32Array(count);
    const hashes: bigint[] = [];
    const address = Buffer.alloc(16);
    for (let i = 0; i < count; i++) {
      fill(address, i);
      const hash = primary.hash64(key, address);
      if (i < checked) hashes.push(hash);
      hi[i] = Number(hash >> 32n);
      lo[i] = Number(hash & 0xffffffffn);
    }
    return worstSpread(hi, lo, hashes);
  }
  const mappedV4 = (address: Buffer, v4: number) => {
    address.fill(0, 0, 10);
    address.writeUInt16BE(0xffff, 10);
    address.writeUInt32BE(v4 >>> 0, 12);
  };

  it.each([
    ['random IPv4', (a: Buffer) => mappedV4(a, int(random, 2 ** 32))],
    ['consecutive IPv4 from 10.0.0.0', (a: Buffer, i: number) => mappedV4(a, 0x0a000000 + i)],
    ['random IPv6', (a: Buffer) => { for (let j = 0; j < 16; j++) a[j] = int(random, 256); }],
  ] as const)('1,000,000 %s: busiest worker at most 1.05x the mean', (_name, fill) => {
    const worst = hashAll(fill);
    console.log(`${primary.kind} ${_name}: worst ${worst.ratio.toFixed(4)}x at ${worst.workers} workers`);
    expect(worst.ratio).toBeLessThanOrEqual(1.05);
  });
});

// socketio-sticky-session 0.4.x (the seed fork) hashes the decimal values of
// remoteAddress.split('.') with a 31-bit one-at-a-time hash. An IPv6 address
// has no '.', so only parseInt of its text counts: the leading decimal digits
// of the first group, or NaN (which the bit operations turn into 0).
function seedForkHash(addressText: string, seed: number): number {
  const INT31 = 2147483648;
  let h = seed;
  for (const part of addressText.split('.')) {
    h = (h + parseInt(part, 10)) % INT31;
    h = (h + (h << 10)) % INT31;
    h ^= h >> 6;
  }
  h = (h + (h << 3)) % INT31;
  h ^= h >> 11;
  h = (h + (h << 15)) % INT31;
  return h >>> 0;
}

describe('10,000 random IPv6 clients over 8 workers: seed fork hash vs ours', () => {
  const random = prng(0xbeef);
  const workers = 8;
  const mean = 10_000 / workers;
  const group = () => int(random, 0x10000).toString(16);
  // Clients of one provider share a prefix; 2001:db8::/32 stands for any.
  const sharedPrefix = Array.from({ length: 10_000 }, () => ['2001', 'db8', ...Array.from({ length: 6 }, group)].join(':'));
  const anywhere = Array.from({ length: 10_000 }, () => Array.from({ length: 8 }, group).join(':'));
  const key = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) key[i] = int(random, 256);
  const seed = int(random, 2 ** 31);

  const busiest = (addresses: string[], pick: (text: string) => number) => {
    const counts = new Array<number>(workers).fill(0);
    for (const text of addresses) counts[pick(text)]++;
    return Math.max(...counts) / mean;
  };
  const ours = (text: string) => {
    const address = primary.parseAddress(text);
    if (!address) throw new Error(`not an address: ${text}`);
    return ownWorker(primary.hash64(key, address), workers);
  };
  const seedFork = (text: string) => seedForkHash(text, seed) % workers;

  it('in one /32: the seed fork puts all on one worker, ours spreads within 1.10x', () => {
    expect(busiest(sharedPrefix, seedFork)).toBe(workers);
    const ratio = busiest(sharedPrefix, ours);
    console.log(`seed fork 8.00x, ${primary.kind} ${ratio.toFixed(4)}x (one /32)`);
    expect(ratio).toBeLessThanOrEqual(1.1);
  });

  it('anywhere: the seed fork piles addresses starting with a-f on one worker, ours spreads within 1.10x', () => {
    const seedRatio = busiest(anywhere, seedFork);
    const ratio = busiest(anywhere, ours);
    console.log(`seed fork ${seedRatio.toFixed(4)}x, ${primary.kind} ${ratio.toFixed(4)}x (anywhere)`);
    expect(seedRatio).toBeGreaterThan(3);
    expect(ratio).toBeLessThanOrEqual(1.1);
  });
});

// scanProxyHeader against the shared vectors: the TS twin always; the native
// one where the addon is built, and then the two against each other on every
// prefix and on seeded mutations.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROXY_V1_MAX_LENGTH, PROXY_V2_MAX_LENGTH, scanProxyHeader } from '../../src/fallback/proxy-header';
import type { ProxyScan } from '../../src/primitives';
import { prng, tryLoadNative } from '../helpers/primitives';

interface ProxyVector {
  name: string;
  text?: string;
  hex?: string;
  status: string;
  headerLength: number;
  source: string | null;
  sourcePort: number;
  destination: string | null;
  destinationPort: number;
  family: number;
}

const vectors: ProxyVector[] = JSON.parse(
  readFileSync(path.join(__dirname, '..', 'vectors', 'proxy-header.json'), 'utf8'),
).vectors;

const bytesOf = (v: ProxyVector): Buffer =>
  v.hex !== undefined ? Buffer.from(v.hex, 'hex') : Buffer.from(v.text ?? '', 'latin1');

const hex = (b: Buffer | null) => (b === null ? null : b.toString('hex'));
const plain = (scan: ProxyScan) => ({ ...scan, source: hex(scan.source), destination: hex(scan.destination) });
const expected = (v: ProxyVector) => ({
  status: v.status,
  headerLength: v.headerLength,
  source: v.source,
  sourcePort: v.sourcePort,
  destination: v.destination,
  destinationPort: v.destinationPort,
  family: v.family,
});

type Scan = (buf: Buffer) => ProxyScan;

const int = (random: () => number, n: number) => Math.floor(random() * n);

// Vectors with a few bytes overwritten, cut anywhere: they keep the shape of a
// header, so they reach the deep states of both parsers.
function* mutations(seed: number, count: number): Generator<Buffer> {
  const random = prng(seed);
  const alphabet = Buffer.from('PROXY TCP46UNKNOWN0123456789abcdef:.[]\r\n\x00\x11\x21\x20\xff', 'latin1');
  for (let n = 0; n < count; n++) {
    const bytes = Buffer.from(bytesOf(vectors[int(random, vectors.length)]));
    for (let edits = 1 + int(random, 3); edits > 0 && bytes.length > 0; edits--) {
      bytes[int(random, bytes.length)] = random() < 0.5 ? alphabet[int(random, alphabet.length)] : int(random, 256);
    }
    yield bytes.subarray(0, int(random, bytes.length + 1));
  }
}

function checkAll(scan: Scan) {
  it.each(vectors)('$name', (v) => {
    expect(plain(scan(bytesOf(v)))).toEqual(expected(v));
  });

  it('once decided, more bytes never change the answer, and a header never claims bytes not yet seen', () => {
    const check = (bytes: Buffer, label: string) => {
      let decided: ReturnType<typeof plain> | null = null;
      for (let cut = 0; cut <= bytes.length; cut++) {
        const answer = plain(scan(bytes.subarray(0, cut)));
        expect(answer.headerLength, `${label} cut at ${cut}`).toBeLessThanOrEqual(cut);
        if (decided) expect(answer, `${label} cut at ${cut}`).toEqual(decided);
        else if (answer.status !== 'need-more') decided = answer;
      }
    };
    for (const v of vectors) check(bytesOf(v), v.name);
    let n = 0;
    for (const bytes of mutations(0x9a0c, 2000)) check(bytes, `mutation ${n++} ${bytes.toString('hex')}`);
  });

  it('a found or local header ends exactly at headerLength', () => {
    for (const v of vectors.filter((v) => v.status === 'found' || v.status === 'local')) {
      const header = bytesOf(v).subarray(0, v.headerLength);
      expect(plain(scan(header)), v.name).toEqual(expected(v));
      expect(scan(header.subarray(0, header.length - 1)).status, v.name).toBe('need-more');
    }
  });

  it('a v1 line without CRLF is malformed at 107 bytes; a v2 header longer than 4096 bytes is malformed', () => {
    const line = Buffer.from(`PROXY UNKNOWN ${'x'.repeat(200)}`, 'latin1');
    expect(scan(line.subarray(0, PROXY_V1_MAX_LENGTH - 1)).status).toBe('need-more');
    expect(scan(line.subarray(0, PROXY_V1_MAX_LENGTH)).status).toBe('malformed');
    const v2 = Buffer.alloc(PROXY_V2_MAX_LENGTH + 1);
    Buffer.from('0d0a0d0a000d0a515549540a2111', 'hex').copy(v2);
    v2.writeUInt16BE(PROXY_V2_MAX_LENGTH - 16, 14);
    v2.fill(0, 16, 28); // addresses and ports
    const tlv = 28; // one NOOP TLV filling the rest of the header
    v2[tlv] = 0x04;
    v2.writeUInt16BE(PROXY_V2_MAX_LENGTH - tlv - 3, tlv + 1);
    expect(scan(v2).status).toBe('found');
    expect(scan(v2).headerLength).toBe(PROXY_V2_MAX_LENGTH);
    v2.writeUInt16BE(PROXY_V2_MAX_LENGTH - 15, 14);
    expect(scan(v2.subarray(0, 16)).status).toBe('malformed');
  });
}

describe('fallback scanProxyHeader', () => {
  checkAll(scanProxyHeader);
});

const native: Scan | null = tryLoadNative()?.scanProxyHeader ?? null;

// Runs once binding.cc exports scanProxyHeader (primitives.scanProxyHeader).
describe.skipIf(native === null)('native scanProxyHeader', () => {
  const scan = native as Scan;
  checkAll(scan);

  it('agrees with the fallback on every prefix of every vector and on seeded mutations', () => {
    const agree = (bytes: Buffer) =>
      expect(plain(scan(bytes)), bytes.toString('hex')).toEqual(plain(scanProxyHeader(bytes)));
    for (const v of vectors) {
      const bytes = bytesOf(v);
      for (let cut = 0; cut <= bytes.length; cut++) agree(bytes.subarray(0, cut));
    }
    for (const bytes of mutations(0x5eed, 20000)) agree(bytes);
    const random = prng(0xb17e);
    for (let n = 0; n < 5000; n++) {
      const bytes = Buffer.alloc(int(random, 64));
      for (let i = 0; i < bytes.length; i++) bytes[i] = int(random, 256);
      agree(bytes);
    }
  });
});

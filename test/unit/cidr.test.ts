import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import vectors from '../vectors/cidr.json';
import { cidrContains, parseCidrList } from '../../src/cidr';
import { parseAddress } from '../../src/address';

interface CidrAddon {
  cidrContainsForTest(list: string[], address: Buffer): boolean | null;
}

const REPO_ROOT = path.join(__dirname, '..', '..');
const native: CidrAddon | null = process.env.STICKY_NATIVE === 'fallback'
  ? null
  : (createRequire(__filename)('node-gyp-build') as (dir: string) => CidrAddon)(REPO_ROOT);

function address(text: string): Buffer {
  const bytes = parseAddress(text);
  if (!bytes) throw new Error(`vector address ${text} does not parse`);
  return bytes;
}

describe('CIDR sets (test/vectors/cidr.json)', () => {
  it('rejects lists with an entry that is not a range', () => {
    for (const list of vectors.invalid) {
      expect(() => parseCidrList(list), JSON.stringify(list)).toThrow(/trustedProxies entry/);
      if (native) expect(native.cidrContainsForTest(list, address('127.0.0.1')), JSON.stringify(list)).toBeNull();
    }
  });

  it('holds exactly the addresses in its ranges', () => {
    for (const { list, cases } of vectors.sets) {
      const set = parseCidrList(list);
      for (const [text, expected] of cases as [string, boolean][]) {
        const label = `${JSON.stringify(list)} ${text}`;
        expect(cidrContains(set, address(text)), label).toBe(expected);
        if (native) expect(native.cidrContainsForTest(list, address(text)), label).toBe(expected);
      }
    }
  });

  it('names the bad entry in its error', () => {
    expect(() => parseCidrList(['127.0.0.1', '10.0.0.0/33'])).toThrow('"10.0.0.0/33"');
    expect(() => parseCidrList([42 as unknown as string])).toThrow('42');
  });
});

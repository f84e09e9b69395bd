// Rendezvous hashing (src/rendezvous.ts and its C++ twin route_worker): the shared
// vectors against a reference written apart from both, the TS and native
// answers on random cases, and what rendezvous hashing promises: a worker's
// absence moves only its own clients, spread evenly over the others, and
// they return when it is back.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { routeWorker, workerScore } from '../../src/rendezvous';
import { REPO_ROOT } from '../helpers/harness';
import { ownWorker, pick, referenceRoute, referenceScore } from '../helpers/rendezvous';
import { prng } from '../helpers/primitives';

interface PickVector { note?: string; hash: string; live: boolean[]; starting: boolean[]; expected: number | 'wait' }
const vectors = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'vectors', 'rendezvous.json'), 'utf8')) as PickVector[];

type PickForTest = (hash: bigint, live: boolean[], starting: boolean[]) => number | 'wait';
function loadPickForTest(): PickForTest | null {
  if (process.env.STICKY_NATIVE === 'fallback') return null;
  return (require('node-gyp-build') as (dir: string) => { pickForTest: PickForTest })(REPO_ROOT).pickForTest;
}
const nativePick = loadPickForTest();

const tsRoute = (hash: bigint, live: boolean[], starting: boolean[]): number | 'wait' => {
  const index = routeWorker(hash, live, starting);
  return index < 0 ? 'wait' : index;
};

const random64 = (random: () => number): bigint =>
  (BigInt(Math.floor(random() * 2 ** 32)) << 32n) | BigInt(Math.floor(random() * 2 ** 32));

describe('rendezvous vectors', () => {
  it('the reference agrees with every vector (hand-reasoned and random)', () => {
    expect(vectors.length).toBeGreaterThan(100);
    for (const v of vectors) expect(referenceRoute(BigInt(v.hash), v.live, v.starting), v.note ?? v.hash).toEqual(v.expected);
  });

  it('worker scores by hand: hash 0 gives worker 0 lowbias32(0) = 0 and worker 1 lowbias32(0x9e3779b9)', () => {
    expect(workerScore(0, 0, 0)).toBe(0);
    expect(BigInt(workerScore(0, 0, 1))).toBe(referenceScore(0n, 1));
  });

  it('src/pick.ts routeWorker (and pick, ownWorker) answer every vector', () => {
    for (const v of vectors) {
      const hash = BigInt(v.hash);
      expect(tsRoute(hash, v.live, v.starting), v.note ?? v.hash).toEqual(v.expected);
      if (!v.starting.some(Boolean)) expect(pick(hash, v.live), v.hash).toBe(v.expected === 'wait' ? -1 : v.expected);
      if (v.live.every(Boolean)) expect(ownWorker(hash, v.live.length), v.hash).toBe(v.expected);
    }
  });

  it.runIf(nativePick !== null)('native route_worker answers every vector', () => {
    for (const v of vectors) expect(nativePick!(BigInt(v.hash), v.live, v.starting), v.note ?? v.hash).toEqual(v.expected);
  });

  it('TS, native and the reference agree on 20,000 random hashes over 1..64 workers', () => {
    const random = prng(0x7e11);
    for (let n = 0; n < 20_000; n++) {
      const workers = 1 + Math.floor(random() * 64);
      const hash = random64(random);
      const live = Array.from({ length: workers }, () => random() < 0.8);
      const starting = live.map((isLive) => !isLive && random() < 0.3);
      const expected = referenceRoute(hash, live, starting);
      const where = `${hash} live=${live.map(Number).join('')} starting=${starting.map(Number).join('')}`;
      expect(tsRoute(hash, live, starting), where).toEqual(expected);
      if (nativePick) expect(nativePick(hash, live, starting), where).toEqual(expected);
    }
  });
});

describe('rendezvous properties, 200,000 random hashes', () => {
  const random = prng(0x4e4d);
  const hashes = Array.from({ length: 200_000 }, () => random64(random));

  it.each([3, 8, 16])('%i workers: a down worker moves only its clients, spread evenly over the others; they come back', (workers) => {
    const all = new Array<boolean>(workers).fill(true);
    const before = hashes.map((hash) => pick(hash, all));
    for (let down = 0; down < workers; down++) {
      const live = all.map((_, index) => index !== down);
      const movedTo = new Array<number>(workers).fill(0);
      let moved = 0;
      hashes.forEach((hash, i) => {
        const now = pick(hash, live);
        if (before[i] !== down) {
          if (now !== before[i]) throw new Error(`${hash}: worker ${down} down moved it from ${before[i]} to ${now}`);
          return;
        }
        moved++;
        movedTo[now]++;
      });
      const others = movedTo.filter((_, index) => index !== down);
      const mean = moved / (workers - 1);
      // Evenly: the busiest within 5 standard deviations of a fair share (sd ~ sqrt(mean)).
      const ratio = Math.max(...others) / mean;
      expect(ratio, `worker ${down} down: ${others.join('/')}`).toBeLessThanOrEqual(1 + 5 / Math.sqrt(mean));
      expect(Math.min(...others)).toBeGreaterThan(0);
    }
    // Back: pick is a function of (hash, live) alone, so all live again is the first answer again.
    expect(hashes.map((hash) => pick(hash, all))).toEqual(before);
  });

  it('two workers down: only their clients move, and none to a down worker', () => {
    const workers = 8;
    const live = [true, false, true, true, true, false, true, true];
    const all = new Array<boolean>(workers).fill(true);
    for (const hash of hashes.slice(0, 50_000)) {
      const own = pick(hash, all);
      const now = pick(hash, live);
      expect(live[now]).toBe(true);
      if (live[own]) expect(now).toBe(own);
    }
  });
});

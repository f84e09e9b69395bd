// sidFallback 'least-loaded' on the IPC path (src/transport/load.ts): a
// worker's load is what it last reported plus the handshakes placed on it
// since; a report replaces both. (The C++ dispatcher keeps the same rule;
// test/e2e/sid-routing.test.ts checks the spread end to end on every transport.)
import { describe, expect, it } from 'vitest';
import { LeastLoaded } from '../../src/transport/load';

const ALL_LIVE = [true, true, true, true];

function place(placer: LeastLoaded, count: number, live = ALL_LIVE): number[] {
  return Array.from({ length: count }, () => placer.pick(live));
}

describe('LeastLoaded', () => {
  it('spreads a burst of handshakes between two reports evenly, equals taking turns', () => {
    const placer = new LeastLoaded(4);
    expect(place(placer, 8)).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
  });

  it('counts the reported load: a worker that reports more waits until the others catch up', () => {
    const placer = new LeastLoaded(4);
    placer.report(0, 3);
    const picks = place(placer, 9);
    expect(picks.filter((index) => index === 0)).toHaveLength(0);
    expect(picks.slice(-3).sort()).toEqual([1, 2, 3]);
    expect(placer.pick(ALL_LIVE)).toBe(0);
  });

  it('a report replaces the handshakes placed before it: they are in the reported load or gone', () => {
    const placer = new LeastLoaded(2);
    place(placer, 6, [true, true]); // 3 each
    placer.report(0, 0); // worker 0's three sessions ended
    expect(place(placer, 3, [true, true])).toEqual([0, 0, 0]);
    expect(placer.pick([true, true])).toBe(1);
  });

  it('never places on a worker that is not live; -1 when none is', () => {
    const placer = new LeastLoaded(3);
    placer.report(0, 5);
    // Worker 1 has the least load but is down: worker 2 takes handshakes until it reaches worker 0's 5.
    expect(place(placer, 7, [true, false, true])).toEqual([2, 2, 2, 2, 2, 0, 2]);
    expect(placer.pick([false, false, false])).toBe(-1);
  });
});

// The addon's list of rejection reasons (native/rejections.h, exported as
// `rejectReasons`) against its TypeScript twin (src/rejections.ts) and against
// what a native Dispatcher counts: the same reasons, in the same order, each
// with a status and a text of the expected form.

import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DispatcherClass } from '../../src/primitives';
import { REJECTIONS } from '../../src/rejections';

interface Rejection { reason: string; status: number; message: string }
interface Addon { rejectReasons: Rejection[]; Dispatcher?: DispatcherClass }

const isNative = process.env.STICKY_NATIVE !== 'fallback';
const loadAddon = (): Addon => (require('node-gyp-build') as (dir: string) => Addon)(path.join(__dirname, '..', '..'));

describe.skipIf(!isNative)('native rejectReasons', () => {
  it('lists { reason, status, message } entries; status 0 (closed, no answer) has no text', () => {
    const { rejectReasons } = loadAddon();
    expect(rejectReasons.length).toBeGreaterThan(0);
    for (const entry of rejectReasons) {
      expect(Object.keys(entry)).toEqual(['reason', 'status', 'message']);
      expect(entry.reason).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect([0, 400, 431, 503]).toContain(entry.status);
      expect(entry.message === '').toBe(entry.status === 0);
      // The only placeholders are {header} and {limit}.
      expect(entry.message.replace(/\{header\}|\{limit\}/g, '')).not.toMatch(/[{}]/);
    }
  });

  it('is the TypeScript list entry for entry: reason, status and text', () => {
    expect(loadAddon().rejectReasons).toEqual(REJECTIONS.map(({ reason, status, message }) => ({ reason, status, message })));
  });

  it.runIf(process.platform === 'linux')("names a Dispatcher's rejection counters, in their order", () => {
    const { rejectReasons, Dispatcher } = loadAddon();
    const dispatcher = new Dispatcher!({
      routing: 'ip',
      headerLower: 'x-forwarded-for',
      header: 'X-Forwarded-For',
      ignoreMissingHeader: false,
      headLimit: 16384,
      headTimeout: 1000,
      workers: 1,
      queueLimit: 1,
      secret: randomBytes(16),
    });
    try {
      const rejected = dispatcher.counters().rejected;
      expect(Object.keys(rejected)).toEqual(rejectReasons.map((entry) => entry.reason));
      expect(Object.values(rejected).every((count) => count === 0)).toBe(true);
    } finally {
      dispatcher.close();
    }
  });
});

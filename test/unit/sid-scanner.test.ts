// scanSid, native and fallback, against test/vectors/sid.json, against each
// other on every prefix and on random request lines, and the ids the workers
// mint (src/session-id.ts) read back to their worker.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fallback } from '../../src/fallback';
import type { Primitives } from '../../src/primitives';
import { mintSessionId } from '../../src/session-id';
import { prng, tryLoadNative } from '../helpers/primitives';

interface SidVector { name: string; text: string; workers?: number; limit?: number; status: string; worker: number }
const file = JSON.parse(readFileSync(path.join(__dirname, '..', 'vectors', 'sid.json'), 'utf8')) as {
  key: string;
  defaults: { workers: number; limit: number };
  vectors: SidVector[];
};
const key = Buffer.from(file.key, 'hex');

const native = tryLoadNative();
const implementations: Primitives[] = native ? [native, fallback] : [fallback];


describe('scanSid', () => {
  if (process.env.STICKY_NATIVE === 'native') it('the addon loads', () => expect(native).not.toBeNull());

  for (const impl of implementations) {
    describe(impl.kind, () => {
      for (const v of file.vectors) {
        it(v.name, () => {
          const scan = impl.scanSid(Buffer.from(v.text, 'latin1'), key, v.workers ?? file.defaults.workers, v.limit ?? file.defaults.limit);
          expect(scan).toEqual({ status: v.status, worker: v.worker });
        });
      }

      it('reads back every id minted for a worker, under its key only', () => {
        const other = randomBytes(16);
        for (let index = 0; index < 64; index++) {
          const line = Buffer.from(`GET /socket.io/?EIO=4&transport=polling&sid=${mintSessionId(index, key)} HTTP/1.1\r\n`);
          expect(impl.scanSid(line, key, 64, 16384)).toEqual({ status: 'found', worker: index });
          expect(impl.scanSid(line, key, index, 16384).status).toBe('none');
          expect(impl.scanSid(line, other, 64, 16384).status).toBe('none');
        }
      });
    });
  }

  it.skipIf(!native)('native and fallback agree on every prefix of every vector and on random request lines', () => {
    const agree = (head: Buffer, workers: number, limit: number) =>
      expect(native!.scanSid(head, key, workers, limit), head.toString('latin1')).toEqual(fallback.scanSid(head, key, workers, limit));
    for (const v of file.vectors) {
      const bytes = Buffer.from(v.text, 'latin1');
      for (let end = 0; end <= bytes.length; end++) agree(bytes.subarray(0, end), v.workers ?? 4, v.limit ?? 16384);
    }
    const random = prng(0x51d);
    const pieces = ['GET', 'POST', ' ', '/', '?', '&', '#', '=', 'sid', 'sid=', 'EIO=4', '%', '\t', '\r\n', '\u007f', 'HTTP/1.1'];
    for (let round = 0; round < 20_000; round++) {
      let text = round % 2 === 0 ? 'GET /socket.io/?' : '';
      const parts = 1 + Math.floor(random() * 8);
      for (let i = 0; i < parts; i++) {
        const choice = random();
        if (choice < 0.3) {
          // A real id, whole or damaged in one random byte.
          const sid = Buffer.from(mintSessionId(Math.floor(random() * 6), key));
          if (random() < 0.5) sid[Math.floor(random() * sid.length)] = 32 + Math.floor(random() * 95);
          text += `sid=${sid.toString('latin1')}`;
        } else if (choice < 0.4) {
          text += String.fromCharCode(Math.floor(random() * 256));
        } else {
          text += pieces[Math.floor(random() * pieces.length)];
        }
      }
      agree(Buffer.from(text, 'latin1'), 1 + Math.floor(random() * 6), 8 + Math.floor(random() * 120));
    }
  });
});

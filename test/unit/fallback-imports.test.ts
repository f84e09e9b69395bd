// src/fallback/ is only what runs when the addon does not load: nothing but the
// loader (src/binding.ts) may import it, so every other module works the same
// in every mode. Reads the sources' import specifiers.

import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';

const src = path.join(__dirname, '..', '..', 'src');
const fallbackDir = path.join(src, 'fallback');
const loader = path.join(src, 'binding.ts');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sources(full) : entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The modules `file` imports, re-exports or requires, as absolute paths for relative specifiers. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/\b(?:from|import|require)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
  return specifiers.filter((s) => s.startsWith('.')).map((s) => path.resolve(path.dirname(file), s));
}

const intoFallback = (target: string) => target === fallbackDir || target.startsWith(fallbackDir + path.sep);

describe('src/fallback/ is loaded by the loader only', () => {
  test('control: the loader imports src/fallback/', () => {
    expect(importsOf(loader).some(intoFallback)).toBe(true);
  });

  test('no other module outside src/fallback/ imports it', () => {
    const outside = sources(src).filter((file) => file !== loader && !intoFallback(file));
    expect(outside.length).toBeGreaterThan(10);
    const offenders = outside.flatMap((file) =>
      importsOf(file)
        .filter(intoFallback)
        .map((target) => `${path.relative(src, file)} -> ${path.relative(src, target)}`),
    );
    expect(offenders).toEqual([]);
  });
});

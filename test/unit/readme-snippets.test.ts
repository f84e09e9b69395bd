// The README quotes some examples/ files whole: a `<!-- file: path -->` line
// right before a fenced block means the block is that file, byte for byte. The
// e2e tests run the files, so the quoted code is code that runs as written.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../helpers/harness';

const README = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
// The files the e2e tests run as the README's snippets.
const QUOTED = [
  'examples/broadcast-typed.js', // test/e2e/cluster-adapter.test.ts
  'examples/broadcast-seed.js',
  'examples/broadcast-v1.js',
  'examples/many-machines.js', // test/e2e/many-hosts.test.ts
];

function quotes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /^<!-- file: (\S+) -->\n```[a-z]*\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (out.has(m[1])) throw new Error(`README quotes ${m[1]} twice`);
    out.set(m[1], m[2]);
  }
  return out;
}

describe('README snippets quoted from examples/', () => {
  const found = quotes(README);
  test('every file the e2e tests run as a README snippet is quoted', () => {
    expect([...found.keys()].sort()).toEqual(expect.arrayContaining([...QUOTED].sort()));
    expect(README.match(/^<!-- file: /gm)?.length).toBe(found.size); // no marker without its block
  });
  test.each([...found.keys()])('%s is quoted verbatim', (file) => {
    expect(found.get(file)).toBe(fs.readFileSync(path.join(REPO_ROOT, file), 'utf8'));
  });
});

// The Node lines CI tests (.ci/node-lines) are the ones package.json's
// `engines` and the README promise: no more, no fewer.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../helpers/harness';

const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
const lines = read('.ci/node-lines')
  .split('\n')
  .map((line) => line.trim().split(/\s+/))
  .filter(([kind]) => kind === 'line')
  .map(([, major]) => Number(major));

// Plain text, the same on every data path: once, in the native project.
describe.runIf(process.env.STICKY_NATIVE !== 'fallback' && !process.env.STICKY_TRANSPORT)('supported Node lines', () => {
  test('.ci/node-lines names the machine\'s line and the fetched ones, ascending', () => {
    expect(lines.length).toBeGreaterThan(1);
    expect([...lines].sort((a, b) => a - b)).toEqual(lines);
  });

  test('package.json engines names exactly those lines', () => {
    expect(JSON.parse(read('package.json')).engines.node).toBe(lines.join(' || '));
  });

  test('the README names exactly those lines', () => {
    const list = `${lines.slice(0, -1).join(', ')} and ${lines[lines.length - 1]}`;
    expect(read('README.md')).toContain(`supports Node.js ${list}`);
  });
});

// The package's types as a user compiles them: a consumer of every public API
// under `strict` in four kinds of project, against the real socket.io types;
// a file of wrong calls that must fail; and the README's typed example,
// compiled and run as written in a CommonJS and an ES module project.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir, tsc, writeProject, type ConsumerProject } from '../helpers/consumer';
import { REPO_ROOT, request, startFixture, stopAll } from '../helpers/harness';

// Compiling does not depend on the data path: one project runs it.
const runs = process.env.STICKY_NATIVE === 'native' && !process.env.STICKY_TRANSPORT;

const PROJECTS: Record<string, ConsumerProject> = {
  // This one checks every declaration file too (the package's, socket.io's, Node's).
  commonjs: { type: 'commonjs', compilerOptions: { module: 'commonjs', esModuleInterop: true, skipLibCheck: false } },
  node16: { type: 'module', compilerOptions: { module: 'node16' } },
  nodenext: { type: 'commonjs', compilerOptions: { module: 'nodenext', esModuleInterop: true } },
  bundler: { type: 'module', compilerOptions: { module: 'esnext', moduleResolution: 'bundler' } },
};

const fixture = (name: string) => fs.readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', name), 'utf8');

/** The ```ts block under "### The typed API" in the README. */
function readmeTypedExample(): string {
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### The typed API'));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (!match) throw new Error('README: no ts block under "### The typed API"');
  return match[1];
}

const dirs: string[] = [];
const project = (tag: string) => {
  const dir = tempDir(tag);
  dirs.push(dir);
  return dir;
};

afterAll(async () => {
  await stopAll();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe.runIf(runs)('types', () => {
  for (const [name, config] of Object.entries(PROJECTS)) {
    it(`every public API compiles under strict, module ${name}`, async () => {
      const dir = writeProject(project(`types-${name}`), config, { 'consumer.ts': fixture('types-consumer.ts') });
      const result = await tsc(dir, '--noEmit');
      expect(result.output).toBe('');
      expect(result.code).toBe(0);
    });
  }

  it('wrong calls do not compile: each marked line is an error', async () => {
    const source = fixture('types-wrong.ts');
    const dir = writeProject(project('types-wrong'), PROJECTS.node16, { 'wrong.ts': source });
    const result = await tsc(dir, '--noEmit');
    expect(result.code).not.toBe(0);
    const wrongLines = source.split('\n').flatMap((line, i) => (line.includes('// wrong:') ? [i + 1] : []));
    const errorLines = [...result.output.matchAll(/wrong\.ts\((\d+),\d+\): error/g)].map((m) => Number(m[1]));
    expect(wrongLines.length).toBe(4);
    expect([...new Set(errorLines)].sort((a, b) => a - b)).toEqual(wrongLines);
  });

  const readmeProjects: Record<string, ConsumerProject> = {
    CommonJS: { type: 'commonjs', compilerOptions: { module: 'commonjs', esModuleInterop: true } },
    'ES module': { type: 'module', compilerOptions: { module: 'nodenext' } },
  };
  for (const [name, config] of Object.entries(readmeProjects)) {
    it(`the README's typed example compiles and runs as written in a ${name} project`, async () => {
      const dir = writeProject(project('readme'), { ...config, links: ['sticky-native', '@types/node'] }, { 'index.ts': readmeTypedExample() });
      const result = await tsc(dir);
      expect(result.output).toBe('');
      expect(result.code).toBe(0);
      const fx = await startFixture(path.join(dir, 'index.js'), { env: { PORT: '0' }, readyLine: /^listening on (\d+)$/ });
      const response = await request({ port: fx.port, headers: { 'X-Forwarded-For': '203.0.113.7' } });
      expect(response.status).toBe(200);
      expect(response.body).toMatch(/^worker [01]$/);
      await fx.stop();
    });
  }
});

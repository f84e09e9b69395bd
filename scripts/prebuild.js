'use strict';
// `npm pack`'s prepack step: makes the prebuilt addons the tarball ships, with
// prebuildify (Node-API, stripped, tagged with the libc so node-gyp-build never
// loads a glibc build on musl). On Linux x64 it builds linux-x64 and, with
// Debian's aarch64 cross toolchain, linux-arm64; elsewhere the host's own.
// The other platforms come from CI (.github/workflows/prebuild.yml) into
// prebuilds/ before packing. A prebuild newer than every native source is kept,
// so a second pack compiles nothing.
//
// Its output goes to stderr: stdout belongs to `npm pack --json`.
//
// Each build runs in a scratch copy of binding.gyp and native/: node-gyp
// writes build/ there, and the package's own build/ (the one the tests load)
// is left alone. Run it through npm (`npm pack`, `npm run prebuildify`): npm
// puts its own node-gyp on PATH.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const { name } = require('../package.json');

const CROSS_ARM64 = { CC: 'aarch64-linux-gnu-gcc', CXX: 'aarch64-linux-gnu-g++', LINK: 'aarch64-linux-gnu-g++' };

/** The targets this host builds: { arch, env, stripBin }. */
function hostTargets() {
  const host = { arch: os.arch(), env: {}, stripBin: 'strip' };
  if (os.platform() !== 'linux' || os.arch() !== 'x64' || libc() !== 'glibc') return [host];
  const arm64 = { arch: 'arm64', env: CROSS_ARM64, stripBin: 'aarch64-linux-gnu-strip' };
  return [host, arm64];
}

function libc() {
  return fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc';
}

function prebuildFile(arch) {
  // --napi adds no tag: an untagged build matches every Node-API runtime.
  const file = os.platform() === 'linux' ? `${name}.${libc()}.node` : `${name}.node`;
  return path.join(root, 'prebuilds', `${os.platform()}-${arch}`, file);
}

function newestSource() {
  const sources = ['binding.gyp', ...fs.readdirSync(path.join(root, 'native')).map((file) => path.join('native', file))];
  return Math.max(...sources.map((file) => fs.statSync(path.join(root, file)).mtimeMs));
}

/** Node's own headers next to its binary (official tarballs and Debian both have them): no download. */
function nodeHeadersEnv() {
  if (process.env.npm_config_nodedir) return {};
  const prefix = path.resolve(process.execPath, '..', '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? { npm_config_nodedir: prefix } : {};
}

function scratchCopy() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sticky-native-prebuild-'));
  fs.cpSync(path.join(root, 'native'), path.join(dir, 'native'), { recursive: true, filter: (src) => !src.includes('fuzz') });
  fs.copyFileSync(path.join(root, 'binding.gyp'), path.join(dir, 'binding.gyp'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name }));
  // binding.gyp asks node-addon-api for its include dir.
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), os.platform() === 'win32' ? 'junction' : 'dir');
  return dir;
}

function build(target, newest) {
  const file = prebuildFile(target.arch);
  if (fs.existsSync(file) && fs.statSync(file).mtimeMs >= newest) {
    console.error(`prebuild: ${path.relative(root, file)} is up to date`);
    return;
  }
  const dir = scratchCopy();
  const started = Date.now();
  try {
    const args = [
      require.resolve('prebuildify/bin.js'),
      '--napi', '--strip', '--tag-libc',
      `--target=node@${process.versions.node}`,
      `--arch=${target.arch}`,
      `--strip-bin=${target.stripBin}`,
      `--out=${root}`,
      dir,
    ];
    execFileSync(process.execPath, args, { stdio: ['ignore', 2, 2], env: { ...process.env, ...nodeHeadersEnv(), ...target.env } });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.error(`prebuild: ${path.relative(root, file)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

const newest = newestSource();
for (const target of hostTargets()) build(target, newest);

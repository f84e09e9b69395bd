#!/usr/bin/env node
'use strict';
// Micro-benchmark: find X-Forwarded-For in a realistic 1 KiB request head and hash
// the client address, per call, three ways:
//   - sticky-native's addon (scanHead + hash64 through N-API),
//   - sticky-native's pure-TS fallback (the same two primitives in JS),
//   - the seed's approach (socketio-sticky-session 0.4.3): the whole chunk to a
//     string, lower-cased, indexOf the header name, slice the value, split the
//     text on '.' and run its int31 hash over the parts. Written here from a
//     reading of that code, not copied.
// And, without N-API, the addon's plain C++ (native/http_head.cc, address.cc,
// siphash.cc) compiled at -O3 into bench/.build/parse_native from
// bench/parse_native.cc and timed in a C++ loop on the same head, when a C++
// compiler is installed: the difference is the cost of crossing N-API.
// Each variant is timed in batches of about --ms milliseconds, --runs times,
// the variants interleaved; the table gives the median ns per operation.
//
// usage: node bench/parse.js [--runs 7] [--ms 100] [--json | --markdown]
// Needs dist/ (npm run build) and, for the native rows, the built addon.

const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? Number(args[i + 1]) : fallback;
};
const RUNS = Math.min(50, Math.max(1, flag('--runs', 7)));
const BATCH_MS = Math.min(2000, Math.max(10, flag('--ms', 100)));
const FORMAT = args.includes('--json') ? 'json' : args.includes('--markdown') ? 'markdown' : 'text';

const dist = path.join(__dirname, '..', 'dist');

// ---------------------------------------------------------------- the input

/** A browser's Socket.IO polling request as a reverse proxy forwards it: 1024 bytes, XFF near the end. */
function requestHead() {
  const lines = [
    'GET /socket.io/?EIO=4&transport=polling&t=P3xQ9aZ&sid=Xk2v7QmB0cH1rT9sAAAB HTTP/1.1',
    'Host: chat.example.com',
    'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
    'Accept: */*',
    'Accept-Language: en-US,en;q=0.9,de;q=0.8',
    'Accept-Encoding: gzip, deflate, br, zstd',
    'Referer: https://chat.example.com/rooms/general',
    'Origin: https://chat.example.com',
    'sec-ch-ua: "Not/A)Brand";v="8", "Chromium";v="126", "Google Chrome";v="126"',
    'sec-ch-ua-mobile: ?0',
    'sec-ch-ua-platform: "Linux"',
    'Sec-Fetch-Dest: empty',
    'Sec-Fetch-Mode: cors',
    'Sec-Fetch-Site: same-origin',
    'Cookie: io=Xk2v7QmB0cH1rT9sAAAB; session=COOKIE',
    'X-Request-Id: 5f0c6e7a-8d1b-4c3e-9a2f-1b2c3d4e5f60',
    'X-Forwarded-Proto: https',
    'X-Forwarded-For: 203.0.113.195, 70.41.3.18, 150.172.238.178',
    'Connection: keep-alive',
  ];
  const build = (cookie) => lines.join('\r\n').replace('COOKIE', cookie) + '\r\n\r\n';
  const short = build('');
  const pad = 1024 - Buffer.byteLength(short);
  if (pad < 0) throw new Error('request head is over 1 KiB');
  // Fill the cookie with base64-ish bytes so the head is exactly 1024 bytes.
  const cookie = crypto.randomBytes(pad).toString('base64').replace(/[^A-Za-z0-9]/g, 'x').slice(0, pad);
  const head = Buffer.from(build(cookie), 'latin1');
  if (head.length !== 1024) throw new Error(`head is ${head.length} bytes`);
  return head;
}

const HEAD = requestHead();
const HEADER = 'x-forwarded-for';
const LIMIT = 16384;
const KEY = crypto.randomBytes(16);

// ---------------------------------------------------------------- the seed's approach

/** An int31 mix over the address parts, shaped like the seed fork's: add, shift-add, xor-shift, then a final avalanche. */
function seedStyleHash(parts, seed) {
  let h = seed;
  for (const part of parts) {
    h = (h + parseInt(part, 10)) % 2147483648;
    h = (h + (h << 10)) % 2147483648;
    h ^= h >> 6;
  }
  h = (h + (h << 3)) % 2147483648;
  h ^= h >> 11;
  h = (h + (h << 15)) % 2147483648;
  return h >>> 0;
}

const SEED = crypto.randomBytes(4).readUInt32BE(0) % 0x80000000;

/** What the seed fork does with the first chunk: string, lower-case, search, slice, hash. */
function seedApproach(chunk) {
  const text = chunk.toString().toLowerCase();
  let at = text.indexOf(HEADER);
  if (at === -1) return -1;
  at = text.indexOf(':', at) + 1;
  const end = text.indexOf('\n', at);
  const value = text.substr(at, end - at - 1).trim(); // drops the CR, as the seed does
  return seedStyleHash(value.split('.'), SEED);
}

// ---------------------------------------------------------------- variants

function variants() {
  const out = [];
  const problems = [];
  const add = (name, what, fn) => out.push({ name, what, fn, samples: [] });

  const sets = [];
  try {
    sets.push(['native', require(path.join(dist, 'binding.js')).loadNative()]);
  } catch (error) {
    problems.push(`native: ${error.message}`);
  }
  try {
    const mod = require(path.join(dist, 'fallback', 'index.js'));
    sets.push(['fallback', mod.fallback || mod.default]);
  } catch (error) {
    problems.push(`fallback: ${error.message}`);
  }
  for (const [kind, p] of sets) {
    const scan = p.scanHead(HEAD, HEADER, LIMIT);
    if (scan.status !== 'found') throw new Error(`${kind} scanHead answered ${scan.status} for the bench head`);
    const address = scan.address;
    add(`${kind} scanHead + hash64`, 'the whole routing decision for a header-routed connection', () => {
      const r = p.scanHead(HEAD, HEADER, LIMIT);
      return Number(p.hash64(KEY, r.address) & 0xffn);
    });
    add(`${kind} scanHead`, 'find the header, parse the leftmost address (16-byte Buffer result)', () => p.scanHead(HEAD, HEADER, LIMIT).address[15]);
    add(`${kind} hash64`, 'SipHash-2-4 of a 16-byte address (BigInt result)', () => Number(p.hash64(KEY, address) & 0xffn));
  }
  // Native and fallback must agree before their times mean anything.
  if (sets.length === 2) {
    const [a, b] = sets.map(([, p]) => p.hash64(KEY, p.scanHead(HEAD, HEADER, LIMIT).address));
    if (a !== b) throw new Error('native and fallback disagree on the bench head');
  }
  if (seedApproach(HEAD) < 0) throw new Error('the seed approach did not find the header');
  add('seed approach (toString + toLowerCase + indexOf + int31 hash)', 'socketio-sticky-session 0.4.3 style, IPv4 text only', () => seedApproach(HEAD) & 0xff);
  return { list: out, problems };
}

// ---------------------------------------------------------------- timing

function timeBatch(fn, iterations) {
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink ^= fn();
  const ns = Number(process.hrtime.bigint() - t0);
  return { ns, sink };
}

function calibrate(fn) {
  let iterations = 1000;
  for (let step = 0; step < 20; step++) {
    const { ns } = timeBatch(fn, iterations);
    if (ns >= BATCH_MS * 1e6 * 0.5) return Math.max(1, Math.round((iterations * BATCH_MS * 1e6) / ns));
    iterations *= ns > 0 ? Math.min(10, Math.ceil((BATCH_MS * 1e6) / ns)) : 10;
  }
  return iterations;
}

function median(values) {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Compiles and runs bench/parse_native.cc on HEAD; null (with a reason in problems) if it cannot. */
function plainCpp(problems) {
  const root = path.join(__dirname, '..');
  const sources = ['http_head.cc', 'address.cc', 'siphash.cc', 'cidr.cc'].map((f) => path.join(root, 'native', f));
  const harness = path.join(__dirname, 'parse_native.cc');
  const binary = path.join(__dirname, '.build', 'parse_native');
  let dir;
  try {
    fs.mkdirSync(path.dirname(binary), { recursive: true });
    const newest = Math.max(...[harness, ...sources].map((f) => fs.statSync(f).mtimeMs));
    if (!fs.existsSync(binary) || fs.statSync(binary).mtimeMs < newest) {
      execFileSync(process.env.CXX || 'c++', ['-O3', '-std=c++17', '-o', binary, harness, ...sources], { stdio: 'pipe' });
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sticky-parse-'));
    const file = path.join(dir, 'head');
    fs.writeFileSync(file, HEAD);
    const out = execFileSync(binary, [file, HEADER, String(RUNS), String(BATCH_MS)], { encoding: 'utf8', timeout: 120000 });
    return JSON.parse(out);
  } catch (error) {
    problems.push(`plain C++ (bench/parse_native.cc): ${String(error.stderr || error.message).trim().split('\n')[0]}`);
    return null;
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

function main() {
  const { list, problems } = variants();
  let sink = 0;
  for (const v of list) v.iterations = calibrate(v.fn); // also warms the JIT
  for (let run = 0; run < RUNS; run++) {
    for (const v of list) {
      const { ns, sink: s } = timeBatch(v.fn, v.iterations);
      sink ^= s;
      v.samples.push(ns / v.iterations);
    }
  }
  const rows = list.map((v) => ({
    variant: v.name,
    what: v.what,
    nsPerOp: median(v.samples),
    min: Math.min(...v.samples),
    max: Math.max(...v.samples),
  }));
  const cpp = plainCpp(problems);
  if (cpp) {
    const what = 'the same C++ called in a C++ loop: no N-API, no allocation';
    rows.push(
      { variant: 'plain C++ scan_head + siphash24', what, nsPerOp: cpp.both, min: NaN, max: NaN },
      { variant: 'plain C++ scan_head', what, nsPerOp: cpp.scan_head, min: NaN, max: NaN },
      { variant: 'plain C++ siphash24', what, nsPerOp: cpp.siphash24, min: NaN, max: NaN },
    );
  }
  const seed = rows.find((r) => r.variant.startsWith('seed'));
  // The figure the native core is held to: plain C++ scan + hash of the head,
  // against the whole decision in the pure-TS fallback.
  const cppBoth = rows.find((r) => r.variant === 'plain C++ scan_head + siphash24');
  const fallbackBoth = rows.find((r) => r.variant === 'fallback scanHead + hash64');
  const goal = cppBoth && fallbackBoth ? { cppNs: cppBoth.nsPerOp, fallbackNs: fallbackBoth.nsPerOp, ratio: fallbackBoth.nsPerOp / cppBoth.nsPerOp } : null;
  const result = {
    head: { bytes: HEAD.length, headerAt: HEAD.indexOf('X-Forwarded-For') },
    runs: RUNS,
    batchMs: BATCH_MS,
    node: process.version,
    goal,
    rows,
    problems,
    sink,
  };
  if (FORMAT === 'json') {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return;
  }
  const fmt = (n) => (!Number.isFinite(n) ? '—' : n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1));
  const lines = [
    `${HEAD.length}-byte request head, X-Forwarded-For at byte ${result.head.headerAt}; median of ${RUNS} runs of ~${BATCH_MS} ms, Node ${process.version}.`,
    '',
    '| variant | ns/op (median) | min..max | speed-up over the seed approach |',
    '|---|---:|---:|---:|',
    ...rows.map((r) => `| ${r.variant} | ${fmt(r.nsPerOp)} | ${Number.isFinite(r.min) ? `${fmt(r.min)}..${fmt(r.max)}` : '—'} | ${seed ? (seed.nsPerOp / r.nsPerOp).toFixed(1) + 'x' : '—'} |`),
    '',
    'Every native call crosses N-API and allocates its result (a Buffer and an object for scanHead, a BigInt',
    'for hash64), so the `native` rows are what JavaScript pays per call; the `plain C++` rows are the work',
    'itself (same sources, -O3, timed in C++). Their difference is the N-API crossing.',
    ...(goal
      ? ['', `Native core: ${fmt(goal.cppNs)} ns per scan + hash (plain C++), ${goal.ratio.toFixed(1)}x the fallback's ${fmt(goal.fallbackNs)} ns.`]
      : []),
    ...problems.map((p) => `Not measured: ${p}`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main();

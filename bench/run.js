#!/usr/bin/env node
'use strict';
// npm run bench: every contender of every workload (bench/lib/contenders.js,
// bench/lib/workloads.js) in alternating rounds, the same load for all, the
// CPU time of every server process over the measured window; prints a table
// per workload and, unfiltered, writes docs/benchmarks.md, its charts and the
// README's figures. See bench/README.md for the options and every column.

const os = require('node:os');
const fs = require('node:fs');
const { CONTENDERS } = require('./lib/contenders');
const { WORKLOADS, trialFigures } = require('./lib/workloads');
const { summarize } = require('./lib/summary');
const { consoleTable, fmtInt, fmtMs } = require('./lib/tables');
const { writeDocs } = require('./lib/docs');
const { runMicro } = require('./lib/micro');
const { runCeiling } = require('./lib/ceiling');
const { Trial, buildC, cpuMs, freePort, killEverythingNow, runGenerator, tracked, which } = require('./lib/processes');

const HELP = `usage: npm run bench -- [options]     (each option also reads an env variable)
  --rounds N          rounds; contenders alternate within each (BENCH_ROUNDS, 3)
  --seconds S         measured seconds per contender and round (BENCH_SECONDS, 4)
  --warmup S          load before the measured window (BENCH_WARMUP, 1)
  --generators N      load generator processes (BENCH_GENERATORS, 2)
  --workloads a,b     conn, keepalive, ws, storm (BENCH_WORKLOADS, all)
  --concurrency N     conn: connections in flight in all (BENCH_CONCURRENCY, 32)
  --sources N         client source addresses from 127.0.1.1 upward (BENCH_SOURCES, 256)
  --xff N             distinct X-Forwarded-For values in header rows (BENCH_XFF, 4096)
  --ka-connections N  keepalive: connections in flight (BENCH_KA_CONNECTIONS, 64)
  --ka-requests N     keepalive: requests per connection (BENCH_KA_REQUESTS, 100)
  --ws-clients N      ws: Socket.IO clients (BENCH_WS_CLIENTS, 64)
  --storm-clients N   storm: Socket.IO clients connecting at once (BENCH_STORM_CLIENTS, 2000)
  --only a,b          contenders by id (exact), or every id containing the word (BENCH_ONLY)
  --write/--no-write  write docs/benchmarks.md, its charts and the README figures
                      (BENCH_WRITE; default: only when neither --only nor --workloads is given)
  --no-micro          skip the N-API and parsing micro-benchmarks (BENCH_MICRO=0)
  --no-ceiling        skip the primary's ceiling (BENCH_CEILING=0)
  --list              list the contenders and their workloads, and exit
`;

function parseOptions(argv, env) {
  const num = (name, fallback) => (env[name] === undefined || env[name] === '' ? fallback : Number(env[name]));
  const list = (value) => (value ? String(value).split(',').filter(Boolean) : null);
  const o = {
    rounds: num('BENCH_ROUNDS', 3),
    seconds: num('BENCH_SECONDS', 4),
    warmup: num('BENCH_WARMUP', 1),
    generators: num('BENCH_GENERATORS', 2),
    workloads: list(env.BENCH_WORKLOADS),
    concurrency: num('BENCH_CONCURRENCY', 32),
    sources: num('BENCH_SOURCES', 256),
    xff: num('BENCH_XFF', 4096),
    kaConnections: num('BENCH_KA_CONNECTIONS', 64),
    kaRequests: num('BENCH_KA_REQUESTS', 100),
    wsClients: num('BENCH_WS_CLIENTS', 64),
    stormClients: num('BENCH_STORM_CLIENTS', 2000),
    only: list(env.BENCH_ONLY),
    write: env.BENCH_WRITE === undefined ? null : env.BENCH_WRITE !== '0',
    micro: env.BENCH_MICRO !== '0',
    ceiling: env.BENCH_CEILING !== '0',
    list: false,
  };
  const numeric = {
    '--rounds': 'rounds', '--seconds': 'seconds', '--warmup': 'warmup', '--generators': 'generators',
    '--concurrency': 'concurrency', '--sources': 'sources', '--xff': 'xff', '--ka-connections': 'kaConnections',
    '--ka-requests': 'kaRequests', '--ws-clients': 'wsClients', '--storm-clients': 'stormClients',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (numeric[arg]) o[numeric[arg]] = Number(value());
    else if (arg === '--workloads') o.workloads = list(value());
    else if (arg === '--only') o.only = list(value());
    else if (arg === '--write') o.write = true;
    else if (arg === '--no-write') o.write = false;
    else if (arg === '--no-micro') o.micro = false;
    else if (arg === '--no-ceiling') o.ceiling = false;
    else if (arg === '--list') o.list = true;
    else if (arg === '-h' || arg === '--help') {
      process.stdout.write(HELP);
      process.exit(0);
    } else throw new Error(`unknown option ${arg}\n${HELP}`);
  }
  const check = (name, min, max) => {
    const v = o[name];
    if (!Number.isFinite(v) || v < min || v > max) throw new Error(`${name} must be from ${min} to ${max}, got ${v}`);
  };
  check('rounds', 1, 20);
  check('seconds', 0.2, 120);
  check('warmup', 0, 30);
  check('generators', 1, 16);
  check('concurrency', 1, 4096);
  check('sources', 1, 65000);
  check('xff', 1, 65536);
  check('kaConnections', 1, 4096);
  check('kaRequests', 1, 100000);
  check('wsClients', 1, 10000);
  check('stormClients', 1, 20000);
  for (const key of ['rounds', 'generators']) o[key] = Math.floor(o[key]);
  const known = WORKLOADS.map((w) => w.id);
  for (const w of o.workloads || []) if (!known.includes(w)) throw new Error(`unknown workload ${w}: pick from ${known.join(', ')}`);
  if (o.write === null) o.write = !o.only && !o.workloads;
  return o;
}

// ---------------------------------------------------------------- one trial

/** Starts the contender, drives the load, reads every server process's CPU time at the window's edges, stops it. */
async function runTrial(workload, contender, o) {
  const trial = new Trial(contender.id);
  const port = await freePort();
  const timers = [];
  try {
    const broken = contender.broken && contender.broken();
    if (broken) throw new Error(broken);
    const started = await contender.start(trial, port, workload.app === 'socketio' ? { BENCH_APP: 'socketio' } : {});
    trial.snapshot();
    const lead = workload.storm ? 0.3 : o.warmup;
    const startAt = Date.now() + Math.round(lead * 1000) + 200;
    const cpu = { serverCpuMs: NaN, primaryCpuMs: null, windowMs: NaN, generatorWallMs: NaN };
    let pids = [];
    let primary = [];
    let server0 = 0;
    let primary0 = 0;
    let t0 = 0n;
    let ended = false;
    const at = (when, fn) => timers.push(setTimeout(fn, Math.max(0, when - Date.now())));
    at(startAt - 150, () => {
      trial.snapshot();
      pids = trial.serverPids();
      primary = started.primaryPids();
    });
    at(startAt, () => {
      server0 = cpuMs(pids);
      primary0 = cpuMs(primary);
      t0 = process.hrtime.bigint();
    });
    const end = () => {
      if (ended || !t0) return;
      ended = true;
      cpu.serverCpuMs = cpuMs(pids) - server0;
      cpu.primaryCpuMs = primary.length ? cpuMs(primary) - primary0 : null;
      cpu.windowMs = Number(process.hrtime.bigint() - t0) / 1e6;
    };
    if (!workload.storm) at(startAt + Math.round(o.seconds * 1000), end);
    let running = o.generators;
    const limitMs = (o.warmup + o.seconds + 40) * 1000;
    const g0 = Date.now();
    const outputs = await Promise.all(
      Array.from({ length: o.generators }, (_, g) =>
        runGenerator(workload.generator, workload.args(o, g, started.ports[g % started.ports.length], startAt, contender.header), limitMs, () => {
          if (workload.storm && --running === 0) end();
        }),
      ),
    );
    cpu.generatorWallMs = Date.now() - g0;
    if (!ended) throw new Error('the load ended before its measured window');
    const dead = trial.died();
    if (dead) throw new Error(`died during the run: ${dead}`);
    return { ok: true, figures: trialFigures(workload, outputs, cpu) };
  } catch (error) {
    return { ok: false, error: String(error.message || error).replace(/\s+/g, ' ').trim() };
  } finally {
    for (const timer of timers) clearTimeout(timer);
    await trial.stop();
  }
}

function trialLine(workload, result) {
  if (!result.ok) return `error: ${result.error}`;
  const f = result.figures;
  const head = workload.storm
    ? `${fmtInt(f.connected)}/${fmtInt(f.clients)} connected in ${Number.isFinite(f.allConnectedMs) ? (f.allConnectedMs / 1000).toFixed(2) : '—'} s`
    : `${fmtInt(f.rate)} ${workload.rateUnit}`;
  return `${head}, server ${fmtInt(f.usPerUnit)} µs/${workload.unit}, p99 ${fmtMs(f.p99)} ms, errors ${f.errorsTotal}`;
}

// ---------------------------------------------------------------- main

function selected(o) {
  const picks = (c, word) => (CONTENDERS.some((x) => x.id === word) ? c.id === word : c.id.includes(word));
  const workloads = WORKLOADS.filter((w) => !o.workloads || o.workloads.includes(w.id));
  const contenders = CONTENDERS.filter((c) => !o.only || o.only.some((word) => picks(c, word)));
  const skipped = contenders.filter((c) => c.needs && !which(c.needs));
  const usable = contenders.filter((c) => !skipped.includes(c));
  const plan = workloads
    .map((w) => ({ workload: w, contenders: usable.filter((c) => c.workloads.includes(w.id)) }))
    .filter((p) => p.contenders.length);
  return { plan, skipped };
}

async function main() {
  const o = parseOptions(process.argv.slice(2), process.env);
  if (o.list) {
    for (const c of CONTENDERS) console.log(`${c.id.padEnd(30)} ${c.workloads.join(',').padEnd(24)} ${c.label}`);
    return;
  }
  const { plan, skipped } = selected(o);
  if (!plan.length) throw new Error('no contender matches --only and --workloads');
  buildC('loadgen');
  buildC('sioload');
  for (const name of new Set(plan.flatMap((p) => p.contenders.flatMap((c) => c.build || [])))) buildC(name);

  const loadBefore = loadavg();
  const trials = plan.reduce((n, p) => n + p.contenders.length, 0) * o.rounds;
  const perTrial = o.warmup + o.seconds + 3;
  console.log(
    `sticky-native bench: ${plan.map((p) => `${p.workload.id} (${p.contenders.length})`).join(', ')} x ${o.rounds} rounds, ` +
      `${o.warmup} s + ${o.seconds} s each (about ${Math.ceil((trials * perTrial) / 60)} min); load average ${loadBefore}`,
  );
  for (const c of skipped) console.log(`  skipped ${c.id}: ${c.needs} is not installed (see bench/README.md)`);

  const results = new Map(plan.map((p) => [p.workload.id, new Map(p.contenders.map((c) => [c.id, []]))]));
  for (let round = 0; round < o.rounds; round++) {
    for (const { workload, contenders } of plan) {
      // Contenders alternate: each round starts one further along, odd rounds run backwards.
      let order = contenders.map((_, i) => contenders[(i + round) % contenders.length]);
      if (round % 2) order = order.reverse();
      for (const contender of order) {
        const result = await runTrial(workload, contender, o);
        if (stopping) return new Promise(() => {}); // a signal is ending the run; its handler exits
        results.get(workload.id).get(contender.id).push({ round, ...result });
        console.log(`  round ${round + 1}/${o.rounds}  ${workload.id.padEnd(9)} ${contender.id.padEnd(30)} ${trialLine(workload, result)}`);
      }
    }
  }
  const loadAfter = loadavg();
  const sections = plan.map(({ workload, contenders }) => {
    const byId = results.get(workload.id);
    const limit = contenders.find((c) => c.id === workload.limit);
    const rows = contenders.map((c) => summarize(workload, c, byId.get(c.id), limit ? byId.get(limit.id) : null));
    return { workload, rows, limitLabel: limit ? limitName(limit) : 'limit' };
  });
  for (const { workload, rows, limitLabel } of sections) {
    console.log(`\n${workload.title} (${workload.unit}):`);
    console.log(consoleTable(workload, rows, limitLabel));
    for (const r of rows) for (const n of r.notes) console.log(`note: ${r.id}: ${n}`);
  }
  console.log(`\nload average before ${loadBefore}, after ${loadAfter}`);

  const micro = o.micro ? await runMicro() : null;
  if (micro) console.log(`\n${micro.text}`);
  const ceiling = o.ceiling ? await runCeiling(o) : null;
  if (ceiling) console.log(`\n${ceiling.text}`);
  if (o.write) {
    const busy = [loadBefore, loadAfter].some((l) => Number(l.split(' ')[0]) >= os.cpus().length * 0.75);
    const written = writeDocs({
      sections,
      micro,
      ceiling,
      options: o,
      command: `npm run bench${process.argv.slice(2).length ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      machine: machine(),
      date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      loadBefore,
      loadAfter,
      busy,
    });
    console.log(`wrote ${written.join(', ')}`);
  }
}

/** What the ratio columns call a workload's limit. */
function limitName(contender) {
  return { reuseport: '(a)', 'cluster-rr': 'cluster-rr', haproxy: 'HAProxy' }[contender.id] || contender.id;
}

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0] ? cpus[0].model.replace(/\s+/g, ' ').trim() : 'unknown',
    cores: cpus.length,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
  };
}

const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.error(`\n${signal}: stopping every process this run started`);
    killEverythingNow();
    // Give Node a moment to reap the children it spawned, so no zombie outlives the run.
    setTimeout(() => process.exit(130), 300);
  });
}
process.on('exit', () => {
  if (tracked.size) killEverythingNow();
});

module.exports = { parseOptions };

if (require.main === module) {
  main().catch((error) => {
    console.error(error.stack || error.message || error);
    killEverythingNow();
    process.exit(1);
  });
}

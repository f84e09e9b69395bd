#!/usr/bin/env node
'use strict';
// npm run bench:trickle: the primary's CPU and a good client's latency while
// trickling clients send their heads one byte per segment (bench/trickle-load.js),
// for each data path that peeks. Each run starts test/fixtures/hostile-primary.js
// (2 workers) and stops it by its pid.
//
//   node bench/trickle.js [--only channel+header,...] (default: the runs that peek) [--connections 50] [--bytes 2048]
//                         [--interval 4] [--head-timeout 60000]
//
// STICKY_PEEK=whole in the environment runs the primary with the old
// whole-head peek on every readiness (the control); see docs/internals.md.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { runTrickle, percentile } = require('./trickle-load');

const ROOT = path.join(__dirname, '..');
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'hostile-primary.js');

// Data path -> the core, transport and routing it runs. The first four peek
// (the native channel, the native peeker over IPC); the rest read the first
// bytes in JavaScript instead, for comparison.
const RUNS = {
  'channel+header': { core: 'native', transport: 'channel', routing: 'header' },
  'channel+sid': { core: 'native', transport: 'channel', routing: 'sid' },
  'channel+proxy-protocol': { core: 'native', transport: 'channel', routing: 'proxy-protocol' },
  'ipc+header': { core: 'native', transport: 'ipc', routing: 'header' },
  'ipc+sid': { core: 'native', transport: 'ipc', routing: 'sid' },
  'ipc+proxy-protocol': { core: 'native', transport: 'ipc', routing: 'proxy-protocol' },
  'fallback+header': { core: 'fallback', transport: 'ipc', routing: 'header' },
};
const PEEKING = Object.keys(RUNS).slice(0, 4);

function options(argv) {
  const o = { only: PEEKING, connections: 50, bytes: 2048, interval: 4, headTimeout: 60_000 };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      return argv[++i];
    };
    switch (argv[i]) {
      case '--only': o.only = value().split(','); break;
      case '--connections': o.connections = Number(value()); break;
      case '--bytes': o.bytes = Number(value()); break;
      case '--interval': o.interval = Number(value()); break;
      case '--head-timeout': o.headTimeout = Number(value()); break;
      default: throw new Error(`unknown option ${argv[i]} (see the top of bench/trickle.js)`);
    }
  }
  for (const name of o.only) if (!RUNS[name]) throw new Error(`unknown run ${name}; one of ${Object.keys(RUNS).join(', ')}`);
  return o;
}

function childrenOf(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Starts the fixture; resolves with its pid, port and a stop() that ends it and its workers by pid. */
function start(run, headTimeout) {
  const child = spawn(process.execPath, [FIXTURE], {
    cwd: ROOT,
    env: {
      ...process.env,
      STICKY_NATIVE: run.core,
      STICKY_TRANSPORT: run.transport,
      FIX_OPTIONS: JSON.stringify({ routing: run.routing, headTimeout }),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const stop = async () => {
    const workers = childrenOf(child.pid);
    if (child.exitCode === null) child.kill('SIGTERM');
    const exited = new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    for (const pid of [child.pid, ...workers]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  };
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => stop().then(() => reject(new Error('the fixture did not listen within 15 s'))), 15_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const listening = /^listening (\d+)$/m.exec(out);
      if (!listening) return;
      clearTimeout(timer);
      child.stdout.removeAllListeners('data');
      child.stdout.resume();
      resolve({ pid: child.pid, port: Number(listening[1]), stop });
    });
    child.once('exit', (code) => reject(new Error(`the fixture exited (${code}) before listening`)));
  });
}

async function main() {
  const o = options(process.argv.slice(2));
  const peek = process.env.STICKY_PEEK || 'default';
  console.log(
    `trickle: ${o.connections} connections x ${o.bytes} B, 1 B every ${o.interval} ms; a good request every 100 ms; ` +
      `headTimeout ${o.headTimeout} ms; STICKY_PEEK=${peek}`,
  );
  console.log('run                      primary CPU   wakeups  good: n   median   p99      max     failed   trickled: answered/closed/open, last closed');
  for (const name of o.only) {
    const run = RUNS[name];
    const fixture = await start(run, o.headTimeout);
    try {
      const result = await runTrickle({
        port: fixture.port,
        pid: fixture.pid,
        kind: run.routing,
        connections: o.connections,
        bytes: o.bytes,
        intervalMs: o.interval,
        maxMs: o.headTimeout * 3 + o.bytes * o.interval,
      });
      const ms = result.good.filter((g) => g.status === 200).map((g) => g.ms);
      const answered = result.trickled.filter((t) => t.status !== 0).length;
      const open = result.trickled.filter((t) => t.how === 'still-open').length;
      const lastClosed = Math.max(...result.trickled.map((t) => t.afterMs));
      const f = (n) => `${n.toFixed(1)} ms`.padEnd(9);
      console.log(
        `${name.padEnd(25)}${`${result.cpuPercent.toFixed(1)}%`.padEnd(14)}${String(result.wakeups).padEnd(9)}${String(result.good.length).padEnd(8)}` +
          `${f(percentile(ms, 50))}${f(percentile(ms, 99))}${f(Math.max(...ms))}${String(result.good.length - ms.length).padEnd(9)}` +
          `${answered}/${o.connections - answered - open}/${open}, ${lastClosed} ms`,
      );
    } finally {
      await fixture.stop();
    }
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

'use strict';
// The micro-benchmarks, each in its own Node process: bench/parse.js (the
// header scan and hash, native, fallback, the seed's approach, plain C++).

const path = require('node:path');
const { spawn } = require('node:child_process');
const { ROOT, killTracked, lastLines, track } = require('./processes');

function runScript(script, args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bench', script), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid) track(child.pid);
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const timer = setTimeout(() => child.pid && killTracked(child.pid, 'SIGKILL'), 180000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(code === 0 ? out.trim() : `${script} failed: ${lastLines(err || out)}`);
    });
  });
}

async function runMicro() {
  const parse = await runScript('parse.js', ['--markdown']);
  return { parse, text: `parse micro-benchmark (bench/parse.js):\n${parse}` };
}

module.exports = { runMicro, runScript };

'use strict';
// What an unfiltered run writes: docs/benchmarks.md (machine, date, load, a
// table and a chart per workload, the targets, the micro-benchmarks, the
// primary's ceiling), docs/benchmarks-<workload>.svg, and the README's
// figures between its bench markers, so the README quotes only this output.

const fs = require('node:fs');
const path = require('node:path');
const { ROOT } = require('./processes');
const { workloadChart } = require('./charts');
const { markdownTable, fmtInt, fmtX } = require('./tables');

const DOCS = path.join(ROOT, 'docs');
const README = path.join(ROOT, 'README.md');
const BEGIN = '<!-- bench:begin (written by npm run bench; edit bench/lib/docs.js instead) -->';
const END = '<!-- bench:end -->';

const row = (section, id) => section && section.rows.find((r) => r.id === id && !r.error);
const sectionOf = (sections, id) => sections.find((s) => s.workload.id === id);

/** Each target of issue 11 with the measured figure; `ok` null where a row is missing. */
function targets(sections) {
  const out = [];
  const add = (what, value, ok, shown) => out.push({ what, value: shown ?? fmtX(value), ok: Number.isFinite(value) ? ok(value) : null });
  const conn = sectionOf(sections, 'conn');
  add('connection storm: kernel steering, server CPU per connection vs (a)', row(conn, 'sn-ip-kernel')?.vsCpu, (v) => v <= 1.05);
  add('connection storm: native channel, ip, server CPU per connection vs (a)', row(conn, 'sn-ip-channel')?.vsCpu, (v) => v <= 1.15);
  add('connection storm: native channel, X-Forwarded-For, server CPU per connection vs (a)', row(conn, 'sn-header-channel')?.vsCpu, (v) => v <= 1.15);
  const ka = sectionOf(sections, 'keepalive');
  const ws = sectionOf(sections, 'ws');
  for (const [section, limit] of [[ka, '(a)'], [ws, 'cluster-rr']]) {
    if (!section) continue;
    const name = section.workload.title.toLowerCase();
    for (const r of section.rows.filter((x) => x.group === 'sn' && !x.error)) {
      add(`${name}: ${r.label}, ${section.workload.rateUnit} vs ${limit} (>= 0.97x)`, r.vsRate, (v) => v >= 0.97);
      add(`${name}: ${r.label}, ${section.workload.unit}s per CPU second vs ${limit} (>= 0.97x)`, 1 / r.vsCpu, (v) => v >= 0.97);
      for (const proxy of ['haproxy', 'nginx']) {
        const p = row(section, proxy);
        if (p) add(`${name}: ${r.label}, ${section.workload.unit}s per CPU second vs ${p.label} (>= 1.8x)`, p.usPerUnit / r.usPerUnit, (v) => v >= 1.8);
      }
    }
  }
  return out;
}

function targetsMarkdown(sections) {
  const list = targets(sections);
  if (!list.length) return [];
  return [
    '## Targets (issue 11)',
    '',
    'Ratios of medians from this run (the ratio columns pair each row with its limit round by round). CPU targets compare',
    'server CPU per unit of work, summed over every server process, which holds on a small machine where the load',
    'generators share the cores.',
    '',
    '| target | measured | met |',
    '|---|---:|:---:|',
    ...list.map((t) => `| ${t.what} | ${t.value} | ${t.ok === null ? '—' : t.ok ? 'yes' : '**no**'} |`),
    '',
  ];
}

/** The README's block: per workload, the rows a reader compares, and its chart. */
function readmeBlock(info) {
  const { sections, date, machine, command } = info;
  const lines = [
    BEGIN,
    `From the last full run (\`${command}\`, ${date}, ${machine.cpu}, ${machine.cores} cores, Node ${machine.node});`,
    'every figure below is in [docs/benchmarks.md](docs/benchmarks.md) with the load, the other contenders and the',
    'columns explained. Server CPU is summed over every process of a contender (primary and workers, or proxy and',
    'backends), per unit of work; the ratios are to the workload\'s limit in the same run.',
    '',
  ];
  const pick = ['reuseport', 'cluster-rr', 'sn-ip-kernel', 'sn-ip-channel', 'sn-header-channel', 'sn-sid-channel', 'sticky-session', 'socket.io-sticky', 'haproxy', 'nginx'];
  for (const s of sections) {
    const w = s.workload;
    const rows = pick.map((id) => row(s, id)).filter(Boolean);
    if (!rows.length) continue;
    lines.push(`**${w.title}** ([chart](docs/benchmarks-${w.id}.svg)):`, '');
    if (w.storm) {
      lines.push(`| contender | all connected in | server µs/${w.unit} | CPU vs ${s.limitLabel} |`, '|---|---:|---:|---:|');
      for (const r of rows) lines.push(`| ${r.label} | ${Number.isFinite(r.allConnectedMs) ? `${(r.allConnectedMs / 1000).toFixed(2)} s` : `${fmtInt(r.connected)}/${fmtInt(r.clients)} connected`} | ${fmtInt(r.usPerUnit)} | ${fmtX(r.vsCpu)} |`);
    } else {
      lines.push(`| contender | ${w.rateUnit} | server µs/${w.unit} | CPU vs ${s.limitLabel} |`, '|---|---:|---:|---:|');
      for (const r of rows) lines.push(`| ${r.label} | ${fmtInt(r.rate)} | ${fmtInt(r.usPerUnit)} | ${fmtX(r.vsCpu)} |`);
    }
    lines.push('');
  }
  lines.push(END);
  return lines.join('\n');
}

function writeReadme(info) {
  const text = fs.readFileSync(README, 'utf8');
  const from = text.indexOf(BEGIN);
  const to = text.indexOf(END);
  if (from < 0 || to < from) throw new Error(`README.md has no "${BEGIN}" ... "${END}" block for the bench to fill`);
  fs.writeFileSync(README, text.slice(0, from) + readmeBlock(info) + text.slice(to + END.length));
}

const CONTENDER_NOTES = [
  '- **(a) SO_REUSEPORT group, no BPF** (`bench/reuseport.c` + `bench/apps/reuseport.js`): the same two cluster workers as kernel',
  '  steering, each listening on its own member of an SO_REUSEPORT group, with no BPF program and no sticky-native: the kernel spreads',
  '  connections by its hash of the 4-tuple. Not sticky; what kernel steering costs at best.',
  '- **(b) 2 plain processes, 2 ports**: two `bench/apps/single.js` on ports of their own; each load generator process drives one of them.',
  '- **sticky-native** (`bench/apps/sticky-native.js`): `createBalancer({ workers: 2, routing, transport })` and `serve()`, run with',
  '  `STICKY_NATIVE=native` (the fallback row: `fallback`). `kernel` = SO_REUSEPORT group with BPF steering, `channel` = native accept',
  '  and SCM_RIGHTS batches, `ipc` = `worker.send(msg, socket)`. `sid` routing names the worker in the Socket.IO session id',
  '  (`stickySessionIds(io)`).',
  '- **sticky-session 1.1.2**: its `Master` bound to 127.0.0.1, `sticky.listen` in the workers.',
  '- **socketio-sticky-session 0.4.3**: `sticky({ num: 2, proxy }, factory)`; the proxy row sends X-Forwarded-For (answers 400 on Node 20).',
  '- **@socket.io/sticky 2.0.1**: `setupMaster(httpServer, { loadBalancingMethod: "least-connection" })`, `setupWorker(io)`. Its primary',
  '  reads every HTTP request and relays it to a worker by the Engine.IO `sid`; requests without one go to the worker with the fewest',
  '  sessions (with none open: always the first).',
  '- **node cluster round-robin**: both workers listen, the primary accepts and passes each connection round-robin; not sticky.',
  '- **one Node process**: the same app, no cluster.',
  '- **plain C hand-off** (`bench/handoff.c`): the native channel\'s per-connection work in C with 2 C workers; its `primary µs/conn`',
  '  is the kernel\'s share of a hand-off, the floor under the channel rows.',
  '- **HAProxy / nginx**: `balance source` (mode http) and `hash $remote_addr consistent` (keep-alive upstream, WebSocket upgrade',
  '  passed) in front of 2 plain Node processes; configs generated into a temp dir, loopback only.',
];

function writeDocs(info) {
  const { sections, micro, ceiling, options: o, machine: m, date, loadBefore, loadAfter, busy, command } = info;
  fs.mkdirSync(DOCS, { recursive: true });
  const written = [];
  const subtitle = `${m.cpu}, ${m.cores} cores, Node ${m.node}; ${o.rounds} rounds x ${o.seconds} s; ${date}`;
  for (const s of sections) {
    const file = path.join(DOCS, `benchmarks-${s.workload.id}.svg`);
    fs.writeFileSync(file, workloadChart(s.workload, s.rows, subtitle));
    written.push(path.relative(ROOT, file));
  }
  const md = [
    '# Benchmarks',
    '',
    `Generated by \`${command}\` (bench/run.js) on ${date}. Re-run it to refresh this page, its charts and the README's`,
    'figures; [bench/README.md](../bench/README.md) explains the options, the load generators and every column.',
    '',
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.kernel}, Node ${m.node}`,
    `- Load average (1/5/15 min): ${loadBefore} before, ${loadAfter} after. ${busy ? 'The machine was shared and busy during the run: absolute figures are low, compare the ratios.' : 'The machine was otherwise quiet.'}`,
    `- Run: ${o.rounds} round(s); in each, every workload's contenders one after the other, starting one further along each round and`,
    `  backwards in odd rounds; per contender and round ${o.warmup} s of load before a ${o.seconds} s measured window; medians over the rounds`,
    `- Load generators: ${o.generators} processes per trial, their CPU beside the servers' (\`loadgen CPU\`, 100% = one core)`,
    '- Every balanced contender has 2 workers (or 2 backend processes behind the C proxies)',
    '- `server µs/unit`: user + system CPU time (/proc) of every process of the contender over the window, over the units of work done in it;',
    '  `primary µs/unit` the same for the balancing process alone (HAProxy, nginx: the proxy processes). Ratios are medians of per-round ratios',
    '  to the workload\'s limit: `CPU vs` below 1 is cheaper than the limit, the rate ratio above 1 is faster',
    '',
  ];
  for (const s of sections) {
    const w = s.workload;
    md.push(`## ${w.title}`, '', `Load: ${w.what(o)}. Limit: ${s.limitLabel}.`, '', `![${w.title}](benchmarks-${w.id}.svg)`, '', markdownTable(w, s.rows, s.limitLabel), '');
    const notes = s.rows.filter((r) => r.notes.length);
    for (const r of notes) for (const n of r.notes) md.push(`- **${r.label}**: ${n}`);
    if (notes.length) md.push('');
  }
  md.push(...targetsMarkdown(sections));
  if (micro) md.push('## Micro-benchmarks', '', micro.markdown || micro.text, '');
  if (ceiling) md.push("## The primary's ceiling", '', ceiling.markdown, '');
  md.push('## What each contender is', '', ...CONTENDER_NOTES, '');
  fs.writeFileSync(path.join(DOCS, 'benchmarks.md'), md.join('\n'));
  written.push('docs/benchmarks.md');
  writeReadme({ sections, date, machine: m, command });
  written.push('README.md (bench block)');
  return written;
}

module.exports = { writeDocs, targets };

'use strict';
// The bench's tables: one per workload, the same cells on the console and in
// docs/benchmarks.md.

const { describeErrors } = require('./summary');

const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const fmtX = (n) => (Number.isFinite(n) ? `${n.toFixed(2)}x` : '—');
const fmtMs = (us) => (Number.isFinite(us) ? (us / 1000).toFixed(2) : '—');
const fmtPct = (n) => (Number.isFinite(n) ? `${Math.round(n)}%` : '—');
const fmtS = (ms) => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '—');

function spread(workers) {
  const total = (workers || []).reduce((a, b) => a + b, 0);
  if (!total) return '—';
  return workers.slice(0, Math.max(2, workers.length)).map((n) => Math.round((100 * (n || 0)) / total)).join('/');
}

const errorsCell = (r) => (r.errorsTotal ? `${fmtInt(r.errorsTotal)} (${describeErrors(r.errors)})` : '0');

/** The columns of a workload's table: [header, cell(row)]. */
function columns(workload, limitLabel) {
  const u = workload.unit;
  if (workload.storm) {
    return [
      ['all connected s', (r) => fmtS(r.allConnectedMs)],
      ['sessions/s', (r) => fmtInt(r.rate)],
      [`server µs/${u}`, (r) => fmtInt(r.usPerUnit)],
      [`CPU vs ${limitLabel}`, (r) => fmtX(r.vsCpu)],
      [`time vs ${limitLabel}`, (r) => fmtX(r.vsTime)],
      ['p50 ms', (r) => fmtMs(r.p50)],
      ['p99 ms', (r) => fmtMs(r.p99)],
      ['connected', (r) => `${fmtInt(r.connected)}/${fmtInt(r.clients)}`],
      ['errors', errorsCell],
      ['loadgen CPU', (r) => fmtPct(r.loadgenCpuPct)],
    ];
  }
  const cols = [
    [workload.rateUnit, (r) => fmtInt(r.rate)],
    [`server µs/${u}`, (r) => fmtInt(r.usPerUnit)],
    [`CPU vs ${limitLabel}`, (r) => fmtX(r.vsCpu)],
    [`${workload.rateUnit} vs ${limitLabel}`, (r) => fmtX(r.vsRate)],
    [`primary µs/${u}`, (r) => (Number.isFinite(r.primaryUsPerUnit) ? (r.primaryUsPerUnit < 10 ? r.primaryUsPerUnit.toFixed(1) : fmtInt(r.primaryUsPerUnit)) : '—')],
    ['p50 ms', (r) => fmtMs(r.p50)],
    ['p99 ms', (r) => fmtMs(r.p99)],
  ];
  if (workload.sticky) {
    cols.push(['violations', (r) => `${r.violations}/${r.identities}`]);
  } else {
    cols.push(['clients', (r) => `${fmtInt(r.connected)}/${fmtInt(r.clients)}`]);
  }
  cols.push(['errors', errorsCell]);
  if (workload.sticky) cols.push(['spread %', (r) => spread(r.workers)]);
  cols.push(['server CPU', (r) => fmtPct(r.serverCpuPct)], ['loadgen CPU', (r) => fmtPct(r.loadgenCpuPct)]);
  return cols;
}

function cells(workload, rows, limitLabel) {
  const cols = columns(workload, limitLabel);
  return {
    header: ['contender', ...cols.map(([h]) => h)],
    body: rows.map((r) => (r.error ? { label: r.label, error: r.error } : { label: r.label, cells: cols.map(([, cell]) => cell(r)) })),
  };
}

const escapeMd = (s) => String(s).replace(/\|/g, '\\|');

function markdownTable(workload, rows, limitLabel) {
  const { header, body } = cells(workload, rows, limitLabel);
  const lines = [`| ${header.map(escapeMd).join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const r of body) {
    if (r.error) lines.push(`| ${escapeMd(r.label)} | **error** |${' |'.repeat(header.length - 3)} ${escapeMd(r.error)} |`);
    else lines.push(`| ${[r.label, ...r.cells].map(escapeMd).join(' | ')} |`);
  }
  return lines.join('\n');
}

function consoleTable(workload, rows, limitLabel) {
  const { header, body } = cells(workload, rows, limitLabel);
  const full = body.filter((r) => !r.error).map((r) => [r.label, ...r.cells]);
  const widths = header.map((h, i) => Math.max(h.length, ...full.map((c) => String(c[i]).length), ...(i === 0 ? body.map((r) => r.label.length) : [])));
  const line = (c) => c.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join('  ');
  return [line(header), ...body.map((r) => (r.error ? `${r.label.padEnd(widths[0])}  error: ${r.error}` : line([r.label, ...r.cells])))].join('\n');
}

module.exports = { markdownTable, consoleTable, fmtInt, fmtX, fmtMs, fmtS };

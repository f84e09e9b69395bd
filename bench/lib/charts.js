'use strict';
// The bench's charts, SVG written by hand (no chart library): per workload two
// panels of horizontal bars, its rate (or, for the storm, the time until every
// client is connected) and the server CPU per unit of work.

const { fmtInt, fmtS } = require('./tables');

const COLORS = { limit: '#6a3d9a', sn: '#2f7ed8', peer: '#e4572e', proxy: '#3fa34d', ref: '#8c8c8c' };
const LEGEND = [['limit', 'baselines (the limit)'], ['sn', 'sticky-native'], ['peer', 'npm peers'], ['proxy', 'C proxies'], ['ref', 'references']];

const escapeXml = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function panel(out, rows, x, top, width, rowHeight, title, value, format) {
  const max = Math.max(1e-9, ...rows.filter((r) => !r.error && Number.isFinite(value(r))).map(value));
  out.push(`<text x="${x}" y="${top - 8}" font-weight="bold">${escapeXml(title)}</text>`);
  rows.forEach((r, i) => {
    const y = top + i * rowHeight;
    const v = r.error ? NaN : value(r);
    if (!Number.isFinite(v)) {
      out.push(`<text x="${x + 4}" y="${y + 17}" fill="#b00020">${r.error ? 'error' : '—'}</text>`);
      return;
    }
    const w = Math.max(1, Math.round(((width - 70) * v) / max));
    out.push(`<rect x="${x}" y="${y + 4}" width="${w}" height="${rowHeight - 8}" fill="${COLORS[r.group] || '#555'}"/>`);
    out.push(`<text x="${x + w + 5}" y="${y + 17}">${format(v)}</text>`);
  });
}

/** The workload's chart; `subtitle` says the machine and the run. */
function workloadChart(workload, rows, subtitle) {
  const labelWidth = 330;
  const panelWidth = 330;
  const rowHeight = 24;
  const top = 78;
  const width = labelWidth + 2 * panelWidth + 30;
  const height = top + rows.length * rowHeight + 40;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="16" font-weight="bold">${escapeXml(workload.title)}: 2 workers (or 2 backends), medians of the rounds</text>`,
    `<text x="12" y="42" fill="#555">${escapeXml(subtitle)}</text>`,
  ];
  rows.forEach((r, i) => {
    out.push(`<text x="${labelWidth - 8}" y="${top + i * rowHeight + 17}" text-anchor="end">${escapeXml(r.label)}</text>`);
  });
  if (workload.storm) {
    panel(out, rows, labelWidth, top, panelWidth, rowHeight, 'seconds until all connected (lower is better)', (r) => r.allConnectedMs, (v) => fmtS(v));
  } else {
    panel(out, rows, labelWidth, top, panelWidth, rowHeight, `${workload.rateUnit} (higher is better)`, (r) => r.rate, fmtInt);
  }
  panel(out, rows, labelWidth + panelWidth + 10, top, panelWidth, rowHeight, `server CPU µs per ${workload.unit} (lower is better)`, (r) => r.usPerUnit, fmtInt);
  const legendY = top + rows.length * rowHeight + 24;
  LEGEND.forEach(([group, text], i) => {
    const x = 12 + i * 185;
    out.push(`<rect x="${x}" y="${legendY - 11}" width="12" height="12" fill="${COLORS[group]}"/>`);
    out.push(`<text x="${x + 18}" y="${legendY}">${escapeXml(text)}</text>`);
  });
  out.push('</svg>', '');
  return out.join('\n');
}

module.exports = { workloadChart };

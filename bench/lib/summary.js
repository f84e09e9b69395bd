'use strict';
// From trials to rows: medians over the rounds, errors summed, and each row's
// ratios to its workload's limit paired round by round (the limit ran in the
// same round, a minute apart at most, so the machine's drift cancels).

function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

const MEDIANS = ['rate', 'usPerUnit', 'primaryUsPerUnit', 'p50', 'p99', 'serverCpuPct', 'loadgenCpuPct', 'allConnectedMs'];

/** `trials`: [{ round, ok, figures | error }] of one contender in one workload. */
function summarize(workload, contender, trials, limitTrials) {
  const row = { id: contender.id, label: contender.label, group: contender.group, rounds: trials.length, error: null, notes: [] };
  const ran = trials.filter((t) => t.ok);
  const failed = trials.filter((t) => !t.ok);
  if (!ran.length) {
    row.error = failed[0] ? failed[0].error : 'not run';
    return row;
  }
  if (failed.length) row.notes.push(`${failed.length} of ${trials.length} rounds failed: ${failed[0].error}`);
  for (const key of MEDIANS) row[key] = median(ran.map((t) => t.figures[key]));
  row.errors = {};
  for (const t of ran) for (const [kind, n] of Object.entries(t.figures.errors)) if (n) row.errors[kind] = (row.errors[kind] || 0) + n;
  row.errorsTotal = Object.values(row.errors).reduce((a, b) => a + b, 0);
  row.firstError = (ran.find((t) => t.figures.firstError) || { figures: {} }).figures.firstError || null;
  row.served = ran.reduce((a, t) => a + t.figures.served, 0);
  if (workload.generator === 'loadgen') {
    row.violations = Math.max(...ran.map((t) => t.figures.violations));
    row.identities = Math.max(...ran.map((t) => t.figures.identities));
    row.workers = [];
    for (const t of ran) t.figures.workers.forEach((n, i) => (row.workers[i] = (row.workers[i] || 0) + n));
  } else {
    row.clients = Math.max(...ran.map((t) => t.figures.clients));
    row.connected = median(ran.map((t) => t.figures.connected));
  }
  if (limitTrials && contender.id !== workload.limit) {
    const pairs = ran
      .map((t) => [t, limitTrials.find((l) => l.round === t.round && l.ok)])
      .filter(([, l]) => l);
    row.vsRate = median(pairs.map(([t, l]) => t.figures.rate / l.figures.rate));
    row.vsCpu = median(pairs.map(([t, l]) => t.figures.usPerUnit / l.figures.usPerUnit));
    row.vsTime = median(pairs.map(([t, l]) => t.figures.allConnectedMs / l.figures.allConnectedMs));
  } else if (contender.id === workload.limit) {
    row.vsRate = row.vsCpu = row.vsTime = 1;
  }
  if (row.served === 0) row.error = `served nothing: ${row.firstError || 'no answer'} (errors: ${describeErrors(row.errors)})`;
  return row;
}

function describeErrors(errors) {
  const parts = Object.entries(errors || {}).filter(([, n]) => n).map(([kind, n]) => `${kind} ${n}`);
  return parts.join(', ') || '0';
}

module.exports = { summarize, median, describeErrors };

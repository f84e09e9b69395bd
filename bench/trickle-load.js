'use strict';
// The trickle load (issue 10): `connections` clients each send a request head
// of `bytes` bytes one byte per TCP segment (TCP_NODELAY, one write every
// `intervalMs`), while another client sends one good request every
// `goodEveryMs`. Used by bench/trickle.js (figures) and
// test/e2e/trickle.test.ts (behaviour). Every loop is bounded by `maxMs`.
const http = require('node:http');
const fs = require('node:fs');
const net = require('node:net');

// Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux).
const USER_HZ = 100;

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

/**
 * How often the process's main thread (the event loop) has blocked and been
 * woken so far: its voluntary context switches.
 */
function wakeups(pid) {
  return Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

/** `length` bytes of a request head that decides only at its end, for routing `kind`. */
function trickledHead(kind, length) {
  const pad = (text, marker) => {
    const fill = length - Buffer.byteLength(text) + marker.length;
    if (fill < 0) throw new Error(`trickle: a ${kind} head needs more than ${length} bytes`);
    return Buffer.from(text.replace(marker, 'a'.repeat(fill)), 'latin1');
  };
  switch (kind) {
    case 'header':
      return pad('GET /trickled HTTP/1.1\r\nHost: t\r\nX-Pad: @\r\nX-Forwarded-For: 10.9.8.7\r\n\r\n', '@');
    case 'sid':
      return pad('GET /socket.io/?EIO=4&transport=polling&pad=@ HTTP/1.1\r\nHost: t\r\n\r\n', '@');
    case 'proxy-protocol': {
      // PROXY v2, TCP over IPv4, 10.9.8.7:1000 -> 10.0.0.1:80, one padding TLV (type 0xEE), then a request.
      const request = Buffer.from('GET /trickled HTTP/1.1\r\nHost: t\r\n\r\n', 'latin1');
      const tlv = length - 16 - 12 - 3 - request.length;
      if (tlv < 0) throw new Error(`trickle: a proxy-protocol head needs more than ${length} bytes`);
      const header = Buffer.alloc(16 + 12 + 3 + tlv);
      Buffer.from('0d0a0d0a000d0a515549540a2111', 'hex').copy(header, 0);
      header.writeUInt16BE(12 + 3 + tlv, 14);
      Buffer.from([10, 9, 8, 7, 10, 0, 0, 1]).copy(header, 16);
      header.writeUInt16BE(1000, 24);
      header.writeUInt16BE(80, 26);
      header[28] = 0xee;
      header.writeUInt16BE(tlv, 29);
      return Buffer.concat([header, request]);
    }
    default:
      throw new Error(`trickle: unknown routing ${kind}`);
  }
}

function goodRequest(port, kind, localAddress, timeoutMs) {
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    const headers = { Connection: 'close' };
    if (kind === 'header') headers['X-Forwarded-For'] = '10.1.2.3';
    const req = http.request({ host: '127.0.0.1', port, localAddress, path: '/good', headers, agent: false });
    const finish = (status, error) => {
      clearTimeout(timer);
      resolve({ ms: Number(process.hrtime.bigint() - started) / 1e6, status, error });
    };
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.once('error', (error) => finish(0, error.message));
    req.once('response', (res) => {
      res.resume();
      res.once('end', () => finish(res.statusCode, null));
      res.once('error', (error) => finish(0, error.message));
    });
    req.end();
  });
}

/**
 * One trickling client: `tick()` (called by the shared ticker) writes its
 * next byte; `ended` resolves with when and how the server ended it.
 */
function trickler(port, head, localAddress, maxMs) {
  const started = Date.now();
  const received = [];
  let sent = 0;
  let connected = false;
  let done = false;
  const socket = net.connect({ host: '127.0.0.1', port, localAddress, noDelay: true });
  const ended = new Promise((resolve) => {
    const finish = (how) => {
      if (done) return;
      done = true;
      clearTimeout(cap);
      socket.destroy();
      const answer = Buffer.concat(received).toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answer);
      resolve({ how, afterMs: Date.now() - started, sent, status: status ? Number(status[1]) : 0 });
    };
    const cap = setTimeout(() => finish('still-open'), maxMs);
    socket.on('data', (chunk) => received.push(chunk));
    socket.once('end', () => finish('closed'));
    socket.once('close', () => finish('closed'));
    socket.once('error', (error) => finish(error.code === 'ECONNRESET' ? 'reset' : 'error'));
    socket.once('connect', () => (connected = true));
  });
  const tick = () => {
    if (connected && !done && sent < head.length) socket.write(head.subarray(sent, ++sent));
  };
  return { tick, ended };
}

/**
 * Runs the load against the balancer at `port` whose primary is `pid`.
 * Resolves with the primary's CPU share of the wall time (percent), how often
 * its event loop was woken, every good request's latency and status, and how
 * each trickled connection ended.
 */
async function runTrickle({
  port,
  pid,
  kind,
  connections = 50,
  bytes = 2048,
  intervalMs = 4,
  goodEveryMs = 100,
  trickleFrom = '127.0.0.1',
  goodFrom = '127.0.0.2',
  goodTimeoutMs = 10_000,
  maxMs = 60_000,
}) {
  const head = trickledHead(kind, bytes);
  const wallStart = process.hrtime.bigint();
  const cpuStart = cpuSeconds(pid);
  const wakeupsStart = wakeups(pid);
  const clients = Array.from({ length: connections }, () => trickler(port, head, trickleFrom, maxMs));
  // One timer for every client: each tick is one segment from each.
  const ticker = setInterval(() => clients.forEach((client) => client.tick()), intervalMs);
  const trickled = Promise.all(clients.map((client) => client.ended)).finally(() => clearInterval(ticker));
  let trickling = true;
  const ended = trickled.then((results) => {
    trickling = false;
    return results;
  });
  const good = [];
  const deadline = Date.now() + maxMs;
  while (trickling && Date.now() < deadline) {
    good.push(goodRequest(port, kind, goodFrom, goodTimeoutMs));
    await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, goodEveryMs))]);
  }
  const results = await ended;
  const wallSeconds = Number(process.hrtime.bigint() - wallStart) / 1e9;
  const cpuPercent = ((cpuSeconds(pid) - cpuStart) / wallSeconds) * 100;
  const woken = wakeups(pid) - wakeupsStart;
  return { cpuPercent, wakeups: woken, wallSeconds, good: await Promise.all(good), trickled: results };
}

/** The p-th percentile (0..100) of `values`, nearest rank. */
function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

module.exports = { runTrickle, trickledHead, percentile };

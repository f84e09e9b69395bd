'use strict';
// `npm start`: a clustered Socket.IO chat on sticky-native.
//
//   PORT=3000 npm start     then open http://127.0.0.1:3000/ in a few tabs
//
// The primary runs the balancer (one worker per core) with routing 'sid', so
// the tabs of one browser, which share one address, spread over the workers
// (ROUTING=ip routes by client address instead). @socket.io/cluster-adapter
// carries each chat message to the clients of every worker; DEMO_ADAPTER=none
// leaves it out, and then a message reaches only its own worker's tabs.
//
// The page shows the worker serving it, the transport (polling, then
// websocket) and the balancer's stats, pushed whenever they change. The
// primary also prints them on one line every STATS_INTERVAL_MS (default 5000)
// and on SIGUSR2.
const cluster = require('node:cluster');
const http = require('node:http');
const sticky = require('sticky-native');
const { createAdapter, setupPrimary } = require('@socket.io/cluster-adapter');

const HOST = '127.0.0.1';
const PORT = Number(process.env.PORT || 3000);
const ROUTING = process.env.ROUTING || 'sid';
const ADAPTER = process.env.DEMO_ADAPTER !== 'none';

if (cluster.isPrimary) {
  if (ADAPTER) setupPrimary();
  const balancer = sticky.createBalancer({ routing: ROUTING });
  const online = new Set();
  balancer.on('online', (index) => online.add(index));
  let stopping = false;
  balancer.on('exit', (index, worker, code, signal) => {
    if (stopping) return;
    console.log(`worker ${index} (pid ${worker.process.pid}) exited: ${signal || code}`);
  });
  balancer.on('error', (err) => console.error(`balancer error: ${err && err.message}`));

  // What the page shows and the stats line prints.
  const summary = () => {
    const stats = balancer.stats();
    return {
      workers: stats.workers.map((w) => ({ index: w.index, pid: w.pid, live: w.live, routed: w.connections, respawns: w.respawns })),
      live: stats.workers.filter((w) => w.live).length,
      respawns: stats.workers.reduce((sum, w) => sum + w.respawns, 0),
      rejected: Object.values(stats.rejected).reduce((sum, n) => sum + n, 0),
      rejectedBy: Object.fromEntries(Object.entries(stats.rejected).filter(([, n]) => n > 0)),
      pending: stats.pending,
      routing: ROUTING,
      adapter: ADAPTER,
    };
  };
  const printStats = () => {
    const s = summary();
    console.log(
      `stats routed=${s.workers.map((w) => w.routed).join('/')} live=${s.live}/${s.workers.length} ` +
        `respawns=${s.respawns} rejected=${s.rejected} pending=${s.pending}`,
    );
  };
  // Every worker gets the stats whenever they change (checked 4 times a
  // second, and at once when a worker exits) and passes them to its own
  // pages; a worker that starts asks for them.
  let last = '';
  const send = (worker, json) => {
    if (worker && worker.isConnected()) worker.send({ demo: 'stats', stats: JSON.parse(json) }, () => {});
  };
  const pushStats = () => {
    const json = JSON.stringify(summary());
    if (json === last) return;
    last = json;
    for (const worker of Object.values(cluster.workers)) send(worker, json);
  };
  setInterval(pushStats, 250).unref();
  balancer.on('exit', pushStats);
  cluster.on('message', (worker, message) => {
    if (message && message.demo === 'stats?') send(worker, JSON.stringify(summary()));
  });

  balancer
    .listen(PORT, HOST)
    .then((address) => {
      const n = online.size;
      console.log(`sticky-native demo: http://${HOST}:${address.port}/ (${n} workers, ${sticky.core} routing core)`);
      console.log(`listening ${address.port}`);
      setInterval(printStats, Number(process.env.STATS_INTERVAL_MS || 5000)).unref();
      process.on('SIGUSR2', printStats);
    })
    .catch((err) => {
      console.error(`could not listen on ${HOST}:${PORT}: ${err && err.message}`);
      process.exit(1);
    });
  const stop = () => {
    if (stopping) return;
    stopping = true;
    balancer.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} else {
  const { Server } = require('socket.io');
  const index = Number(process.env.STICKY_WORKER_INDEX);

  const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sticky-native demo</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 44em; margin: 2em auto; }
  #log { border: 1px solid #ccc; height: 14em; overflow-y: auto; padding: .5em; }
  #who, #transport { font-weight: bold; }
  table { border-collapse: collapse; margin: .5em 0; }
  td, th { border: 1px solid #ccc; padding: .15em .6em; text-align: right; }
  tr.me { background: #eef6ff; }
</style>
</head>
<body>
<h1>sticky-native demo</h1>
<p>You are talking to <span id="who">(connecting...)</span> over <span id="transport">?</span>.</p>
<div id="log"></div>
<form id="form"><input id="text" autocomplete="off" placeholder="say something"> <button>Send</button></form>
<h2>Balancer</h2>
<div id="stats">(waiting for stats)</div>
<script src="/socket.io/socket.io.js"></script>
<script>
  const socket = io();
  let myWorker = null;
  const $ = (id) => document.getElementById(id);
  const log = (line) => {
    const div = document.createElement('div');
    div.textContent = line;
    $('log').appendChild(div);
    $('log').scrollTop = $('log').scrollHeight;
  };
  const cell = (tag, text) => { const c = document.createElement(tag); c.textContent = String(text); return c; };
  const row = (tag, values) => { const r = document.createElement('tr'); for (const v of values) r.appendChild(cell(tag, v)); return r; };
  const showStats = (s) => {
    const table = document.createElement('table');
    table.appendChild(row('th', ['worker', 'pid', 'live', 'routed', 'respawns']));
    for (const w of s.workers) {
      const r = table.appendChild(row('td', [w.index, w.pid ?? '-', w.live ? 'yes' : 'no', w.routed, w.respawns]));
      if (w.index === myWorker) r.className = 'me';
    }
    const by = Object.entries(s.rejectedBy).map(([reason, n]) => reason + ' ' + n).join(', ');
    const line = document.createElement('p');
    line.textContent = 'workers live ' + s.live + '/' + s.workers.length + ' · respawns ' + s.respawns +
      ' · rejected ' + s.rejected + (by ? ' (' + by + ')' : '') + ' · waiting ' + s.pending +
      ' · routing ' + s.routing + ' · adapter ' + (s.adapter ? '@socket.io/cluster-adapter' : 'none (this worker only)');
    $('stats').replaceChildren(table, line);
  };
  socket.on('connect', () => {
    socket.emit('whoami', (info) => {
      myWorker = info.worker;
      $('who').textContent = 'worker ' + info.worker + ' (pid ' + info.pid + ')';
    });
    $('transport').textContent = socket.io.engine.transport.name;
    socket.io.engine.on('upgrade', (t) => { $('transport').textContent = t.name; });
  });
  socket.on('disconnect', () => { $('who').textContent = '(reconnecting...)'; $('transport').textContent = '?'; });
  socket.on('connect_error', (err) => log('connect error: ' + err.message));
  socket.on('chat', (msg) => log('[worker ' + msg.worker + '] ' + msg.from + ': ' + msg.text));
  socket.on('stats', showStats);
  $('form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('text');
    if (input.value) socket.emit('chat', input.value);
    input.value = '';
  });
</script>
</body>
</html>
`;

  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/' || req.url === '/index.html')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'x-worker': String(index) });
      res.end(page);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  const io = new Server(server, ADAPTER ? { adapter: createAdapter() } : {});
  sticky.stickySessionIds(io); // routing 'sid': session ids name this worker
  // routing 'sid' decides a connection's worker by its first request; a browser
  // sends later requests of other sessions (or none) on the same kept-alive
  // connection, so each response here closes its connection and every request
  // is routed by its own session id.
  if (ROUTING === 'sid') server.prependListener('request', (req, res) => { res.shouldKeepAlive = false; });
  let stats = null;
  process.on('message', (message) => {
    if (message && message.demo === 'stats') {
      stats = message.stats;
      io.local.emit('stats', stats); // every worker got the same message: its own pages only
    }
  });
  process.send({ demo: 'stats?' });
  io.on('connection', (socket) => {
    if (stats) socket.emit('stats', stats);
    socket.on('whoami', (ack) => {
      if (typeof ack === 'function') ack({ worker: index, pid: process.pid, id: socket.id });
    });
    socket.on('chat', (text) => {
      io.emit('chat', { worker: index, from: socket.id.slice(0, 6), text: String(text).slice(0, 500) });
    });
  });
  sticky.serve(server);
}

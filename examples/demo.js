'use strict';
// `npm start`: a clustered Socket.IO chat on sticky-native's defaults.
//
//   PORT=3000 npm start     then open http://127.0.0.1:3000/ in a few tabs
//
// Every STATS_INTERVAL_MS (default 5000) and on SIGUSR2 the primary prints the
// balancer's stats on one line.
//
// The primary runs the balancer (one worker per core, routing by client IP);
// each worker runs an ordinary http server with Socket.IO attached and hands it
// to serve(). The page shows which worker the browser talks to. Every request
// of one client lands on the same worker, which is what Socket.IO's
// long-polling handshake needs. Messages are shared between the clients of one
// worker only: sharing them across workers needs a Socket.IO adapter (for
// example @socket.io/cluster-adapter), which is outside this demo.
const cluster = require('node:cluster');
const http = require('node:http');
const sticky = require('sticky-native');

const HOST = '127.0.0.1';
const PORT = Number(process.env.PORT || 3000);

if (cluster.isPrimary) {
  const balancer = sticky.createBalancer();
  const online = new Set();
  balancer.on('online', (index) => online.add(index));
  let stopping = false;
  balancer.on('exit', (index, worker, code, signal) => {
    if (stopping) return;
    console.log(`worker ${index} (pid ${worker.process.pid}) exited: ${signal || code}`);
  });
  balancer.on('error', (err) => console.error(`balancer error: ${err && err.message}`));
  // One compact line: connections routed per worker, workers live, respawns,
  // connections turned away and connections waiting for a worker.
  const printStats = () => {
    const stats = balancer.stats();
    const routed = stats.workers.map((w) => w.connections).join('/');
    const live = stats.workers.filter((w) => w.live).length;
    const respawns = stats.workers.reduce((sum, w) => sum + w.respawns, 0);
    const rejected = Object.values(stats.rejected).reduce((sum, n) => sum + n, 0);
    console.log(
      `stats routed=${routed} live=${live}/${stats.workers.length} respawns=${respawns} rejected=${rejected} pending=${stats.pending}`,
    );
  };
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
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 40em; margin: 2em auto; }
  #log { border: 1px solid #ccc; height: 18em; overflow-y: auto; padding: .5em; }
  #who { font-weight: bold; }
</style>
</head>
<body>
<h1>sticky-native demo</h1>
<p>You are talking to <span id="who">(connecting...)</span> over <span id="transport">?</span>.</p>
<div id="log"></div>
<form id="form"><input id="text" autocomplete="off" placeholder="say something"> <button>Send</button></form>
<script src="/socket.io/socket.io.js"></script>
<script>
  const socket = io();
  const log = (line) => {
    const div = document.createElement('div');
    div.textContent = line;
    const box = document.getElementById('log');
    box.appendChild(div);
    box.scrollTop = box.scrollHeight;
  };
  socket.on('connect', () => {
    socket.emit('whoami', (info) => {
      document.getElementById('who').textContent = 'worker ' + info.worker + ' (pid ' + info.pid + ')';
    });
    document.getElementById('transport').textContent = socket.io.engine.transport.name;
    socket.io.engine.on('upgrade', (t) => { document.getElementById('transport').textContent = t.name; });
  });
  socket.on('connect_error', (err) => log('connect error: ' + err.message));
  socket.on('chat', (msg) => log('[worker ' + msg.worker + '] ' + msg.from + ': ' + msg.text));
  document.getElementById('form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = document.getElementById('text');
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
  const io = new Server(server);
  io.on('connection', (socket) => {
    socket.on('whoami', (ack) => {
      if (typeof ack === 'function') ack({ worker: index, pid: process.pid, id: socket.id });
    });
    socket.on('chat', (text) => {
      io.emit('chat', { worker: index, from: socket.id.slice(0, 6), text: String(text).slice(0, 500) });
    });
  });
  sticky.serve(server);
}

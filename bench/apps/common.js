'use strict';
// Shared by the bench apps: the one request handler every contender serves, and
// the port/host every app binds (loopback only).

/** The port the runner chose; apps bind 127.0.0.1 only. */
const port = Number(process.env.BENCH_PORT);
const host = '127.0.0.1';
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  throw new Error('bench app: BENCH_PORT must be a port number');
}

/** Every worker answers "w=<its index>" so the load generator can count stickiness. */
function handler(index) {
  const body = `w=${index}`;
  return (req, res) => {
    res.setHeader('Content-Type', 'text/plain');
    res.end(body);
  };
}

/** Exits when the runner says so; the runner SIGKILLs whatever is left after a grace period. */
function exitOn(signal, cleanup) {
  process.once(signal, () => {
    Promise.resolve()
      .then(cleanup)
      .catch(() => {})
      .finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 1500).unref();
  });
}

module.exports = { port, host, handler, exitOn };

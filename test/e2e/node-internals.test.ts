// The Node internals sticky-native relies on, one block each, named as in the
// comment at the place in src/ that uses it. Each fails if the internal
// changes shape, so a new Node line fails here, loudly, before it misbehaves
// in production. The behaviour built on them has its own tests (kernel,
// channel, failover, stop-reading, proxy-protocol); these pin the shapes.
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { afterAll, describe, expect, test } from 'vitest';
import { stopReading } from '../../src/stop-reading';
import { REPO_ROOT, request, sleep, startFixture, stopAll } from '../helpers/harness';

afterAll(stopAll);

// Node's own shapes do not depend on the data path: the file runs once, in the native project.
const once = process.env.STICKY_NATIVE !== 'fallback' && !process.env.STICKY_TRANSPORT;

interface TcpHandle {
  fd?: number;
  reading?: boolean;
  readStop?: () => number;
  readStart?: () => number;
  getpeername?: (out: object) => number;
}
const handleOf = (socket: net.Socket): TcpHandle | null | undefined => (socket as unknown as { _handle?: TcpHandle | null })._handle;

/** A loopback server and one client; resolves with the accepted socket (the client may write `first` at once). */
async function acceptedSocket(
  configure: (server: net.Server) => void,
  first?: string,
): Promise<{ socket: net.Socket; client: net.Socket; close: () => void }> {
  const server = net.createServer();
  configure(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  client.on('error', () => {});
  if (first !== undefined) client.write(first);
  const socket = await accepted;
  socket.on('error', () => {});
  const close = () => {
    client.destroy();
    socket.destroy();
    server.close();
  };
  return { socket, client, close };
}

/** `promise`, or a clear failure after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe.runIf(once)(`Node ${process.version}: the internals sticky-native relies on`, () => {
  test('socket._handle.fd is the accepted connection\'s descriptor, and _handle is null once it closes (routing/head-peek.ts)', async () => {
    const { socket, close } = await acceptedSocket(() => {});
    try {
      const fd = handleOf(socket)?.fd;
      expect(typeof fd).toBe('number');
      expect(fs.fstatSync(fd as number).isSocket()).toBe(true);
      expect(fs.readlinkSync(`/proc/self/fd/${fd}`)).toMatch(/^socket:\[\d+\]$/);
      socket.destroy();
      await new Promise((resolve) => socket.once('close', resolve));
      expect(handleOf(socket)).toBeNull();
    } finally {
      close();
    }
  });

  test('server.pauseOnConnect set after construction leaves accepted sockets unread (child.ts); control: unset, they read', async () => {
    const paused = await acceptedSocket((server) => {
      (server as { pauseOnConnect?: boolean }).pauseOnConnect = true;
    }, 'hello');
    const reading = await acceptedSocket(() => {}, 'hello');
    try {
      await sleep(200);
      expect(handleOf(paused.socket)?.reading).toBe(false);
      expect(paused.socket.readableLength).toBe(0);
      expect(handleOf(reading.socket)?.reading).toBe(true);
    } finally {
      paused.close();
      reading.close();
    }
  });

  test('_handle.reading and _handle.readStop(): a stopped socket handed to an http.Server reads nothing until resume() (stop-reading.ts, child.ts deliver)', async () => {
    // As in a worker with the `sync` option: the socket arrives reading, is
    // stopped, and the http.Server it is given restarts the handle on
    // 'resume' because its `reading` mark says idle.
    const { socket, client, close } = await acceptedSocket(() => {});
    const requests: string[] = [];
    const server = http.createServer((req, res) => {
      requests.push(req.url!);
      res.end(`ok ${req.url}`);
    });
    try {
      await sleep(50);
      const handle = handleOf(socket);
      expect(handle?.reading).toBe(true);
      expect(typeof handle?.readStop).toBe('function');
      // restartReading (stop-reading.ts) restarts a held handle with it.
      expect(typeof handle?.readStart).toBe('function');
      stopReading(socket);
      expect(handle?.reading).toBe(false);
      server.emit('connection', socket);
      const answer = new Promise<string>((resolve) => {
        let text = '';
        client.on('data', (chunk) => (text += chunk)).on('end', () => resolve(text));
      });
      client.write('GET /after-resume HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      await sleep(200);
      // Nothing read past the stop: the request waits in the kernel.
      expect(requests).toEqual([]);
      socket.resume();
      expect(await within(answer, 5_000, 'the answer after resume()')).toMatch(/ok \/after-resume$/);
      expect(requests).toEqual(['/after-resume']);
    } finally {
      close();
    }
  });

  test('_handle.getpeername replaced on the TCP handle is what net.Socket and a TLSSocket over it report (child.ts reportPeer)', async () => {
    const peer = { address: '203.0.113.7', port: 4242, family: 'IPv4' };
    const plain = await acceptedSocket(() => {});
    const wrapped = await acceptedSocket(() => {});
    try {
      for (const { socket } of [plain, wrapped]) {
        const handle = handleOf(socket)!;
        expect(typeof handle.getpeername).toBe('function');
        handle.getpeername = (out: object) => {
          Object.assign(out, peer);
          return 0;
        };
      }
      expect([plain.socket.remoteAddress, plain.socket.remotePort, plain.socket.remoteFamily]).toEqual(['203.0.113.7', 4242, 'IPv4']);
      const secure = new tls.TLSSocket(wrapped.socket, { isServer: true, secureContext: tls.createSecureContext() });
      secure.on('error', () => {});
      try {
        expect([secure.remoteAddress, secure.remotePort]).toEqual(['203.0.113.7', 4242]);
      } finally {
        secure.destroy();
      }
    } finally {
      plain.close();
      wrapped.close();
    }
  });

  test('net.Server#close on an http.Server stops listening and spares a connection that has sent nothing; http.Server#close is the control (child.ts listenOnMember)', async () => {
    /** Whether a connection accepted before `close` and silent until after it is still served. */
    const silentConnectionServed = async (close: (server: http.Server) => void): Promise<boolean> => {
      const server = http.createServer((req, res) => res.end('served'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as net.AddressInfo).port;
      const accepted = new Promise((resolve) => server.once('connection', resolve));
      const client = net.connect(port, '127.0.0.1');
      client.on('error', () => {});
      let text = '';
      const ended = new Promise<void>((resolve) => client.on('data', (chunk) => (text += chunk)).on('close', () => resolve()));
      try {
        await accepted;
        await sleep(100);
        close(server);
        expect(server.listening).toBe(false);
        await sleep(100);
        if (!client.destroyed) client.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
        await within(ended, 5_000, 'end of the connection');
        return /served$/.test(text);
      } finally {
        client.destroy();
        server.closeAllConnections();
      }
    };
    expect(await silentConnectionServed((server) => net.Server.prototype.close.call(server))).toBe(true);
    // The control differs by line: Node 26 destroys the silent connection, 20 to 24 keep it.
    console.log(`${process.version}: http.Server#close() ${(await silentConnectionServed((server) => server.close())) ? 'keeps' : 'destroys'} a silent connection`);
  });

  test('socket._httpMessage is the response an http.Server connection is writing, null between keep-alive requests; its next pipelined one is assigned before the first emits close (worker/connections.ts)', async () => {
    const seen: (string | null)[] = [];
    const release: (() => void)[] = [];
    const server = http.createServer((req, res) => {
      const current = (req.socket as unknown as { _httpMessage?: http.ServerResponse | null })._httpMessage;
      seen.push(current === res ? `${req.url} own` : current ? `${req.url} other` : `${req.url} none`);
      res.once('close', () => {
        const next = (req.socket as unknown as { _httpMessage?: http.ServerResponse | null })._httpMessage;
        seen.push(`${req.url} closed, next ${next ? 'assigned' : 'none'}`);
      });
      release.push(() => res.end('x'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    client.on('error', () => {});
    try {
      // Two pipelined requests: the second waits behind the first.
      client.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n');
      for (let i = 0; i < 100 && seen.length < 2; i++) await sleep(10);
      expect(seen).toEqual(['/a own', '/b other']);
      release.shift()!();
      for (let i = 0; i < 100 && seen.length < 3; i++) await sleep(10);
      release.shift()!();
      for (let i = 0; i < 100 && seen.length < 4; i++) await sleep(10);
      expect(seen.slice(2)).toEqual(['/a closed, next assigned', '/b closed, next none']);
    } finally {
      client.destroy();
      server.closeAllConnections();
      server.close();
    }
  });

  test('ChildProcess _pendingMessage and _handleQueue: the handle in flight and the queued sockets, kept after the child dies (transport/ipc.ts)', async () => {
    const child = fork(path.join(REPO_ROOT, 'test/fixtures/busy-child.js'), [], { env: { ...process.env, FIX_BUSY_MS: '20000' } });
    const a = await acceptedSocket(() => {});
    const b = await acceptedSocket(() => {});
    try {
      const internals = child as unknown as {
        _pendingMessage?: { handle?: { close?: unknown } } | null;
        _handleQueue?: { handle?: unknown }[] | null;
      };
      expect(internals._pendingMessage).toBeNull();
      expect(internals._handleQueue).toBeNull();
      child.send({ n: 1 }, a.socket);
      child.send({ n: 2 }, b.socket);
      // The child's loop is blocked: the first handle waits for its acknowledgement, the second in the queue.
      expect(typeof internals._pendingMessage?.handle?.close).toBe('function');
      expect(internals._handleQueue?.map((entry) => entry.handle)).toEqual([b.socket]);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(child.pid!, 'SIGKILL');
      await exited;
      await sleep(50);
      // A cluster worker's 'exit' comes after this; the queue is still there to route again.
      expect(internals._handleQueue?.map((entry) => entry.handle)).toEqual([b.socket]);
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
      a.close();
      b.close();
    }
  });

  test('net.Server#listen(socket) in a cluster worker listens on that socket itself, without asking the primary (child.ts listenOnMember)', async () => {
    const fx = await startFixture('test/fixtures/listen-handle-cluster.js', { readyLine: /^listening (\d+) \d+ \d+$/ });
    const [, port, workerPid, reported] = /^listening (\d+) (\d+) (\d+)$/.exec(fx.stdout.find((l) => l.startsWith('listening '))!)!;
    expect(reported).toBe(port);
    // The primary closed its copy: only the worker can have answered.
    const res = await request({ port: Number(port), path: '/' });
    expect(res.body).toBe(`pid=${workerPid}`);
    await fx.stop();
  });
});

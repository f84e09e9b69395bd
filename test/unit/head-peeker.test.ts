// HeadPeeker against real sockets on 127.0.0.1: the primary's server accepts
// without reading (pauseOnConnect), the peeker watches each accepted fd, and
// the bytes must still be there for whoever reads the socket afterwards.
import * as fs from 'fs';
import * as net from 'net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { primitives } from '../../src/binding';
import type { HeadPeeker, PeekOutcome } from '../../src/primitives';

const HEADER = 'x-forwarded-for';
const LIMIT = 4096;

interface Result {
  fd: number;
  outcome: PeekOutcome;
  address: Buffer | null;
}

interface Connection {
  client: net.Socket;
  server: net.Socket; // paused: nobody reads it until a test resumes it
  fd: number;
  result: Promise<Result>; // the first report for this fd since it was accepted
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function fdOf(socket: net.Socket): number {
  return (socket as unknown as { _handle: { fd: number } })._handle.fd;
}

function requestHead(address: string, before = 'Host: example.test\r\nUser-Agent: peeker-test/1.0\r\n'): string {
  return `GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\n${before}X-Forwarded-For: ${address}, 10.9.8.7\r\nAccept: */*\r\n\r\n`;
}

function readAll(socket: net.Socket, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= length) {
        socket.off('data', onData);
        socket.pause();
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.resume();
  });
}

function countOwnFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

// One server, one peeker, and every report it makes.
class Bench {
  readonly calls: Result[] = [];
  readonly peeker: HeadPeeker;
  private readonly server = net.createServer({ pauseOnConnect: true });
  private readonly waiting = new Map<number, { fd: number; result: ReturnType<typeof deferred<Result>> }>();
  private readonly accepted = new Map<number, ReturnType<typeof deferred<net.Socket>>>();
  private readonly open = new Set<net.Socket>();
  onResult: (result: Result) => void = () => {};

  constructor() {
    const HeadPeekerClass = primitives.HeadPeeker!;
    this.peeker = new HeadPeekerClass(HEADER, LIMIT, (fd, outcome, address) => {
      const result = { fd, outcome, address };
      this.calls.push(result);
      this.waiting.get(fd)?.result.resolve(result);
      this.onResult(result);
    });
    this.server.on('connection', (socket) => {
      this.track(socket);
      this.acceptedFor(socket.remotePort!).resolve(socket);
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  /** Connects a client; the accepted socket is watched unless `watch` is false. */
  async connect(watch = true): Promise<Connection> {
    const { port } = this.server.address() as net.AddressInfo;
    const client = net.connect(port, '127.0.0.1');
    client.setNoDelay(true);
    this.track(client);
    await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
    const server = await this.acceptedFor(client.localPort!).promise;
    this.accepted.delete(client.localPort!);
    const fd = fdOf(server);
    const result = deferred<Result>();
    this.waiting.set(fd, { fd, result });
    if (watch) this.peeker.watch(fd);
    return { client, server, fd, result: result.promise };
  }

  callsFor(fd: number): Result[] {
    return this.calls.filter((call) => call.fd === fd);
  }

  async close(): Promise<void> {
    this.peeker.close();
    for (const socket of this.open) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private track(socket: net.Socket) {
    this.open.add(socket);
    socket.on('error', () => {}); // resets are expected when tests tear down
    socket.once('close', () => this.open.delete(socket));
  }

  private acceptedFor(port: number) {
    let entry = this.accepted.get(port);
    if (!entry) {
      entry = deferred<net.Socket>();
      this.accepted.set(port, entry);
    }
    return entry;
  }
}

describe.skipIf(process.env.STICKY_NATIVE === 'fallback')('HeadPeeker (native)', () => {
  let bench: Bench;

  beforeEach(async () => {
    expect(primitives.kind).toBe('native');
    expect(primitives.HeadPeeker).not.toBeNull();
    bench = new Bench();
    await bench.listen();
  });

  afterEach(async () => {
    await bench.close();
  });

  it('finds the address in a head sent in one write and leaves every byte unread', async () => {
    const bytes = Buffer.from(requestHead('203.0.113.7') + 'body that follows the head');
    const conn = await bench.connect();
    conn.client.write(bytes);
    const result = await conn.result;
    expect(result.outcome).toBe('found');
    expect(result.address).toEqual(primitives.parseAddress('203.0.113.7'));
    expect(await readAll(conn.server, bytes.length)).toEqual(bytes);
  });

  it('reports a socket that already held its head when watched', async () => {
    const bytes = Buffer.from(requestHead('2001:db8::42'));
    const conn = await bench.connect(false);
    conn.client.write(bytes);
    await delay(30);
    bench.peeker.watch(conn.fd);
    const result = await conn.result;
    expect(result.outcome).toBe('found');
    expect(result.address).toEqual(primitives.parseAddress('2001:db8::42'));
  });

  it('decides once on a head that arrives a byte at a time, then in pieces', async () => {
    const bytes = Buffer.from(requestHead('198.51.100.23'));
    const conn = await bench.connect();
    for (let i = 0; i < 50; i++) {
      conn.client.write(bytes.subarray(i, i + 1));
      await delay(2);
    }
    for (let i = 50; i < bytes.length; i += 7) {
      conn.client.write(bytes.subarray(i, i + 7));
      await delay(2);
    }
    const result = await conn.result;
    expect(result.outcome).toBe('found');
    expect(result.address).toEqual(primitives.parseAddress('198.51.100.23'));
    conn.client.write('more bytes after the decision');
    await delay(50);
    expect(bench.callsFor(conn.fd)).toHaveLength(1);
    expect((await readAll(conn.server, bytes.length)).subarray(0, bytes.length)).toEqual(bytes);
  });

  it('reports missing when the whole head has no such header', async () => {
    const conn = await bench.connect();
    conn.client.write('GET / HTTP/1.1\r\nHost: example.test\r\nX-Real-IP: 1.2.3.4\r\n\r\n');
    expect((await conn.result).outcome).toBe('missing');
  });

  it('reports invalid when the header holds no address', async () => {
    const conn = await bench.connect();
    conn.client.write('GET / HTTP/1.1\r\nX-Forwarded-For: unknown\r\n');
    const result = await conn.result;
    expect(result.outcome).toBe('invalid');
    expect(result.address).toBeNull();
  });

  it('reports not-http for a TLS ClientHello', async () => {
    const conn = await bench.connect();
    conn.client.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]));
    expect((await conn.result).outcome).toBe('not-http');
  });

  it('reports closed when the client ends before sending anything', async () => {
    const conn = await bench.connect();
    conn.client.end();
    expect((await conn.result).outcome).toBe('closed');
  });

  it('reports closed when the client ends after half a head', async () => {
    const conn = await bench.connect();
    conn.client.write('GET / HTTP/1.1\r\nHost: exa');
    await delay(20);
    conn.client.end();
    expect((await conn.result).outcome).toBe('closed');
  });

  it('reports error when the client resets the connection', async () => {
    const conn = await bench.connect();
    conn.client.write('GET / HTTP/1.1\r\nHost: exa');
    await delay(20);
    conn.client.resetAndDestroy();
    expect((await conn.result).outcome).toBe('error');
  });

  it('decides a complete head even when the client has already half-closed', async () => {
    const conn = await bench.connect(false);
    conn.client.end(requestHead('192.0.2.1'));
    await delay(30);
    bench.peeker.watch(conn.fd);
    const result = await conn.result;
    expect(result.outcome).toBe('found');
    expect(result.address).toEqual(primitives.parseAddress('192.0.2.1'));
  });

  it('reports too-large when limit bytes hold no decision', async () => {
    const conn = await bench.connect();
    const padding = Array.from({ length: 100 }, (_, i) => `X-Pad-${i}: ${'a'.repeat(60)}\r\n`).join('');
    conn.client.write(`GET / HTTP/1.1\r\n${padding}`);
    expect((await conn.result).outcome).toBe('too-large');
  });

  it('decides 200 concurrent connections, each once and correctly', async () => {
    const addressOf = (i: number) => (i % 3 === 0 ? `2001:db8::${i.toString(16)}` : `10.0.${i >> 8}.${i & 255}`);
    const conns = await Promise.all(Array.from({ length: 200 }, () => bench.connect()));
    await Promise.all(
      conns.map(async (conn, i) => {
        const bytes = Buffer.from(requestHead(addressOf(i)));
        const cut = 10 + (i % 60);
        conn.client.write(bytes.subarray(0, cut));
        await delay(i % 5);
        conn.client.write(bytes.subarray(cut));
      }),
    );
    const results = await Promise.all(conns.map((conn) => conn.result));
    results.forEach((result, i) => {
      expect(result.outcome).toBe('found');
      expect(result.address).toEqual(primitives.parseAddress(addressOf(i)));
    });
    await delay(20);
    for (const conn of conns) expect(bench.callsFor(conn.fd)).toHaveLength(1);
  });

  it('never reports a socket unwatched before any data', async () => {
    const conn = await bench.connect();
    bench.peeker.unwatch(conn.fd);
    bench.peeker.unwatch(conn.fd);
    const bytes = Buffer.from(requestHead('203.0.113.9'));
    conn.client.write(bytes);
    await delay(100);
    expect(bench.callsFor(conn.fd)).toHaveLength(0);
    expect(await readAll(conn.server, bytes.length)).toEqual(bytes);
  });

  it('makes no callback after close(), and refuses new sockets', async () => {
    const conns = await Promise.all(Array.from({ length: 5 }, () => bench.connect()));
    bench.peeker.close();
    bench.peeker.close();
    for (const conn of conns) conn.client.write(requestHead('203.0.113.10'));
    conns[0].client.end();
    await delay(100);
    expect(bench.calls).toHaveLength(0);
    expect(() => bench.peeker.watch(conns[1].fd)).toThrow(/closed/);
    expect(() => bench.peeker.unwatch(conns[1].fd)).not.toThrow();
  });

  it('drops pending reports that a callback unwatches or closes, and runs microtasks between callbacks', async () => {
    const conns = await Promise.all(Array.from({ length: 6 }, () => bench.connect(false)));
    for (const conn of conns) conn.client.write(requestHead('203.0.113.11'));
    await delay(50);
    // All six are ready before the loop polls again, so one drain takes them all.
    const order: string[] = [];
    let first = true;
    bench.onResult = (result) => {
      order.push(`result ${result.fd}`);
      queueMicrotask(() => order.push('microtask'));
      if (first) {
        first = false;
        for (const conn of conns) if (conn.fd !== result.fd) bench.peeker.unwatch(conn.fd);
        bench.peeker.watch(conns[5].fd);
      } else {
        bench.peeker.close();
      }
    };
    for (const conn of conns) bench.peeker.watch(conn.fd);
    await delay(100);
    // The first report unwatched the five others, dropping them from its batch,
    // then watched the last one anew, which reports on a later drain; the
    // second report closed the peeker.
    expect(order).toEqual([`result ${bench.calls[0].fd}`, 'microtask', `result ${conns[5].fd}`, 'microtask']);
  });

  it('rejects bad arguments with TypeErrors', () => {
    const HeadPeekerClass = primitives.HeadPeeker!;
    expect(() => new HeadPeekerClass('', LIMIT, () => {})).toThrow(TypeError);
    expect(() => new HeadPeekerClass(HEADER, 0, () => {})).toThrow(TypeError);
    expect(() => new HeadPeekerClass(HEADER, 1.5, () => {})).toThrow(TypeError);
    expect(() => new HeadPeekerClass(HEADER, LIMIT, null as never)).toThrow(TypeError);
    expect(() => bench.peeker.watch(-1)).toThrow(TypeError);
    expect(() => bench.peeker.watch('3' as never)).toThrow(TypeError);
    expect(() => bench.peeker.unwatch(2.5)).toThrow(TypeError);
    const notOpen = 1 << 20;
    expect(() => bench.peeker.watch(notOpen)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it('leaks no descriptor over 500 connections that close early, nor over 100 peekers', async () => {
    const endEarly = async (conns: Connection[], bytes?: string) => {
      for (const conn of conns) conn.client.end(bytes);
      for (const result of await Promise.all(conns.map((conn) => conn.result))) {
        expect(result.outcome).toBe('closed');
      }
      const sockets = conns.flatMap((conn) => [conn.client, conn.server]);
      await Promise.all(sockets.map((socket) => new Promise((resolve) => socket.once('close', resolve).destroy())));
    };
    // Warm up, so that descriptors the runtime opens lazily are in both counts.
    await endEarly([await bench.connect()]);
    const before = countOwnFds();
    for (let batch = 0; batch < 10; batch++) {
      const conns = await Promise.all(Array.from({ length: 50 }, () => bench.connect()));
      await endEarly(conns, batch % 2 === 0 ? undefined : 'GET / HTTP/1.1\r\nHo');
    }
    const HeadPeekerClass = primitives.HeadPeeker!;
    for (let i = 0; i < 100; i++) new HeadPeekerClass(HEADER, LIMIT, () => {}).close();
    expect(countOwnFds()).toBe(before);
  });
});

// socket.io-client clients for the broadcast apps (examples/broadcast-*.js,
// examples/many-machines.js, test/fixtures/broadcast-no-adapter.js): on
// connect the server emits 'hello' { worker, pid, address? }; 'say' text makes
// that worker io.emit('said', { worker, text }); 'count' acks with
// io.fetchSockets().length. One client per source address; every wait bounded.
import http from 'node:http';
import { io, type Socket } from 'socket.io-client';
import { sleep } from './harness';

export interface Hello { worker: number; pid: number; address?: string }

export interface ChatClient {
  localAddress: string;
  socket: Socket;
  /** the hello of the current connection; null while disconnected */
  hello: Hello | null;
  /** every hello received, in order (one per connection) */
  hellos: Hello[];
  /** texts of every 'said' received */
  heard: string[];
  close(): void;
}

export interface ChatOptions {
  /** reconnect after a lost connection (quickly: 100..500 ms); default false */
  reconnection?: boolean;
  timeoutMs?: number;
}

/** Polls `done` every 25 ms until it holds or `ms` pass; returns whether it held. */
export async function waitUntil(done: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) return false;
    await sleep(25);
  }
  return true;
}

export function chatClient(url: string, localAddress: string, opts: ChatOptions = {}): ChatClient {
  // keepAlive off: every poll is a new TCP connection from this address.
  const agent = new http.Agent({ localAddress, keepAlive: false });
  const socket = io(url, {
    forceNew: true,
    reconnection: opts.reconnection ?? false,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    timeout: opts.timeoutMs ?? 5000,
    agent: agent as unknown as string, // engine.io-client hands it to the node transports
    ...({ localAddress } as object), // and ws takes the source address directly
  });
  const client: ChatClient = {
    localAddress,
    socket,
    hello: null,
    hellos: [],
    heard: [],
    close: () => { socket.disconnect(); agent.destroy(); },
  };
  socket.on('hello', (h: Hello) => { client.hello = h; client.hellos.push(h); });
  socket.on('disconnect', () => { client.hello = null; });
  socket.on('said', (m: { text: string }) => client.heard.push(m.text));
  return client;
}

/** One client per address, all connected with a hello, or throws (closing them) after `ms`. */
export async function connectClients(url: string, addresses: string[], opts: ChatOptions = {}, ms = 15_000): Promise<ChatClient[]> {
  const clients = addresses.map((a) => chatClient(url, a, opts));
  if (!(await waitUntil(() => clients.every((c) => c.hello !== null), ms))) {
    const missing = clients.filter((c) => c.hello === null).map((c) => c.localAddress);
    for (const c of clients) c.close();
    throw new Error(`no hello within ${ms} ms from ${missing.join(', ')}`);
  }
  return clients;
}

/**
 * `from` says a fresh text; resolves with the addresses (sorted) that heard it once all
 * of `clients` have, or after `ms` (then some are missing).
 */
export async function broadcast(from: ChatClient, clients: ChatClient[], ms = 5000): Promise<string[]> {
  const text = `from ${from.localAddress} on worker ${from.hello?.worker} at ${Date.now()} ${Math.random()}`;
  from.socket.emit('say', text);
  await waitUntil(() => clients.every((c) => c.heard.includes(text)), ms);
  return clients.filter((c) => c.heard.includes(text)).map((c) => c.localAddress).sort();
}

/** Clients grouped by the pid of the worker serving them. */
export function byWorkerPid(clients: ChatClient[]): Map<number, ChatClient[]> {
  const out = new Map<number, ChatClient[]>();
  for (const c of clients) {
    if (!c.hello) continue;
    const list = out.get(c.hello.pid) ?? [];
    list.push(c);
    out.set(c.hello.pid, list);
  }
  return out;
}

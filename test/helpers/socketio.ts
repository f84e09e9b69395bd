// Socket.IO client helpers for the sticky-session tests: one real
// socket.io-client per source address, every wait bounded.
import http from 'node:http';
import { io, type Socket } from 'socket.io-client';

export interface ClientRun {
  localAddress: string;
  connected: boolean;
  /** 'connect_error: <message>' / 'timeout: ...' / 'ack: ...'; null when every step worked */
  error: string | null;
  /** worker index of each ack received, in order */
  acks: number[];
  /** transport name when the client disconnected */
  transport: string | null;
  upgraded: boolean;
}

export interface ClientOptions {
  transports: ('polling' | 'websocket')[];
  roundTrips: number;
  /** bound for the connection, each ack and the upgrade wait */
  timeoutMs?: number;
  /** with upgrade allowed: wait (bounded) for the websocket upgrade before the round trips */
  waitUpgrade?: boolean;
}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timeout: ${what} after ${ms} ms`)), ms);
    p.then(
      (v) => { clearTimeout(t); resolve(v); },
      (e) => { clearTimeout(t); reject(e); },
    );
  });

/**
 * Connects one socket.io-client from `localAddress` (its own http.Agent,
 * keepAlive off, so every poll is a new TCP connection from that address),
 * does `roundTrips` emit/ack round trips of 'echo', then disconnects.
 * Never throws: failures land in `error`.
 */
export async function runClient(url: string, localAddress: string, opts: ClientOptions): Promise<ClientRun> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const agent = new http.Agent({ localAddress, keepAlive: false });
  const run: ClientRun = { localAddress, connected: false, error: null, acks: [], transport: null, upgraded: false };
  const socket: Socket = io(url, {
    transports: opts.transports,
    upgrade: opts.transports.includes('websocket'),
    reconnection: false,
    forceNew: true,
    timeout: timeoutMs,
    agent: agent as unknown as string, // engine.io-client passes it to the node transports
    // the websocket transport (ws) also takes localAddress directly
    ...({ localAddress } as object),
  });
  let upgraded: Promise<void> | null = null;
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', (err: Error) => reject(new Error(`connect_error: ${err.message}${describeCause(err)}`)));
      }),
      timeoutMs + 500,
      `connect from ${localAddress}`,
    );
    run.connected = true;
    if (opts.waitUpgrade) {
      const engine = socket.io.engine;
      upgraded = engine.transport.name === 'websocket'
        ? Promise.resolve()
        : new Promise<void>((resolve) => engine.once('upgrade', () => resolve()));
      await withTimeout(upgraded, timeoutMs, `websocket upgrade from ${localAddress}`);
      run.upgraded = true;
    }
    for (let i = 0; i < opts.roundTrips; i++) {
      if (!socket.connected) throw new Error(`disconnected before round trip ${i}`);
      let reply: { worker: number; data: unknown };
      try {
        reply = await socket.timeout(timeoutMs).emitWithAck('echo', { from: localAddress, i });
      } catch (err) {
        throw new Error(`ack ${i}: ${(err as Error).message}`);
      }
      if (!reply || (reply.data as { i?: number })?.i !== i) throw new Error(`ack ${i}: wrong payload ${JSON.stringify(reply)}`);
      run.acks.push(reply.worker);
    }
  } catch (err) {
    run.error = (err as Error).message;
  } finally {
    run.transport = socket.io.engine?.transport?.name ?? null;
    socket.disconnect();
    agent.destroy();
  }
  return run;
}

function describeCause(err: Error): string {
  const e = err as Error & { description?: unknown; context?: unknown };
  const parts: string[] = [];
  if (e.description !== undefined) parts.push(`description=${String((e.description as Error)?.message ?? e.description)}`);
  const ctx = e.context as { responseText?: string; status?: number } | undefined;
  if (ctx && typeof ctx === 'object' && (ctx.status !== undefined || ctx.responseText)) {
    parts.push(`status=${ctx.status} body=${String(ctx.responseText ?? '').slice(0, 120)}`);
  }
  return parts.length ? ` (${parts.join(' ')})` : '';
}

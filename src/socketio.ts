import type { IncomingMessage } from 'node:http';
import { mintSessionId } from './session-id';

/** An Engine.IO server: its `generateId` hook names every new session (the signature of engine.io 6's). */
export interface EngineIdHook {
  generateId(request: IncomingMessage): string | PromiseLike<string>;
  /** Its open sessions (Engine.IO keeps the count). */
  clientsCount?: number;
}

/** A Socket.IO server attached to its HTTP server: `io.engine` is its Engine.IO server. */
export interface SocketIoServerWithEngine {
  engine: EngineIdHook;
}

let sessionKey: Buffer | null = null;
/** The server stickySessionIds() named last: its sessions are this worker's load. */
let namedEngine: EngineIdHook | null = null;

/** The live sessions of the server stickySessionIds() named; null before it is called. */
export function liveSessions(): number | null {
  const count = namedEngine?.clientsCount;
  return typeof count === 'number' ? count : null;
}

/** The key the primary drew for this balancer's session ids; taken out of the environment, so child processes do not inherit it. */
function sessionIdKey(): Buffer {
  if (sessionKey) return sessionKey;
  const hex = process.env.STICKY_SID_KEY ?? '';
  if (!/^[0-9a-f]{32}$/.test(hex)) {
    throw new Error("sticky-native: stickySessionIds() runs in a worker of a balancer with routing: 'sid'");
  }
  sessionKey = Buffer.from(hex, 'hex');
  delete process.env.STICKY_SID_KEY;
  return sessionKey;
}

/**
 * Worker side of routing 'sid': makes the Socket.IO (or Engine.IO) server
 * name each new session with an id that carries this worker's index, signed
 * with the primary's key, so the primary sends every later request of the
 * session here without a table: `stickySessionIds(io)` after
 * `new Server(httpServer)`, before `serve(httpServer)`. The id stays
 * unguessable (80 random bits from crypto) and unique. Returns `server`.
 */
export function stickySessionIds<T extends SocketIoServerWithEngine | EngineIdHook>(server: T): T {
  const engine: EngineIdHook | undefined = 'engine' in server ? server.engine : server;
  if (!engine || typeof engine.generateId !== 'function') {
    throw new TypeError(
      'sticky-native: stickySessionIds() takes a Socket.IO server attached to its HTTP server (new Server(httpServer)) or an Engine.IO server',
    );
  }
  const index = Number(process.env.STICKY_WORKER_INDEX);
  const key = sessionIdKey();
  if (!Number.isInteger(index) || index < 0) throw new Error('sticky-native: STICKY_WORKER_INDEX is not set in this worker');
  engine.generateId = () => mintSessionId(index, key);
  namedEngine = engine;
  return server;
}

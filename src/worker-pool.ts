import cluster, { type Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import type { BalancerConfig } from './options';
import { isStickyMessage } from './messages';
import type { WorkerHandoff } from './transport/types';
import { LOAD_REPORT_MS } from './transport/load';

/** What the pool asks of the transport around each worker's life. */
export interface PoolHooks {
  handoffFor(index: number): WorkerHandoff | null;
  forked(index: number, handoff: WorkerHandoff | null): void;
  /** `live[index]` or `starting[index]` changed; `exited` is the worker that just died, if one did. */
  stateChanged(index: number, exited: Worker | null): void;
  /** Resolves once nothing more is on its way to a worker no longer routed to. */
  delivered(worker: Worker): Promise<void>;
}

/** A worker that lived less than this before dying counts as crash-looping. */
const STABLE_UPTIME_MS = 5_000;

/** Every worker a balancer of this process forked; any other is the application's own. */
const forkedByBalancers = new WeakSet<Worker>();

/** Whether a balancer of this process forked `worker` (cluster.fork() by the application did not). */
export function isBalancerWorker(worker: Worker): boolean {
  return forkedByBalancers.has(worker);
}

interface Slot {
  index: number;
  worker: Worker | null;
  startedAt: number;
  respawns: number;
  /** The delay before the next respawn while the worker crash-loops. */
  backoff: number;
  respawnTimer: NodeJS.Timeout | null;
}

/**
 * The workers, one slot per index. A slot's worker is respawned at the same
 * index when it dies, with a doubling delay while it keeps dying young.
 * `live[i]` says whether connections may go to slot i: its worker has
 * attached its server and not exited.
 *
 * Events: 'online' (index, worker), 'exit' (index, worker, code, signal),
 * 'respawn' (index, delayMs), 'settled' once every first worker is ready or dead.
 */
export class WorkerPool extends EventEmitter {
  readonly live: boolean[];
  /**
   * True while a slot's first worker is starting. Its clients wait for it
   * rather than move: moving them would make them change worker a moment later.
   */
  readonly starting: boolean[];
  private readonly slots: Slot[];
  private closing = false;
  /** Workers that closed their server (sticky-session 1.x), finishing their connections while their replacements serve. */
  private readonly leaving = new Set<Promise<void>>();
  /** Indexes a rolling restart is replacing now. */
  private readonly replacing = new Set<number>();

  constructor(private readonly config: BalancerConfig, private readonly hooks: PoolHooks) {
    super();
    this.live = new Array<boolean>(config.workers).fill(false);
    this.starting = new Array<boolean>(config.workers).fill(true);
    this.slots = this.live.map((_, index) => ({
      index,
      worker: null,
      startedAt: 0,
      respawns: 0,
      backoff: 0,
      respawnTimer: null,
    }));
  }

  start(): void {
    for (const slot of this.slots) this.fork(slot);
  }

  /** Resolves once every slot's first worker is ready or has died. */
  settled(): Promise<void> {
    if (!this.starting.includes(true)) return Promise.resolve();
    return new Promise((resolve) => this.once('settled', resolve));
  }

  worker(index: number): Worker | null {
    return this.slots[index].worker;
  }

  respawns(index: number): number {
    return this.slots[index].respawns;
  }

  /** Asks every worker to finish its connections and exit; kills those still there after `timeoutMs`. */
  async close(timeoutMs: number): Promise<void> {
    this.closing = true;
    const retiring: Promise<void>[] = [];
    for (const slot of this.slots) {
      if (slot.respawnTimer) clearTimeout(slot.respawnTimer);
      slot.respawnTimer = null;
      this.setLive(slot, false, null);
      if (slot.worker) retiring.push(this.retire(slot.worker, timeoutMs));
    }
    await Promise.all([...retiring, ...this.leaving]);
  }

  /**
   * Replaces the workers one at a time: each new worker is ready before the
   * old one at its index is asked to finish its connections and go, so the
   * index always has a worker taking connections. An index whose replacement
   * dies while starting keeps its old worker.
   */
  async restart(timeoutMs: number): Promise<void> {
    for (const slot of this.slots) {
      const old = slot.worker;
      if (this.closing || !old || old.isDead() || slot.respawnTimer) continue;
      const fresh = this.fork(slot, true);
      this.replacing.add(slot.index);
      const ready = await new Promise<boolean>((resolve) => {
        const onOnline = (_index: number, worker: Worker) => worker === fresh && settle(true);
        const settle = (isReady: boolean) => {
          this.off('online', onOnline);
          fresh.off('exit', onExit);
          resolve(isReady);
        };
        const onExit = () => settle(false);
        this.on('online', onOnline);
        fresh.once('exit', onExit);
      });
      this.replacing.delete(slot.index);
      if (ready) await this.retire(old, timeoutMs);
    }
  }

  /** Forks a worker for `slot`; a replacement takes the slot over only once it is ready. */
  private fork(slot: Slot, replacement = false): Worker {
    const handoff = this.hooks.handoffFor(slot.index);
    let worker: Worker;
    try {
      worker = forkWith(handoff, { ...this.config.env(slot.index), STICKY_WORKER_INDEX: String(slot.index), ...sessionEnv(this.config) });
    } finally {
      this.hooks.forked(slot.index, handoff);
    }
    forkedByBalancers.add(worker);
    if (!replacement) {
      slot.worker = worker;
      slot.startedAt = Date.now();
    }
    worker.on('message', (message: unknown) => {
      if (!isStickyMessage(message) || this.closing) return;
      if (message.sticky === 'leave') return this.leave(slot, worker);
      if (message.sticky !== 'ready') return;
      if (slot.worker !== worker) {
        if (!replacement) return;
        slot.worker = worker;
        slot.startedAt = Date.now();
      }
      this.settle(slot);
      this.setLive(slot, true, null);
      this.emit('online', slot.index, worker);
    });
    worker.once('exit', (code: number | null, signal: string | null) => {
      // A retired worker, or a replacement that died starting: only what it left behind needs care.
      if (slot.worker !== worker) return this.hooks.stateChanged(slot.index, worker);
      this.settle(slot);
      this.setLive(slot, false, worker);
      this.emit('exit', slot.index, worker, code, signal);
      if (!this.closing) this.scheduleRespawn(slot);
    });
    return worker;
  }

  /**
   * The application closed the worker's server (sticky-session 1.x): the
   * slot stops taking connections at once, a replacement is forked at the
   * same index (its clients go there once it is ready, meanwhile to the
   * others, as while a worker is down), and the old worker finishes its
   * connections and goes. A restart already replacing the slot goes on.
   */
  private leave(slot: Slot, worker: Worker): void {
    if (slot.worker !== worker) return;
    this.setLive(slot, false, null);
    if (!this.replacing.has(slot.index)) this.fork(slot);
    const gone = this.retire(worker, this.config.shutdownTimeout);
    this.leaving.add(gone);
    void gone.then(() => this.leaving.delete(gone));
  }

  /**
   * Asks a worker to finish its connections and exit, once everything routed
   * to it is on its way; kills it if it is still there after `timeoutMs`.
   */
  private retire(worker: Worker, timeoutMs: number): Promise<void> {
    if (worker.isDead()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => worker.process.kill('SIGKILL'), timeoutMs);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      void this.hooks.delivered(worker).then(() => {
        if (worker.isConnected()) worker.send({ sticky: 'close' });
        else worker.process.kill('SIGTERM');
      });
    });
  }

  private scheduleRespawn(slot: Slot): void {
    const { min, max } = this.config.respawnDelay;
    const diedYoung = Date.now() - slot.startedAt < STABLE_UPTIME_MS;
    slot.backoff = diedYoung ? Math.min(max, slot.backoff === 0 ? min : slot.backoff * 2) : min;
    const delay = slot.backoff;
    this.emit('respawn', slot.index, delay);
    slot.respawnTimer = setTimeout(() => {
      slot.respawnTimer = null;
      slot.respawns++;
      this.fork(slot);
    }, delay);
  }

  private setLive(slot: Slot, live: boolean, exited: Worker | null): void {
    this.live[slot.index] = live;
    this.hooks.stateChanged(slot.index, exited);
  }

  /** The slot's first worker is ready or dead: from now on its clients move while it is down. */
  private settle(slot: Slot): void {
    if (!this.starting[slot.index]) return;
    this.starting[slot.index] = false;
    if (!this.starting.includes(true)) this.emit('settled');
  }
}

/**
 * Forks one worker; a hand-off descriptor goes to that worker alone, as the
 * stdio slot after cluster's own. STICKY_HANDOFF says how its connections
 * come ('ipc' when there is no descriptor), STICKY_FD which fd it is.
 */
function forkWith(handoff: WorkerHandoff | null, env: Record<string, string | undefined>): Worker {
  if (!handoff) return cluster.fork({ ...env, STICKY_HANDOFF: 'ipc', STICKY_FD: '' });
  const own = cluster.settings.stdio;
  const base = own ?? (cluster.settings.silent ? ['pipe', 'pipe', 'pipe', 'ipc'] : ['inherit', 'inherit', 'inherit', 'ipc']);
  cluster.setupPrimary({ stdio: [...base, handoff.fd] });
  try {
    return cluster.fork({ ...env, STICKY_HANDOFF: handoff.kind, STICKY_FD: String(base.length) });
  } finally {
    cluster.setupPrimary({ stdio: own });
  }
}

/**
 * Routing 'sid': the key the workers sign their session ids with, and how
 * often they report their open connections when handshakes go by load.
 */
function sessionEnv(config: BalancerConfig): Record<string, string> {
  if (!config.sidKey) return {};
  const env: Record<string, string> = { STICKY_SID_KEY: config.sidKey.toString('hex') };
  if (config.sidFallback === 'least-loaded') env.STICKY_LOAD_REPORT_MS = String(LOAD_REPORT_MS);
  return env;
}

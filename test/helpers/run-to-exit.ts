/**
 * Runs a program to its end, for tests whose verdict is the exit code.
 *
 *   runToExit(argv, { env?, cwd?, timeoutMs?, onStart? }) -> Promise<Exit>
 *       spawns argv[0] with argv.slice(1) (env = process.env + env), collects its
 *       stdout and stderr, and waits (at most timeoutMs, default 20000) for it to
 *       exit. `onStart(child)` may drive it meanwhile (send signals, make requests).
 *       Afterwards every process that carries this run's marker in its
 *       environment (the program and whatever it forked) is SIGKILLed; those
 *       still alive when the program itself had exited are `leftBehind`.
 *   Exit: code, signal, timedOut, stdout, stderr, leftBehind (pids)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { REPO_ROOT, sleep } from './harness';

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
  onStart?: (child: ChildProcess) => void | Promise<void>;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  leftBehind: number[];
}

/** Live processes whose initial environment holds `needle`. */
export function pidsWithEnv(needle: string): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (!fs.readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').includes(needle)) continue;
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
      if (state !== 'Z' && state !== 'X') out.push(Number(name));
    } catch {
      // gone, or not ours
    }
  }
  return out;
}

export async function runToExit(argv: string[], opts: RunOptions = {}): Promise<Exit> {
  const marker = `STICKY_TEST_RUN=${randomUUID()}`;
  const child = spawn(argv[0], argv.slice(1), {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, ...opts.env, STICKY_TEST_RUN: marker.slice('STICKY_TEST_RUN='.length) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), opts.timeoutMs ?? 20_000)));
  try {
    await opts.onStart?.(child);
    const result = await Promise.race([exited, timeout]);
    // Let the pipes deliver what was written just before the exit.
    if (result) await sleep(50);
    const leftBehind = pidsWithEnv(marker);
    return { code: result?.code ?? null, signal: result?.signal ?? null, timedOut: result === null, stdout, stderr, leftBehind };
  } finally {
    clearTimeout(timer);
    // Bounded: kill whatever of this run is left, until none is.
    for (let round = 0; round < 60; round++) {
      const left = pidsWithEnv(marker);
      if (left.length === 0) break;
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await sleep(50);
    }
  }
}

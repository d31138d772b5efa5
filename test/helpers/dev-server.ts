/**
 * `durable dev` as a child process: spawned on a free port in a temp directory, as a person runs it, and stopped as
 * Ctrl-C does. Shared by the dev-loop, CLI and browser tests.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from './until.js';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const durableBin = join(repoRoot, 'bin', 'durable.mjs');

export interface Dev {
  readonly proc: ChildProcess;
  readonly url: string;
  /** Where its SQLite file lives (`durable.db` inside). */
  readonly dir: string;
  /** Everything printed on stdout so far. */
  output(): string;
}

export interface DevOptions {
  /** The data directory (default: a new temp directory, removed by {@link stopDev}). */
  readonly dir?: string;
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

const ownDirs = new WeakMap<Dev, string>();

/** Spawns `durable dev examples/app.ts --port 0` and resolves once it listens. */
export async function startDev(options: DevOptions = {}): Promise<Dev> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'durable-dev-'));
  const args = ['dev', 'examples/app.ts', '--port', '0', '--data-dir', dir, ...(options.args ?? [])];
  const proc = spawn(process.execPath, [durableBin, ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '', ...options.env },
  });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  proc.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  await until(
    () => (/Durable dev — http:\/\/\S+/.test(out) && out.includes('Ctrl-C')) || proc.exitCode !== null,
    'durable dev listens',
    20_000,
  );
  const url = /Durable dev — (http:\/\/\S+)/.exec(out)?.[1];
  if (!url) throw new Error(`durable dev did not start: ${err}`);
  const dev: Dev = { proc, url, dir, output: () => out };
  if (!options.dir) ownDirs.set(dev, dir);
  return dev;
}

/** Stops `durable dev` as Ctrl-C does; one that has not exited 20 s later is killed, and the error says so with its output. */
export async function stopDev(dev: Dev | undefined): Promise<void> {
  if (!dev) return;
  try {
    if (dev.proc.exitCode !== null || dev.proc.signalCode !== null) return;
    const exited = once(dev.proc, 'exit');
    dev.proc.kill('SIGINT');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), 20_000)));
    const result = await Promise.race([exited, late]);
    clearTimeout(timer);
    if (result === 'late') {
      dev.proc.kill('SIGKILL');
      throw new Error(
        `durable dev did not exit 20 s after SIGINT; its output ended with:\n${dev.output().slice(-2000)}`,
      );
    }
  } finally {
    const own = ownDirs.get(dev);
    if (own) rmSync(own, { recursive: true, force: true });
  }
}

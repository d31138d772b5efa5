/**
 * Recovery after a crash, end to end: a `durable dev`-style process (SQLite, in-process lock, 60 s activity lease) is
 * SIGKILLed in the middle of an activity and started again. The restarted process owns the file alone, so it takes
 * its predecessor's reservations back at start: the interrupted activity runs again and its instance completes
 * before the dead process's lease would have ended. Times are compared on the queue's own clock (the reservation's
 * expiry as written in the file, and the store's completion time), not against a wall-clock budget.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { loadConfig } from '../../src/config/config.js';
import type { Host } from '../../src/host/host.js';
import { startHost } from '../../src/host/host.js';
import { restartApp } from './restart/restart-app.js';

const LEASE_MS = 60_000;

describe('recovery after a restart on SQLite', function () {
  this.timeout(90_000);
  let dir: string;
  let client: Host;
  let child: ChildProcess | undefined;

  const path = (): string => join(dir, 'durable.db');

  async function startWorker(env: Record<string, string>): Promise<ChildProcess> {
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'restart', 'restart-worker.ts')],
      {
        env: {
          ...process.env,
          DURABLE_BACKEND: 'sqlite',
          DURABLE_SQLITE_PATH: path(),
          DURABLE_DURABILITY: 'normal',
          DURABLE_ACTIVITY_LEASE_MS: String(LEASE_MS),
          RESTART_DIR: dir,
          ...env,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    await new Promise<void>((resolve, reject) => {
      proc.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready')) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
    });
    return proc;
  }

  async function kill(proc: ChildProcess): Promise<void> {
    const exited = once(proc, 'exit');
    proc.kill('SIGKILL');
    await exited;
  }

  /** Activity runs so far, as `[id, pid]` pairs. */
  function runs(): string[][] {
    const file = join(dir, 'runs.log');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' ').slice(0, 2));
  }

  async function untilRunning(id: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!runs().some(([runId]) => runId === id)) {
      if (Date.now() > deadline) assert.fail(`activity ${id} never started`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** The activity reservations in the file: when each expires, on the queue's clock. */
  function reservations(): { visibleAt: number; attempt: number }[] {
    const db = new Database(path(), { readonly: true });
    try {
      return db
        .prepare(
          `SELECT visible_at AS visibleAt, attempt FROM messages WHERE queue = 'activities' AND state = 'reserved'`,
        )
        .all() as { visibleAt: number; attempt: number }[];
    } finally {
      db.close();
    }
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'durable-restart-'));
    // A client beside the worker, as the HTTP API of `durable dev` would be: it never reclaims anything.
    client = await startHost({
      app: restartApp,
      config: loadConfig({ DURABLE_BACKEND: 'sqlite', DURABLE_SQLITE_PATH: path(), DURABLE_DURABILITY: 'normal' }),
      runWorker: false,
    });
  });

  afterEach(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) await kill(child);
    child = undefined;
    await client.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs an activity interrupted by a crash again, completing it before the dead process's lease would have ended", async () => {
    const id = await client.client.start('oneStep', { id: 'interrupted', holdMs: 0 });
    child = await startWorker({ RESTART_HANG: '1' });
    await untilRunning('interrupted');
    const [held] = reservations();
    assert.ok(held !== undefined, 'the activity is reserved while it runs');
    await kill(child);

    child = await startWorker({});
    const status = await client.client.waitForCompletion(id, { timeoutMs: LEASE_MS - 10_000 });
    assert.equal(status.status, 'Completed');
    assert.equal(status.output, 'done interrupted');
    assert.ok(
      status.lastUpdatedAt.getTime() < held.visibleAt,
      `completed at ${status.lastUpdatedAt.toISOString()}, after the old lease's end ${new Date(held.visibleAt).toISOString()}`,
    );
    const pids = runs()
      .filter(([runId]) => runId === 'interrupted')
      .map(([, pid]) => pid);
    assert.equal(pids.length, 2, 'one run cut short by the kill, one after the restart');
    assert.notEqual(pids[0], pids[1]);
    const history = await client.client.getHistory(id);
    assert.equal(history.filter((e) => e.type === 'TaskScheduled').length, 1);
    assert.equal(history.filter((e) => e.type === 'TaskCompleted').length, 1);
  });

  it("leaves a dead process's reservations to their lease when workers share the file through the SQLite lock", async () => {
    // Another live worker may hold them: only expiry can tell a dead holder from a live one here.
    await client.client.start('oneStep', { id: 'shared', holdMs: 0 });
    child = await startWorker({ RESTART_HANG: '1', DURABLE_LOCK: 'sqlite' });
    await untilRunning('shared');
    const before = reservations();
    assert.equal(before.length, 1);
    await kill(child);

    child = await startWorker({ DURABLE_LOCK: 'sqlite' }); // ready: past the point where a reclaim would happen
    assert.deepEqual(reservations(), before, 'the reservation still stands, untouched');
    assert.equal(runs().filter(([runId]) => runId === 'shared').length, 1);
  });
});

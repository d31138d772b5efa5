/**
 * Crash safety, end to end: a Durable process runs 500 orchestrations (2,500 activities with effects on an
 * external ledger) on a SQLite file and is SIGKILLed at random moments, ten times, and restarted each time.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { loadConfig } from '../../src/config/config.js';
import type { Host } from '../../src/host/host.js';
import { startHost } from '../../src/host/host.js';
import { seededUint32 } from '../../src/engine/deterministic-random.js';
import { crashApp, STEPS } from './crash/crash-app.js';

const INSTANCES = 500;
const KILLS = 10;

describe('crash safety on SQLite', function () {
  this.timeout(180_000);
  let dir: string;
  let host: Host;
  let child: ChildProcess | undefined;

  const env = (): NodeJS.ProcessEnv => ({
    ...process.env,
    DURABLE_BACKEND: 'sqlite',
    DURABLE_SQLITE_PATH: join(dir, 'durable.db'),
    DURABLE_ACTIVITY_CONCURRENCY: '8',
    CRASH_LEDGER_DIR: dir,
  });

  async function startWorker(): Promise<ChildProcess> {
    const proc = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'crash', 'crash-worker.ts')], {
      env: env(),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      proc.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready')) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
    });
    return proc;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'durable-crash-'));
    host = await startHost({
      app: crashApp,
      config: loadConfig({ DURABLE_BACKEND: 'sqlite', DURABLE_SQLITE_PATH: join(dir, 'durable.db') }),
      runWorker: false,
    });
  });

  after(async () => {
    child?.kill('SIGKILL');
    await host.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('completes every instance with the right output, without history gaps or duplicates, applying each effect once', async () => {
    for (let i = 0; i < INSTANCES; i++) {
      await host.client.start('ledgerChain', { base: i, delayMs: 10 }, { instanceId: `crash-${i}` });
    }
    const random = seededUint32('crash-safety');
    child = await startWorker();
    for (let k = 0; k < KILLS; k++) {
      await new Promise((resolve) => setTimeout(resolve, 150 + (random() % 450)));
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
      child = await startWorker();
    }
    const completedBeforeTheEnd = (await host.client.list({ status: 'Completed', limit: 1000 })).items.length;
    assert.ok(completedBeforeTheEnd < INSTANCES, 'the kills must land while work is still in flight');

    const deadline = Date.now() + 120_000;
    for (;;) {
      const done = (await host.client.list({ status: 'Completed', limit: 1000 })).items.length;
      if (done === INSTANCES) break;
      if (Date.now() > deadline) assert.fail(`only ${done} of ${INSTANCES} instances completed`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }

    for (let i = 0; i < INSTANCES; i++) {
      const id = `crash-${i}`;
      const status = await host.client.getStatus(id);
      assert.equal(status?.output, STEPS * i + (STEPS * (STEPS - 1)) / 2, `${id} output`);
      const history = await host.client.getHistory(id);
      assert.equal(history[0]?.type, 'ExecutionStarted', `${id} starts with ExecutionStarted`);
      assert.equal(history.at(-1)?.type, 'ExecutionCompleted', `${id} ends with ExecutionCompleted`);
      const scheduled = history.filter((e) => e.type === 'TaskScheduled').map((e) => e.seq);
      const completed = history.filter((e) => e.type === 'TaskCompleted').map((e) => e.seq);
      assert.deepEqual(scheduled, [0, 1, 2, 3, 4], `${id} schedules each step once, in order`);
      assert.deepEqual(completed, [0, 1, 2, 3, 4], `${id} completes each step once, in order`);
      assert.equal(history.length, 2 + 2 * STEPS, `${id} has no extra events`);
    }

    const ledger = readFileSync(join(dir, 'ledger.log'), 'utf8').split('\n').filter(Boolean);
    const keys = ledger.map((line) => line.split(' ')[0]);
    assert.equal(new Set(keys).size, keys.length, 'no effect applied twice');
    assert.equal(keys.length, INSTANCES * STEPS, 'every effect applied');
    const runs = existsSync(join(dir, 'runs.log'))
      ? readFileSync(join(dir, 'runs.log'), 'utf8').split('\n').filter(Boolean)
      : [];
    console.log(
      `      ${KILLS} kills; ${completedBeforeTheEnd} instances done before the last restart; ` +
        `${runs.length} activity runs for ${keys.length} effects (${runs.length - keys.length} re-runs after crashes)`,
    );
  });
});

/**
 * Measures recovery after crashes (not a test; nothing is asserted):
 *
 *   node --import tsx scripts/restart-recovery.ts [instances] [kills] [holdMs]
 *
 * A `durable dev`-style host (SQLite, the in-process lock, default leases: activities 60 s, turns 10 s) runs in a
 * child process. In each of `kills` rounds the script starts `instances` orchestrations of one activity each (the
 * activity takes `holdMs`, default 2000), SIGKILLs the host once activities are running and restarts it. After each
 * restart it reports the recovery time: from the restart to the completion (on the store's clock) of the last
 * instance whose activity the kill interrupted, and the median over those instances. Each restart waits for its
 * interrupted instances before the next kill. Set DURABLE_LOCK=sqlite to see a restart that may not reclaim (other
 * processes could share the file): the interrupted activities then wait for their lease, as all did before reclaim.
 */
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadConfig } from '../src/config/config.js';
import { startHost } from '../src/host/host.js';
import { restartApp } from '../test/integration/restart/restart-app.js';

const instances = Number(process.argv[2] ?? 200);
const kills = Number(process.argv[3] ?? 5);
const holdMs = Number(process.argv[4] ?? 2000);
const dir = mkdtempSync(join(tmpdir(), 'durable-recovery-'));
const env = {
  ...process.env,
  DURABLE_BACKEND: 'sqlite',
  DURABLE_SQLITE_PATH: join(dir, 'durable.db'),
  DURABLE_DURABILITY: process.env.DURABLE_DURABILITY ?? 'normal',
  RESTART_DIR: dir,
};
const worker = join(import.meta.dirname, '..', 'test', 'integration', 'restart', 'restart-worker.ts');
// The script's report goes to stdout.
const out = (line: string): void => void process.stdout.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function startWorker(): Promise<ChildProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', worker], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    proc.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
  });
  return proc;
}

/** Instance ids whose activity has started in process `pid`. */
function startedIn(pid: number): Set<string> {
  const file = join(dir, 'runs.log');
  if (!existsSync(file)) return new Set();
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  return new Set(lines.map((l) => l.split(' ')).flatMap(([id, p]) => (Number(p) === pid && id ? [id] : [])));
}

const client = await startHost({ app: restartApp, config: loadConfig(env), runWorker: false });
const ids: string[] = [];
const completed = async (id: string): Promise<boolean> => (await client.client.getStatus(id))?.status === 'Completed';

out(
  `restart recovery: ${instances} instances, activities of ${holdMs} ms, ${kills} kills, lock ${process.env.DURABLE_LOCK ?? 'memory'}, ` +
    `${availableParallelism()} cores, Node ${process.version}`,
);
let child = await startWorker();
for (let k = 1; k <= kills; k++) {
  for (let i = 0; i < instances; i++) {
    const id = `recovery-${k}-${i}`;
    ids.push(id);
    await client.client.start('oneStep', { id, holdMs }, { instanceId: id });
  }
  // Let the worker get activities going, then kill it in the middle of them.
  await sleep(holdMs / 2 + 500);
  const pid = child.pid as number;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
  const interrupted: string[] = [];
  for (const id of startedIn(pid)) if (!(await completed(id))) interrupted.push(id);
  const restartAt = Date.now();
  child = await startWorker();
  const readyMs = Date.now() - restartAt;
  const finished: number[] = [];
  for (const id of interrupted) {
    for (;;) {
      const status = await client.client.getStatus(id);
      if (status?.status === 'Completed') {
        finished.push(status.lastUpdatedAt.getTime() - restartAt);
        break;
      }
      await sleep(50);
    }
  }
  finished.sort((a, b) => a - b);
  const median = finished[Math.floor(finished.length / 2)] ?? 0;
  const last = finished.at(-1) ?? 0;
  out(
    `kill ${k}: ${interrupted.length} activities interrupted; restart ready in ${readyMs} ms; ` +
      `interrupted instances completed ${(median / 1000).toFixed(1)} s (median), ${(last / 1000).toFixed(1)} s (last) after the restart`,
  );
}
const all = await Promise.all(ids.map((id) => client.client.waitForCompletion(id, { timeoutMs: 300_000 })));
out(`all ${all.filter((s) => s.status === 'Completed').length} of ${ids.length} instances completed`);
child.kill('SIGKILL');
await once(child, 'exit');
await client.stop();
rmSync(dir, { recursive: true, force: true });

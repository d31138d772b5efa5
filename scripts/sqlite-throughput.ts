/**
 * Measures the SQLite adapters on this machine (not a test; nothing is asserted):
 *
 *   node --import tsx scripts/sqlite-throughput.ts [secondsPerCase]
 *
 * For durability `full` and `normal`: record commits per second through `commitMany` in batches of 1 and of 100
 * (small records, one transaction per batch), and messages per second through a send + receive + settle cycle
 * in batches of 100. Each case runs for a fixed time on a fresh file in the OS temp directory. Figures depend on
 * the disk's fsync latency above all; compare them as ratios on one machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SystemClock } from '../src/backends/clock.js';
import type { Durability } from '../src/backends/sqlite/sqlite-database.js';
import { SqliteDatabase } from '../src/backends/sqlite/sqlite-database.js';
import { SqliteQueue } from '../src/backends/sqlite/sqlite-queue.js';
import { SqliteStore } from '../src/backends/sqlite/sqlite-store.js';
import type { InstanceRecord } from '../src/backends/store.js';
import { runningRecord } from '../test/helpers/records.js';
import type { OrchestrationMessage } from '../src/engine/messages.js';

const seconds = Number(process.argv[2] ?? 3);

function record(instanceId: string): InstanceRecord {
  return runningRecord(instanceId, { name: 'bench', input: { n: 1 } });
}

/** Runs `step` (which handles `unit` items) repeatedly for the configured time; returns items per second. */
async function rate(unit: number, step: (round: number) => Promise<void>): Promise<number> {
  const start = performance.now();
  const end = start + seconds * 1000;
  let round = 0;
  while (performance.now() < end) await step(round++);
  return (round * unit * 1000) / (performance.now() - start);
}

async function withDatabase<T>(durability: Durability, body: (database: SqliteDatabase) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'durable-throughput-'));
  const database = SqliteDatabase.open({ path: join(dir, 'bench.db'), durability });
  try {
    return await body(database);
  } finally {
    database.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function commits(durability: Durability, batch: number): Promise<number> {
  return withDatabase(durability, async (database) => {
    const store = new SqliteStore({ database });
    const value = await rate(batch, async (round) => {
      const items = Array.from({ length: batch }, (_, i) => ({ next: record(`r${round}-${i}`), expectedVersion: 0 }));
      const results = await store.commitMany(items);
      if (!results.every((r) => r.ok)) throw new Error('unexpected conflict');
    });
    await store.close();
    return value;
  });
}

async function messages(durability: Durability, batch: number): Promise<number> {
  return withDatabase(durability, async (database) => {
    const queue = new SqliteQueue({ database, clock: new SystemClock() });
    const value = await rate(batch, async (round) => {
      const sent: OrchestrationMessage[] = Array.from({ length: batch }, (_, i) => ({
        id: `m${round}-${i}`,
        queue: 'orchestrations',
        instanceId: `i${i}`,
        body: { type: 'EventRaised', name: 'tick', input: i },
      }));
      await queue.send(sent);
      const deliveries = await queue.receive('orchestrations', batch, { visibilityTimeoutMs: 30_000 });
      if (deliveries.length !== batch) throw new Error(`received ${deliveries.length} of ${batch}`);
      await queue.settle({ ack: deliveries });
    });
    await queue.close();
    return value;
  });
}

async function main(): Promise<void> {
  const rows: string[] = [];
  for (const durability of ['full', 'normal'] as const) {
    const single = await commits(durability, 1);
    const hundred = await commits(durability, 100);
    const cycle = await messages(durability, 100);
    rows.push(
      `${durability.padEnd(10)} ${single.toFixed(0).padStart(14)} ${hundred.toFixed(0).padStart(16)} ` +
        `${cycle.toFixed(0).padStart(22)}`,
    );
  }
  process.stdout.write(
    `SQLite throughput, ${seconds} s per case, files in ${tmpdir()}\n` +
      `durability commits/s (×1) commits/s (×100) messages/s (send+recv+ack ×100)\n` +
      `${rows.join('\n')}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});

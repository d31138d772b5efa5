/**
 * Group commit on RethinkDB, measured: `tsx bench/rethinkdb-commit.ts` spawns a server (or uses `RETHINKDB_URL`)
 * and times `commitMany` on batches of BENCH_COMMIT_BATCH (default 100) creations, then the same records updated
 * (each update archives the previous tail as a chunk, as a turn does), BENCH_COMMIT_ROUNDS (default 20) batches each,
 * one batch at a time. Prints one JSON line. `BENCH_STORE_MODULE` swaps in another build of the store (for A/B runs).
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { InstanceRecord, Store, TurnCommit } from '../src/backends/store.js';
import { nextRecord } from '../src/backends/store.js';
import { events } from '../src/engine/history.js';
import { RethinkdbServer, externalRethinkdb } from '../test/fixtures/rethinkdb-server.js';

const batch = Number(process.env.BENCH_COMMIT_BATCH ?? 100);
const rounds = Number(process.env.BENCH_COMMIT_ROUNDS ?? 20);
const modulePath = resolve(process.env.BENCH_STORE_MODULE ?? 'src/backends/rethinkdb/rethinkdb-store.ts');
const { RethinkdbStore } = (await import(modulePath)) as {
  RethinkdbStore: { open(o: Record<string, unknown>): Promise<Store> };
};

const server = externalRethinkdb() === undefined ? await RethinkdbServer.start({ name: 'bench' }) : undefined;
const address = externalRethinkdb() ?? (server as RethinkdbServer).address;
const db = `bench_${randomUUID().replace(/-/g, '')}`;
const store = await RethinkdbStore.open({ ...address, db });

function record(instanceId: string): InstanceRecord {
  const started = events.executionStarted({ name: 'helloCities', input: null, generation: 0 });
  return {
    instanceId,
    version: 1,
    name: 'helloCities',
    generation: 0,
    status: 'Running',
    createdAt: Date.now(),
    updatedAt: Date.now(),
    historyLength: 1,
    tail: { instanceId, generation: 0, fromIndex: 0, events: [started] },
    outbox: [],
  };
}

async function timed(commits: TurnCommit[][]): Promise<number> {
  const t0 = performance.now();
  for (const items of commits) {
    const results = await store.commitMany(items);
    if (!results.every((r) => r.ok)) throw new Error('a benchmark commit conflicted');
  }
  return Math.round((rounds * batch) / ((performance.now() - t0) / 1000));
}

const batches = Array.from({ length: rounds }, () => Array.from({ length: batch }, () => record(randomUUID())));
const creationsPerSecond = await timed(batches.map((b) => b.map((next) => ({ next, expectedVersion: 0 }))));
const updatesPerSecond = await timed(
  batches.map((b) =>
    b.map((current) => ({
      archive: current.tail,
      expectedVersion: 1,
      next: nextRecord(current, {
        historyLength: 2,
        tail: { instanceId: current.instanceId, generation: 0, fromIndex: 1, events: [events.taskCompleted(1, 'x')] },
      }),
    })),
  ),
);
await store.close();
await server?.stop();
process.stdout.write(`${JSON.stringify({ batch, rounds, creationsPerSecond, updatesPerSecond })}\n`);

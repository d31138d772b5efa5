/**
 * One benchmark workload in its own process (so peak RSS is the workload's own): `tsx bench/workload.ts
 * <workload> <backend> <durability>`. Prints one JSON line with the figures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { startHost } from '../src/host/host.js';
import type { DurableClient } from '../src/index.js';
import type { Cluster } from './cluster.js';
import { startCluster } from './cluster.js';
import app, { CITIES } from './hello-app.js';

const [workload = 'hello', backend = 'sqlite', durability = 'full'] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), 'durable-bench-'));
const config = loadConfig({
  DURABLE_BACKEND: backend === 'cluster' ? 'sqlite' : backend,
  DURABLE_SQLITE_PATH: join(dir, 'bench.db'),
  DURABLE_DURABILITY: durability,
  DURABLE_ACTIVITY_CONCURRENCY: process.env.BENCH_ACTIVITY_CONCURRENCY ?? '256',
});
// `cluster`: worker processes on Beanstalkd + RethinkDB (bench/cluster.ts); otherwise one in-process host.
const cluster: Cluster | undefined = backend === 'cluster' ? await startCluster(durability) : undefined;
const host =
  cluster?.host ??
  (await startHost({
    app,
    config,
    worker: { pollMs: 20, batchSize: Number(process.env.BENCH_BATCH ?? 500), orchestrationConcurrency: 64 },
  }));
const client = host.client;

/** Status reads made while waiting (each one store query), so they can be left out of the round-trip count. */
let polls = 0;

async function waitAll(ids: string[]): Promise<void> {
  let next = 0;
  while (next < ids.length) {
    polls++;
    const status = await client.getStatus(ids[next] as string);
    if (status?.status === 'Completed') next++;
    else if (status?.status === 'Failed') throw new Error(`${ids[next]} failed: ${status.error?.message}`);
    else await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function latencies(c: DurableClient, ids: string[]): Promise<number[]> {
  const out: number[] = [];
  for (const id of ids) {
    const s = await c.getStatus(id);
    if (s) out.push(s.lastUpdatedAt.getTime() - s.createdAt.getTime());
  }
  return out.sort((a, b) => a - b);
}

const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;

interface StoreReading {
  readonly leaseWrites?: number;
  readonly queries: number;
  readonly documents: Record<string, { read: number; written: number }>;
}

async function readStore(): Promise<StoreReading | undefined> {
  if (cluster === undefined) return undefined;
  const writes = cluster.leaseWrites();
  return {
    ...(writes !== undefined ? { leaseWrites: writes } : {}),
    queries: await cluster.queries(),
    documents: await cluster.documents(),
  };
}

/**
 * RethinkDB queries per orchestration between two readings of the server's counters, less the client's status polls
 * and the readings' own queries (two each): the store and lock round trips the work itself cost. Also the documents
 * written per orchestration, per table.
 */
function storeCost(
  before: StoreReading | undefined,
  after: StoreReading | undefined,
  n: number,
): Record<string, unknown> {
  if (before === undefined || after === undefined) return {};
  const queries = after.queries - before.queries - polls - 2;
  const written: Record<string, number> = {};
  for (const [table, docs] of Object.entries(after.documents)) {
    const count = docs.written - (before.documents[table]?.written ?? 0);
    if (count > 0) written[table] = Math.round((count / n) * 10) / 10;
  }
  const writes = cluster?.leaseWrites();
  return {
    ...(writes !== undefined && before.leaseWrites !== undefined ? { leaseWrites: writes - before.leaseWrites } : {}),
    rethinkdbQueries: queries,
    roundTripsPerOrchestration: Math.round((queries / n) * 10) / 10,
    documentsWrittenPerOrchestration: written,
  };
}

/** Orchestration and entity messages the workers processed, and those bounced because their instance was held. */
async function deliveries(): Promise<Record<string, number>> {
  const d = await cluster?.deliveries();
  return d === undefined ? {} : { messagesProcessed: d.processed, messagesBounced: d.busy };
}

let result: Record<string, unknown>;
if (workload === 'hello') {
  const n = Number(process.env.BENCH_HELLO ?? 1000);
  const q0 = await readStore();
  const t0 = performance.now();
  const ids = await Promise.all(Array.from({ length: n }, () => client.start('helloCities')));
  await waitAll(ids);
  const seconds = (performance.now() - t0) / 1000;
  const q1 = await readStore();
  const lat = await latencies(client, ids);
  result = {
    orchestrationsPerSecond: Math.round(n / seconds),
    // Netherite's count: two events per activity call (scheduled + completed).
    eventsPerSecond: Math.round((n * CITIES.length * 2) / seconds),
    p50Ms: pct(lat, 50),
    p99Ms: pct(lat, 99),
    seconds: Math.round(seconds * 100) / 100,
    ...storeCost(q0, q1, n),
    ...(await deliveries()),
  };
} else if (workload === 'latency') {
  // Not saturated: 200 orchestrations, one every 10 ms.
  const ids: string[] = [];
  for (let i = 0; i < 200; i++) {
    ids.push(await client.start('helloCities'));
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await waitAll(ids);
  const lat = await latencies(client, ids);
  result = { p50Ms: pct(lat, 50), p99Ms: pct(lat, 99) };
} else if (workload === 'fanout') {
  const q0 = await readStore();
  const t0 = performance.now();
  const id = await client.start('fanOut', 1000);
  await waitAll([id]);
  const seconds = (performance.now() - t0) / 1000;
  const q1 = await readStore();
  result = {
    seconds: Math.round(seconds * 1000) / 1000,
    activitiesPerSecond: Math.round(1000 / seconds),
    ...storeCost(q0, q1, 1),
  };
} else if (workload === 'scaling') {
  const steps = Number(process.env.BENCH_STEPS ?? 10_000);
  const id = await client.start('longChain', steps);
  await waitAll([id]);
  const history = await client.getHistory(id);
  const scheduledAt = history.filter((e) => e.type === 'TaskScheduled').map((e) => e.at);
  const stepMs = (from: number, to: number): number =>
    ((scheduledAt[to] ?? NaN) - (scheduledAt[from] ?? NaN)) / (to - from);
  const early = stepMs(10, 110);
  const late = stepMs(steps - 101, steps - 1);
  result = {
    steps,
    msPerStepAt10: Math.round(early * 1000) / 1000,
    msPerStepAt10000: Math.round(late * 1000) / 1000,
    ratio: Math.round((late / early) * 100) / 100,
  };
} else {
  throw new Error(`unknown workload ${workload}`);
}
await (cluster?.stop() ?? host.stop());
rmSync(dir, { recursive: true, force: true });
const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
process.stdout.write(`${JSON.stringify({ workload, backend, durability, ...result, peakRssMb })}\n`);

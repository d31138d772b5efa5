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
import { defineApp } from '../src/index.js';

const CITIES = ['Tokyo', 'Seattle', 'London', 'Paris', 'Cairo'];

const activities = {
  async sayHello(city: string) {
    return `Hello ${city}`;
  },
  async work(n: number) {
    return n + 1;
  },
};

const app = defineApp({
  activities,
  orchestrations: {
    async helloCities(ctx) {
      const out: string[] = [];
      for (const city of CITIES) out.push(await ctx.callActivity('sayHello', city));
      return out;
    },
    async fanOut(ctx, width: number) {
      const results = await Promise.all(Array.from({ length: width }, (_, i) => ctx.callActivity('work', i)));
      return results.length;
    },
    async longChain(ctx, steps: number) {
      let n = 0;
      for (let i = 0; i < steps; i++) n = await ctx.callActivity('work', n);
      return n;
    },
  },
});

const [workload = 'hello', backend = 'sqlite', durability = 'full'] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), 'durable-bench-'));
const config = loadConfig({
  DURABLE_BACKEND: backend,
  DURABLE_SQLITE_PATH: join(dir, 'bench.db'),
  DURABLE_DURABILITY: durability,
  DURABLE_ACTIVITY_CONCURRENCY: process.env.BENCH_ACTIVITY_CONCURRENCY ?? '256',
});
const host = await startHost({
  app,
  config,
  worker: { pollMs: 20, batchSize: Number(process.env.BENCH_BATCH ?? 500), orchestrationConcurrency: 64 },
});
const client = host.client;

async function waitAll(ids: string[]): Promise<void> {
  let next = 0;
  while (next < ids.length) {
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

let result: Record<string, unknown>;
if (workload === 'hello') {
  const n = Number(process.env.BENCH_HELLO ?? 1000);
  const t0 = performance.now();
  const ids = await Promise.all(Array.from({ length: n }, () => client.start('helloCities')));
  await waitAll(ids);
  const seconds = (performance.now() - t0) / 1000;
  const lat = await latencies(client, ids);
  result = {
    orchestrationsPerSecond: Math.round(n / seconds),
    // Netherite's count: two events per activity call (scheduled + completed).
    eventsPerSecond: Math.round((n * CITIES.length * 2) / seconds),
    p50Ms: pct(lat, 50),
    p99Ms: pct(lat, 99),
    seconds: Math.round(seconds * 100) / 100,
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
  const t0 = performance.now();
  const id = await client.start('fanOut', 1000);
  await waitAll([id]);
  const seconds = (performance.now() - t0) / 1000;
  result = { seconds: Math.round(seconds * 1000) / 1000, activitiesPerSecond: Math.round(1000 / seconds) };
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
await host.stop();
rmSync(dir, { recursive: true, force: true });
const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
process.stdout.write(`${JSON.stringify({ workload, backend, durability, ...result, peakRssMb })}\n`);

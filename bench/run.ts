/**
 * Benchmarks: `npm run bench`. Figures depend on the machine; compare them as ratios between runs on one
 * machine, never as absolute promises. Nothing here is asserted by tests.
 */
import { availableParallelism, cpus } from 'node:os';
import type { App } from '../src/index.js';
import {
  defineApp,
  DurableClient,
  MemoryLock,
  MemoryQueue,
  MemoryStore,
  OrchestrationExecutor,
  SystemClock,
  TestEnvironment,
  Worker,
} from '../src/index.js';

const activities = {
  async work(n: number) {
    return n + 1;
  },
};

const app = defineApp({
  activities,
  orchestrations: {
    async chain(ctx, steps: number) {
      let n = 0;
      for (let i = 0; i < steps; i++) n = await ctx.callActivity('work', n);
      return n;
    },
    async fanOut(ctx, width: number) {
      const results = await Promise.all(Array.from({ length: width }, (_, i) => ctx.callActivity('work', i)));
      return results.length;
    },
    async monitor(ctx, checksLeft: number) {
      if (checksLeft === 0) return 'done';
      await ctx.createTimer(3_600_000);
      return ctx.continueAsNew(checksLeft - 1);
    },
  },
});

interface Row {
  readonly scenario: string;
  readonly work: string;
  readonly ms: number;
  readonly rate: string;
}

async function withWorker<T>(fn: (client: DurableClient) => Promise<T>, bench: App = app): Promise<T> {
  const clock = new SystemClock();
  const store = new MemoryStore();
  const queue = new MemoryQueue({ clock });
  const worker = new Worker({
    app: bench,
    store,
    queue,
    lock: new MemoryLock({ clock }),
    clock,
    activityConcurrency: 64,
  });
  worker.start();
  try {
    return await fn(new DurableClient({ store, queue, clock }));
  } finally {
    await worker.stop();
  }
}

function progress(label: string, done: number, total: number): void {
  if (!process.stdout.isTTY) return;
  process.stdout.write(`\r  ${label}: ${done}/${total}   `);
  if (done === total) process.stdout.write('\r' + ' '.repeat(60) + '\r');
}

async function chain(instances: number, steps: number): Promise<Row> {
  return withWorker(async (client) => {
    const t0 = performance.now();
    const ids = await Promise.all(Array.from({ length: instances }, () => client.start('chain', steps)));
    let done = 0;
    await Promise.all(
      ids.map(async (id) => {
        await client.waitForCompletion(id);
        progress('chain', ++done, instances);
      }),
    );
    const ms = performance.now() - t0;
    const turns = instances * (steps + 1);
    return {
      scenario: 'chaining',
      work: `${instances} instances x ${steps} activities`,
      ms,
      rate: `${Math.round((turns / ms) * 1000)} turns/s, ${Math.round((instances * steps * 1000) / ms)} activities/s`,
    };
  });
}

async function fanOut(width: number): Promise<Row> {
  return withWorker(async (client) => {
    const t0 = performance.now();
    const id = await client.start('fanOut', width);
    await client.waitForCompletion(id);
    const ms = performance.now() - t0;
    return {
      scenario: 'fan-out/fan-in',
      work: `1 instance x ${width} activities`,
      ms,
      rate: `${Math.round((width * 1000) / ms)} activities/s`,
    };
  });
}

async function replay(steps: number): Promise<Row> {
  const env = TestEnvironment.start(app);
  const id = await env.client.start('chain', steps);
  await env.waitForCompletion(id);
  const history = await env.client.getHistory(id);
  await env.close();
  const rounds = 20;
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) await new OrchestrationExecutor(id, app).load(history);
  const ms = (performance.now() - t0) / rounds;
  return {
    scenario: 'replay (cache miss)',
    work: `${history.length} events`,
    ms,
    rate: `${Math.round((history.length * 1000) / ms)} events/s`,
  };
}

async function monitor(checks: number): Promise<Row> {
  const env = TestEnvironment.start(app);
  const t0 = performance.now();
  const id = await env.client.start('monitor', checks);
  await env.waitForCompletion(id);
  const ms = performance.now() - t0;
  await env.close();
  return {
    scenario: 'time skipping',
    work: `${checks} hourly timers + continue-as-new (${Math.round(checks / 24)} days)`,
    ms,
    rate: `${Math.round((checks * 1000) / ms)} generations/s`,
  };
}

const rows: Row[] = [];
console.log(
  `Durable benchmarks — Node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown cpu'})`,
);
console.log('Backends: memory (in-process). Compare runs on the same machine.\n');
rows.push(await chain(200, 10));
rows.push(await fanOut(2000));
rows.push(await replay(500));
rows.push(await monitor(720));
console.table(
  rows.map((r) => ({ scenario: r.scenario, work: r.work, 'time (ms)': Math.round(r.ms * 10) / 10, rate: r.rate })),
);

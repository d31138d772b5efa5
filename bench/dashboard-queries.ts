/**
 * `npm run bench:dashboard`: what the dashboard's reads cost on SQLite with many instances. Fills a temporary SQLite
 * file with BENCH_RECORDS (default 100,000) orchestration records (10 names, every status, 1 in 500 stuck), then
 * times, as medians of 20 runs: counts by status for everything and for one name, the first page of stuck
 * instances, an id-prefix search, the change token the change stream polls, and the first page of the listing. Not a
 * test: nothing is asserted. Prints a Markdown table; the header names the machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { InstanceRecord, TurnCommit } from '../src/backends/store.js';
import { SqliteStore } from '../src/backends/sqlite/sqlite-store.js';
import { events } from '../src/engine/history.js';
import type { RuntimeStatus } from '../src/engine/status.js';

const total = Number(process.env.BENCH_RECORDS ?? 100_000);
const STATUSES: RuntimeStatus[] = ['Pending', 'Running', 'Suspended', 'Completed', 'Failed', 'Terminated'];
const T0 = Date.UTC(2026, 0, 1);

function record(i: number): InstanceRecord {
  const instanceId = `order-${String(i).padStart(7, '0')}`;
  const name = `workflow${i % 10}`;
  const tail = {
    instanceId,
    generation: 0,
    fromIndex: 0,
    events: [events.executionStarted({ name, input: { i }, generation: 0 }, T0 + i)],
  };
  return {
    instanceId,
    version: 1,
    name,
    generation: 0,
    status: STATUSES[i % STATUSES.length]!,
    ...(i % 500 === 0 ? { stuck: { name: 'NonDeterminismError', message: 'the code changed' } } : {}),
    createdAt: T0 + i,
    updatedAt: T0 + i,
    historyLength: 1,
    tail,
    outbox: [],
  };
}

async function median(runs: number, fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const dir = mkdtempSync(join(tmpdir(), 'durable-bench-dashboard-'));
const store = new SqliteStore({ database: { path: join(dir, 'bench.db'), durability: 'normal' } });
try {
  const fillStart = performance.now();
  for (let first = 0; first < total; first += 1000) {
    const commits: TurnCommit[] = [];
    for (let i = first; i < Math.min(total, first + 1000); i++) commits.push({ next: record(i), expectedVersion: 0 });
    await store.commitMany(commits);
    if (first % 10_000 === 0)
      process.stderr.write(`\rfilling: ${first.toLocaleString('en')} / ${total.toLocaleString('en')}`);
  }
  process.stderr.write(
    `\rfilled ${total.toLocaleString('en')} records in ${((performance.now() - fillStart) / 1000).toFixed(1)} s\n`,
  );

  const rows: [string, number][] = [
    ['counts by status, all instances', await median(20, () => store.countByStatus({}))],
    ['counts by status, one name (1 in 10)', await median(20, () => store.countByStatus({ name: 'workflow3' }))],
    ['first page of stuck instances', await median(20, () => store.list({ stuck: true, limit: 25 }))],
    ['id prefix search, first page', await median(20, () => store.list({ idPrefix: 'order-00123', limit: 25 }))],
    ['id prefix search, no match', await median(20, () => store.list({ idPrefix: 'invoice-', limit: 25 }))],
    ['counts for an id prefix', await median(20, () => store.countByStatus({ idPrefix: 'order-00123' }))],
    ['first page, no filter', await median(20, () => store.list({ limit: 25 }))],
    ['change token (the stream polls it)', await median(20, () => store.changeToken())],
  ];
  console.log(
    `Dashboard reads on SQLite, ${total.toLocaleString('en')} records: Node ${process.version}, ` +
      `${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}); medians of 20 runs\n`,
  );
  console.log('| read | median |\n| --- | ---: |');
  for (const [name, ms] of rows) console.log(`| ${name} | ${ms < 1 ? ms.toFixed(2) : ms.toFixed(1)} ms |`);
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}

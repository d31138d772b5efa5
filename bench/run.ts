/**
 * `npm run bench`: runs each workload in its own process (so peak RSS is the workload's), on SQLite with both
 * durability settings, and prints a Markdown table (the one in docs/benchmarks.md). Not a test: nothing here is
 * asserted. Figures depend on the machine; the header says which one.
 *
 * Workloads: (a) `hello` 1,000 HelloCities orchestrations (5 sequential activities each) started at once;
 * `latency` HelloCities started one every 10 ms (not saturated); (b) `fanout` one fan-out/fan-in of 1,000
 * activities; (c) `scaling` one chain of BENCH_STEPS (default 10,000) activities, time per step early vs late.
 *
 * `BENCH_BACKEND=cluster` runs them on BENCH_WORKERS (default 2) `durable worker` processes over a spawned Beanstalkd
 * and RethinkDB (bench/cluster.ts), and adds the RethinkDB queries per orchestration to (a) and (b).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';

const workloads = (process.env.BENCH_WORKLOADS ?? 'hello,latency,fanout,scaling').split(',');
const durabilities = (process.env.BENCH_DURABILITY ?? 'full,normal').split(',');
const backend = process.env.BENCH_BACKEND ?? 'sqlite';

function disk(): string {
  try {
    return (
      execFileSync('df', ['-h', '--output=source,fstype,size', process.cwd()], { encoding: 'utf8' })
        .split('\n')[1]
        ?.trim() ?? '?'
    );
  } catch {
    return '?';
  }
}

console.log(
  `Durable benchmarks: Node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), ` +
    `${Math.round(totalmem() / 2 ** 30)} GiB, disk ${disk()}, backend ${backend}\n`,
);
const rows: Record<string, unknown>[] = [];
let step = 0;
const total = workloads.length * durabilities.length;
for (const durability of durabilities) {
  for (const workload of workloads) {
    process.stderr.write(`[${++step}/${total}] ${workload} (${durability})…\n`);
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'workload.ts'), workload, backend, durability],
      {
        encoding: 'utf8',
        env: process.env,
      },
    );
    const line = run.stdout.trim().split('\n').at(-1) ?? '';
    if (run.status !== 0 || !line.startsWith('{')) {
      console.error(`${workload} (${durability}) failed:\n${run.stderr}`);
      process.exitCode = 1;
      continue;
    }
    rows.push(JSON.parse(line) as Record<string, unknown>);
  }
}

const trips = (r: Record<string, unknown>): string => {
  if (typeof r.roundTripsPerOrchestration !== 'number') return '';
  const written = Object.entries((r.documentsWrittenPerOrchestration ?? {}) as Record<string, number>)
    .map(([table, n]) => `${n} ${table}`)
    .join(' + ');
  const leases = typeof r.leaseWrites === 'number' ? `, ${r.leaseWrites} Lease writes` : '';
  const bounced =
    typeof r.messagesBounced === 'number'
      ? `, ${String(r.messagesBounced)} of ${String(r.messagesProcessed)} messages bounced (lock busy)`
      : '';
  return `, ${r.roundTripsPerOrchestration} RethinkDB queries/orch, documents written/orch: ${written || 'none'}${leases}${bounced}`;
};
const show = (r: Record<string, unknown>): string => {
  switch (r.workload) {
    case 'hello':
      return `${String(r.orchestrationsPerSecond)} orch/s, ${String(r.eventsPerSecond)} events/s, p50 ${String(r.p50Ms)} ms, p99 ${String(r.p99Ms)} ms${trips(r)}`;
    case 'latency':
      return `p50 ${String(r.p50Ms)} ms, p99 ${String(r.p99Ms)} ms`;
    case 'fanout':
      return `${String(r.seconds)} s, ${String(r.activitiesPerSecond)} activities/s${trips(r)}`;
    case 'scaling':
      return `${String(r.msPerStepAt10)} ms/step at step 10, ${String(r.msPerStepAt10000)} ms/step at step ${String(r.steps)} (ratio ${String(r.ratio)})`;
    default:
      return JSON.stringify(r);
  }
};
console.log('| workload | durability | result | peak RSS |');
console.log('|---|---|---|---|');
for (const r of rows)
  console.log(`| ${String(r.workload)} | ${String(r.durability)} | ${show(r)} | ${String(r.peakRssMb)} MB |`);

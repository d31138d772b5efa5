/**
 * `npm run demo`: runs each example pattern for real, on the embedded default (SQLite, durability `full`) and the
 * wall clock, with demo-sized times (timers of 100-300 ms), prints one line per pattern with its result and how
 * long it took, then stops the worker. Exits 1 with a message if anything goes wrong.
 *
 * The demo keeps its data in `.durable/examples.db`, which it starts afresh each run (so the entity totals it
 * prints are the same every time). Set DURABLE_SQLITE_PATH (or DURABLE_BACKEND=memory) to run it elsewhere.
 */
import type { InstanceStatus } from 'durable';
import { loadConfig, startHost, SystemClock, Worker } from 'durable';
import { rmSync } from 'node:fs';
import app from './app.js';
import type {
  Account,
  ApprovalResult,
  ChargeResult,
  Counter,
  MonitorResult,
  TransferInput,
  TransferResult,
} from './app.js';
import { gateway, jobs, notifier } from './services.js';

const DEMO_DB = '.durable/examples.db';
const clock = new SystemClock();
const config = loadConfig(process.env, { sqlitePath: process.env.DURABLE_SQLITE_PATH ?? DEMO_DB });
if (config.backend === 'sqlite' && config.sqlite.path === DEMO_DB) {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${DEMO_DB}${suffix}`, { force: true });
}
const host = await startHost({ app, config, clock, runWorker: false });
const { client } = host;
const { store, queue, lock, groupCommit } = host.backends;
const worker = new Worker({ app, store, queue, lock, clock, ...(groupCommit ? { groupCommit } : {}) });
const where =
  config.backend === 'sqlite'
    ? `SQLite (${config.sqlite.path}, durability ${config.sqlite.durability})`
    : 'in-memory backends';

/** The last finished instance's run time, from creation to its final commit (as the instance recorded it). */
let lastRunMs = 0;

/** Waits for an instance to finish and returns its output; throws unless it completed. */
async function outcome<T>(id: string): Promise<T> {
  const done: InstanceStatus = await client.waitForCompletion(id, { timeoutMs: 5000 });
  if (done.status !== 'Completed') {
    throw new Error(`${done.name} (${id}) ended ${done.status}: ${done.error?.message ?? 'no error recorded'}`);
  }
  lastRunMs = done.lastUpdatedAt.getTime() - done.createdAt.getTime();
  return done.output as T;
}

/**
 * Polls until `condition` holds (signals are one-way: a client learns they were applied by reading the state);
 * throws after `timeoutMs`.
 */
async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}.`);
    await clock.sleep(5);
  }
}

/** An entity's state as the client reads it (`undefined`: no state yet). */
async function stateOf<S>(id: string): Promise<S | undefined> {
  return (await client.readEntityState<S>(id))?.state;
}

/**
 * Runs one demo and prints `pattern  result  (elapsed)`. The elapsed time is the instance's own, from start to
 * completion; `waitForCompletion` polls, so the wall time seen by the caller can be up to ~250 ms longer.
 */
async function demo(pattern: string, run: () => Promise<string>): Promise<void> {
  const result = await run();
  console.log(`${pattern.padEnd(28)} ${result}  (${lastRunMs} ms)`);
}

async function main(): Promise<void> {
  worker.start();
  const totalStart = Date.now();
  console.log(`Durable examples: seven patterns on ${where}\n`);

  await demo('chaining', async () => {
    const id = await client.start('helloSequence', ['Tokyo', 'Seattle', 'London']);
    return (await outcome<string[]>(id)).join(' ');
  });

  await demo('fan-out/fan-in', async () => {
    const documents = ['the quick brown fox', 'jumps over the lazy dog', 'durable functions fan out'];
    const id = await client.start('wordCount', documents);
    const { total, perDocument } = await outcome<{ total: number; perDocument: number[] }>(id);
    return `${total} words in ${documents.length} documents (${perDocument.join(' + ')})`;
  });

  await demo('monitoring', async () => {
    jobs.submit('nightly-build', 4);
    const id = await client.start('monitorJob', {
      jobId: 'nightly-build',
      intervalMs: 150,
      expiresAt: clock.now() + 2000,
    });
    const result = await outcome<MonitorResult>(id);
    const { generation } = (await client.getStatus(id)) ?? { generation: -1 };
    return `job ${result.jobId} ${result.status} after ${result.checks} checks (generation ${generation})`;
  });

  await demo('human interaction (answered)', async () => {
    const id = await client.start('approval', { requestId: 'req-1', amount: 250, timeoutMs: 2000 });
    while (notifier.ofKind('approval-request').length === 0) await clock.sleep(10); // the approver gets the message…
    await clock.sleep(100); // …reads it…
    await client.raiseEvent(id, 'approval', { approved: true, by: 'alice' }); // …and approves
    const result = await outcome<ApprovalResult>(id);
    return result.status === 'escalated' ? `request ${result.requestId} escalated` : `${result.status} by ${result.by}`;
  });

  await demo('human interaction (silence)', async () => {
    const id = await client.start('approval', { requestId: 'req-2', amount: 900, timeoutMs: 300 });
    const result = await outcome<ApprovalResult>(id);
    const escalations = notifier.ofKind('escalation').length;
    return `request ${result.requestId}: no answer within 300 ms, ${result.status} (${escalations} escalation sent)`;
  });

  await demo('idempotent side effects', async () => {
    // The gateway fails the first two attempts after charging the card (the response is lost), asking for a
    // 100 ms pause before each retry; the idempotency key makes the retries return the first charge's receipt.
    gateway.failNext(2, { when: 'after', retryAfterMs: 100 });
    const first = await client.start('chargeOrder', { orderId: 'order-1', amount: 42, card: '4242-4242-4242-4242' });
    const charged = await outcome<ChargeResult>(first);
    if (charged.status !== 'charged') throw new Error(`order-1 was ${charged.status}`);
    return `order-1 charged (${charged.receipt.receiptId}) after ${gateway.calls.length} attempts, ${gateway.charges.length} charge`;
  });

  await demo('idempotent side effects', async () => {
    gateway.decline('4000-0000-0000-0002');
    const id = await client.start('chargeOrder', { orderId: 'order-2', amount: 13, card: '4000-0000-0000-0002' });
    const result = await outcome<ChargeResult>(id);
    const attempts = gateway.calls.filter((c) => c.orderId === 'order-2').length;
    return `order-2 ${result.status}${result.status === 'declined' ? `: ${result.reason}` : ''} (${attempts} attempt)`;
  });

  await demo('aggregation', async () => {
    // 100 one-way signals from the client, sent concurrently; the counter applies them one at a time.
    const home = client.entity<Counter>('counter', 'home');
    await Promise.all(Array.from({ length: 100 }, () => home.add(1)));
    await until('the counter applied every signal', async () => (await stateOf<number>('counter@home')) === 100);
    // 5 more from an orchestration, which then reads the total through the typed proxy.
    const total = await outcome<number>(await client.start('recordViews', { page: 'home', views: 5 }));
    return `counter@home: ${total} views (100 signals from the client + 5 from an orchestration)`;
  });

  await demo('critical section', async () => {
    const accounts = ['alice', 'bob', 'carol'];
    await Promise.all(accounts.map((key) => client.entity<Account>('account', key).deposit(100)));
    const balances = (): Promise<number[]> =>
      Promise.all(accounts.map(async (key) => (await stateOf<number>(`account@${key}`)) ?? 0));
    await until('every account is open', async () => (await balances()).every((b) => b === 100));
    const before = (await balances()).reduce((a, b) => a + b, 0);
    // 12 small transfers (no account sends more than 38 of its 100: all succeed in any order) and one too big.
    const transfers: TransferInput[] = Array.from({ length: 12 }, (_, i) => ({
      from: accounts[i % 3] as string,
      to: accounts[(i + 1 + (i % 2)) % 3] as string,
      amount: 5 + i,
    }));
    transfers.push({ from: 'alice', to: 'bob', amount: 1000 });
    const ids = await Promise.all(transfers.map((t) => client.start('transfer', t)));
    const results: TransferResult[] = [];
    for (const id of ids) results.push(await outcome<TransferResult>(id));
    const after = (await balances()).reduce((a, b) => a + b, 0);
    const ok = results.filter((r) => r === 'ok').length;
    return `${transfers.length} concurrent transfers among ${accounts.length} accounts: ${ok} ok, ${results.length - ok} insufficient funds; total ${before} before and ${after} after`;
  });

  console.log(`\nAll patterns done in ${Date.now() - totalStart} ms.`);
}

/** Stops the worker and releases the backends. */
async function shutdown(): Promise<void> {
  await worker.stop();
  await host.stop();
}

try {
  await main();
  await shutdown();
  process.exitCode = 0;
} catch (error) {
  console.error(`Example failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  await shutdown().catch(() => undefined);
  process.exitCode = 1;
}

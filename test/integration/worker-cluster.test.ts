/**
 * The cluster end to end (issue #6): three `durable worker` OS processes share one real Beanstalkd (the queue) and
 * one SQLite file (the store and the instance lock), and run the example app's patterns started by a separate
 * client: chains, fan-outs, approvals answered by raised events, idempotent charges, counter signals and bank
 * transfers in critical sections. One worker is SIGKILLed while many instances are still running; the two
 * survivors must finish everything with the same outputs, histories and entity states as if nothing happened.
 * Every wait is bounded; the children, Beanstalkd and the temp directory are cleaned up even when the test fails.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import type { Host } from '../../src/host/host.js';
import { startHost } from '../../src/host/host.js';
import type { DurableClient, HistoryEvent, InstanceStatus } from '../../src/index.js';
import { entityId } from '../../src/index.js';
import { STEP_CLOSING_EVENTS, STEP_OPENING_EVENTS } from '../../src/engine/history.js';
import type { Account, Counter } from '../../examples/app.js';
import app from '../../examples/app.js';
import { BeanstalkdServer, requireBeanstalkd } from '../fixtures/beanstalkd-server.js';
import { RethinkdbServer, requireRethinkdb } from '../fixtures/rethinkdb-server.js';
import { KubeApiServer } from '../kube-api-server/server.js';
import { leaseApi, untilPartitionsShared } from '../fixtures/partition-holders.js';
import type { ActivityRun } from '../fixtures/counting-app.js';
import type { WorkerChild } from '../fixtures/worker-child.js';
import { metricSample, startWorkerChild } from '../fixtures/worker-child.js';

const ACCOUNTS = ['acct-0', 'acct-1', 'acct-2', 'acct-3', 'acct-4', 'acct-5'];
const OPENING_BALANCE = 1000;
const PAGES = ['page-0', 'page-1', 'page-2', 'page-3'];
/** Client signals `add(2)` sent to each page's counter, besides the orchestrations' views. */
const CLIENT_ADDS = 10;

/** History events that open a numbered step (signals too: they take a number), and those that close one. */
const OPENS = new Set<string>([...STEP_OPENING_EVENTS, 'EntitySignaled']);
const CLOSES: ReadonlySet<string> = STEP_CLOSING_EVENTS;

/**
 * A history without gaps or duplicates: one start, one end, steps numbered 0, 1, 2… in order with each number
 * opened once, each closed at most once and only after it was opened, and each raised event recorded once.
 */
function assertWellFormed(id: string, history: readonly HistoryEvent[]): void {
  const types = history.map((e) => e.type);
  assert.equal(types[0], 'ExecutionStarted', `${id} starts with ExecutionStarted: ${types.join(', ')}`);
  assert.equal(types.at(-1), 'ExecutionCompleted', `${id} ends with ExecutionCompleted: ${types.join(', ')}`);
  assert.equal(types.filter((t) => t === 'ExecutionStarted' || t === 'ExecutionCompleted').length, 2, `${id}`);
  const opened: number[] = [];
  const closed = new Set<number>();
  const events = new Set<string>();
  for (const e of history) {
    if (e.type === 'EventRaised') {
      assert.ok(!events.has(e.messageId), `${id} records event ${e.messageId} twice`);
      events.add(e.messageId);
    } else if (OPENS.has(e.type)) {
      opened.push((e as { seq: number }).seq);
    } else if (CLOSES.has(e.type)) {
      const seq = (e as { seq: number }).seq;
      assert.ok(opened.includes(seq) && !closed.has(seq), `${id}: ${e.type} ${seq} closes no open step once`);
      closed.add(seq);
    }
  }
  assert.deepEqual(
    opened,
    opened.map((_, i) => i),
    `${id} numbers its steps without gaps or duplicates`,
  );
}

/** What the client started, and what each instance must end with. */
interface Expectation {
  readonly id: string;
  /** Throws (an assertion) when the output is wrong. */
  readonly check: (output: unknown) => void;
}

/** Polls `condition` every 100 ms until it holds, failing with `what` after `ms`. */
async function until(what: string, ms: number, condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The final statuses of `ids`, once every one of them is terminal (bounded by `ms`). */
async function settled(client: DurableClient, ids: readonly string[], ms: number): Promise<InstanceStatus[]> {
  let statuses: InstanceStatus[] = [];
  const terminal = new Set(['Completed', 'Failed', 'Terminated']);
  await until(`all ${ids.length} instances ended`, ms, async () => {
    statuses = await Promise.all(ids.map(async (id) => (await client.getStatus(id)) as InstanceStatus));
    return statuses.every((s) => terminal.has(s.status));
  });
  return statuses;
}

/** What the client started, and the outcomes they must have. */
interface Workload {
  readonly expected: readonly Expectation[];
  /** Raises the decision of the approvals with an odd (1) or even (0) number. */
  answerApprovals(parity: 0 | 1): Promise<void>;
  /** The final total of each page's counter. */
  readonly viewTotals: ReadonlyMap<string, number>;
  /** The final balance of each account once every transfer is done. */
  readonly balances: ReadonlyMap<string, number>;
}

/**
 * Funds the accounts, feeds the counters, then starts 180 instances of the example app's patterns; the even approvals
 * are answered at once (an answer raised before the wait is kept for it), the odd ones are left for later.
 */
async function startWorkload(client: DurableClient): Promise<Workload> {
  // Entities first: the accounts are funded and the counters fed by one-way signals from the client.
  for (const key of ACCOUNTS) await client.entity<Account>('account', key).deposit(OPENING_BALANCE);
  for (const page of PAGES) for (let i = 0; i < CLIENT_ADDS; i++) await client.entity<Counter>('counter', page).add(2);
  // Transfers start once every account is funded, so each one has the money: all must end 'ok'.
  await until('every account is funded', 20_000, async () =>
    (await Promise.all(ACCOUNTS.map((key) => client.readEntityState<number>(entityId('account', key))))).every(
      (s) => s?.state === OPENING_BALANCE,
    ),
  );

  const expected: Expectation[] = [];
  const start = async (id: string, name: string, input: unknown, check: Expectation['check']): Promise<void> => {
    await client.start(name, input, { instanceId: id });
    expected.push({ id, check });
  };
  const work: Promise<void>[] = [];
  for (let i = 0; i < 60; i++) {
    const cities = [`A${i}`, `B${i}`, `C${i}`];
    work.push(
      start(`chain-${i}`, 'helloSequence', cities, (output) =>
        assert.deepEqual(
          output,
          cities.map((c) => `Hello ${c}!`),
        ),
      ),
    );
  }
  for (let i = 0; i < 40; i++) {
    const perDocument = [0, 1, 2, 3, 4].map((k) => k + (i % 4));
    const documents = perDocument.map((n) => Array.from({ length: n }, (_, w) => `w${w}`).join(' '));
    work.push(
      start(`fan-${i}`, 'wordCount', documents, (output) =>
        assert.deepEqual(output, { total: perDocument.reduce((a, b) => a + b, 0), perDocument }),
      ),
    );
  }
  const decisions = Array.from({ length: 20 }, (_, i) => ({ approved: i % 3 !== 0, by: `approver-${i}` }));
  decisions.forEach((decision, i) => {
    const requestId = `req-${i}`;
    work.push(
      start(`approval-${i}`, 'approval', { requestId, amount: 100 + i, timeoutMs: 600_000 }, (output) =>
        assert.deepEqual(output, { status: decision.approved ? 'approved' : 'rejected', requestId, by: decision.by }),
      ),
    );
  });
  for (let i = 0; i < 10; i++) {
    const order = { orderId: `order-${i}`, amount: 10 + i, card: `4242-${i}` };
    work.push(
      start(`charge-${i}`, 'chargeOrder', order, (output) => {
        // Receipt numbers are per worker process (the fake gateway lives in each); the rest is exact.
        const { receipt, ...rest } = output as { receipt: { receiptId: string } };
        assert.deepEqual(rest, { status: 'charged', orderId: order.orderId });
        assert.match(receipt.receiptId, /^rcpt-\d+$/);
        assert.deepEqual({ ...receipt, receiptId: 'x' }, { ...order, receiptId: 'x' });
      }),
    );
  }
  const views = Array.from({ length: 20 }, (_, i) => ({
    page: PAGES[i % PAGES.length] as string,
    views: 1 + (i % 5),
  }));
  const viewTotals = new Map(PAGES.map((page) => [page, 2 * CLIENT_ADDS]));
  for (const v of views) viewTotals.set(v.page, (viewTotals.get(v.page) ?? 0) + v.views);
  views.forEach((input, i) => {
    work.push(
      start(`views-${i}`, 'recordViews', input, (output) => {
        // The read comes after this orchestration's own signals and before the counter's final total.
        assert.ok(typeof output === 'number' && output >= input.views && output <= (viewTotals.get(input.page) ?? 0));
      }),
    );
  });
  const transfers = Array.from({ length: 30 }, (_, i) => ({
    from: ACCOUNTS[i % 6] as string,
    to: ACCOUNTS[(i + 1 + (i % 5)) % 6] as string,
    amount: 50 + 10 * (i % 7),
  }));
  transfers.forEach((input, i) => {
    work.push(start(`transfer-${i}`, 'transfer', input, (output) => assert.equal(output, 'ok', `transfer-${i}`)));
  });
  await Promise.all(work);
  const answerApprovals = async (parity: 0 | 1): Promise<void> => {
    for (const [i, decision] of decisions.entries()) {
      if (i % 2 === parity)
        await client.raiseEvent(`approval-${i}`, 'approval', decision, { eventId: `decision-${i}` });
    }
  };
  await answerApprovals(0);

  const balances = new Map(ACCOUNTS.map((key) => [key, OPENING_BALANCE]));
  for (const { from, to, amount } of transfers) {
    balances.set(from, (balances.get(from) ?? 0) - amount);
    balances.set(to, (balances.get(to) ?? 0) + amount);
  }
  return { expected, answerApprovals, viewTotals, balances };
}

/** Where the cluster keeps its store and lock: one SQLite file, or a RethinkDB server. */
interface StoreSetup {
  readonly name: string;
  /** Skips (or, under CI, fails) the suite when the store's server cannot run here. */
  readonly require?: () => void;
  /**
   * Starts what the store needs and returns the workers' settings for it, a cleanup, and (optionally) what to wait
   * for once the workers listen, before any work starts.
   */
  start(
    dir: string,
  ): Promise<{ env: Record<string, string>; stop: () => Promise<void>; ready?: (workers: number) => Promise<void> }>;
}

const STORES: readonly StoreSetup[] = [
  {
    name: 'one SQLite file',
    start: (dir) =>
      Promise.resolve({
        env: { DURABLE_SQLITE_PATH: join(dir, 'durable.db'), DURABLE_LOCK: 'sqlite', DURABLE_DURABILITY: 'normal' },
        stop: () => Promise.resolve(),
      }),
  },
  {
    name: 'RethinkDB (store and lock)',
    require: requireRethinkdb,
    async start(dir) {
      const rethinkdb = await RethinkdbServer.start();
      return {
        env: {
          // The SQLite file only backs what RethinkDB does not hold here (nothing: store, lock and queue are remote).
          DURABLE_SQLITE_PATH: join(dir, 'unused.db'),
          DURABLE_STORE_URL: `rethinkdb://127.0.0.1:${rethinkdb.driverPort}/cluster_${randomUUID().slice(0, 8)}`,
          DURABLE_LOCK: 'rethinkdb',
        },
        stop: () => rethinkdb.stop(),
      };
    },
  },
  {
    name: 'one SQLite file, with partition Leases on a Kubernetes API server as the lock',
    async start(dir) {
      const kube = new KubeApiServer();
      await kube.start();
      const kubeconfig = join(dir, 'kubeconfig');
      writeFileSync(kubeconfig, kube.kubeconfig());
      return {
        env: {
          DURABLE_SQLITE_PATH: join(dir, 'durable.db'),
          DURABLE_DURABILITY: 'normal',
          DURABLE_LOCK: 'kubernetes',
          DURABLE_PARTITIONS: '16',
          KUBECONFIG: kubeconfig,
          DURABLE_KUBERNETES_NAMESPACE: 'default',
          // Short, so that the killed worker's partitions move within the test's patience.
          DURABLE_LEASE_DURATION_MS: '3000',
          DURABLE_LEASE_RENEW_MS: '1000',
        },
        stop: () => kube.stop(),
        // Every partition held, and by every worker: the workload then runs on all three from the start.
        ready: (workers) => untilPartitionsShared(leaseApi(kube), 16, workers),
      };
    },
  },
];

/** The activity runs the counting app logged, by idempotency key (one entry per run: the pid that ran it). */
function readActivityRuns(file: string): Map<string, number[]> {
  const runs = new Map<string, number[]>();
  if (!existsSync(file)) return runs;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    const run = JSON.parse(line) as ActivityRun;
    runs.set(run.key, [...(runs.get(run.key) ?? []), run.pid]);
  }
  return runs;
}

/** The idempotency key of every activity call in the histories of every instance (children included). */
async function scheduledCalls(client: DurableClient): Promise<Set<string>> {
  const keys = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await client.list({ limit: 500, ...(cursor !== undefined ? { cursor } : {}) });
    for (const status of page.items) {
      for (const e of await client.getHistory(status.instanceId)) {
        if (e.type === 'TaskScheduled') keys.add(`${status.instanceId}/${status.generation}/${e.seq}`);
      }
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return keys;
}

for (const store of STORES) describeCluster(store);

function describeCluster(storeSetup: StoreSetup): void {
  describe(`a cluster of three durable workers on one Beanstalkd and ${storeSetup.name}`, function () {
    this.timeout(120_000);
    requireBeanstalkd();
    storeSetup.require?.();
    let server: BeanstalkdServer | undefined;
    let dir: string | undefined;
    let workers: WorkerChild[] = [];
    let host: Host | undefined;
    let stopStore: (() => Promise<void>) | undefined;

    afterEach(async () => {
      await Promise.all(workers.map((w) => w.stop(5000)));
      workers = [];
      await host?.stop();
      host = undefined;
      await server?.stop();
      server = undefined;
      await stopStore?.();
      stopStore = undefined;
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      dir = undefined;
    });

    it('completes every instance with the right output and history when one of three workers is SIGKILLed mid-run', async () => {
      server = await BeanstalkdServer.start();
      dir = mkdtempSync(join(tmpdir(), 'durable-cluster-'));
      const storage = await storeSetup.start(dir);
      stopStore = storage.stop;
      const runLog = join(dir, 'activity-runs.jsonl');
      const env = {
        ...storage.env,
        ACTIVITY_RUN_LOG: runLog,
        DURABLE_QUEUE_URL: `beanstalkd://127.0.0.1:${server.port}`,
        DURABLE_NAMESPACE: `cluster-${randomUUID().slice(0, 8)}`,
        // A dead worker's instance locks (and Beanstalkd reservations) last one turn timeout: keep it short here.
        DURABLE_TURN_TIMEOUT_MS: '5000',
      };
      workers = [0, 1, 2].map((i) =>
        startWorkerChild({ ...env, POD_NAME: `worker-${i}` }, 'test/fixtures/counting-app.ts'),
      );
      const ops = await Promise.all(
        workers.map(async (w) => String((await w.waitFor('worker.ops_listening')).address)),
      );
      await storage.ready?.(workers.length);
      host = await startHost({ app, config: loadConfig(env), runWorker: false });
      const { client } = host;

      const workload = await startWorkload(client);
      const { expected } = workload;
      const ids = expected.map((e) => e.id);

      // The kill lands once a third of the instances are done, on a worker that has taken part.
      const victim = workers[1] as WorkerChild;
      const completed = async (): Promise<number> =>
        (await client.list({ status: 'Completed', limit: 1000 })).items.length;
      await until('a third of the instances completed', 30_000, async () => (await completed()) >= ids.length / 3);
      const metrics = await (await fetch(`${ops[1]}/metrics`)).text();
      assert.ok(metricSample(metrics, 'durable_turns_total{kind="orchestration"}') > 0, 'the victim had run turns');
      victim.process.kill('SIGKILL');
      assert.equal((await victim.exited).signal, 'SIGKILL');
      const doneAtKill = await completed(); // at least as many as when the kill landed
      assert.ok(doneAtKill < ids.length * 0.9, `the kill must land while work is in flight (${doneAtKill} done)`);
      await workload.answerApprovals(1);

      // Beanstalkd hands the victim's reservations back as soon as its connection drops, but an instance or entity
      // whose turn it was running stays locked in SQLite until the lock's TTL (the turn timeout, 5 s here) has passed.
      const statuses = await settled(client, ids, 60_000);
      for (const [i, status] of statuses.entries()) {
        const { id, check } = expected[i] as Expectation;
        assert.equal(status.status, 'Completed', `${id} ended ${status.status}: ${JSON.stringify(status.error)}`);
        check(status.output);
        assertWellFormed(id, await client.getHistory(id));
      }

      // Entities: every signal applied once, and the transfers moved money without creating or losing any.
      for (const [page, total] of workload.viewTotals) {
        assert.equal((await client.readEntityState<number>(entityId('counter', page)))?.state, total, page);
      }
      const audit = await client.start('auditTotal', ACCOUNTS);
      const [report] = await settled(client, [audit], 20_000);
      assert.deepEqual(report?.output, {
        total: OPENING_BALANCE * ACCOUNTS.length,
        balances: Object.fromEntries(workload.balances),
      });

      // Activities: every call in every history ran, and nothing else ran. A call runs more than once only when the
      // kill cut it short (the victim had it reserved, or its result unsent) or made a survivor re-send an outbox.
      const runs = readActivityRuns(runLog);
      const scheduled = await scheduledCalls(client);
      const victimPid = victim.process.pid;
      for (const key of scheduled) assert.ok(runs.has(key), `activity call ${key} never ran`);
      for (const key of runs.keys()) assert.ok(scheduled.has(key), `${key} ran but no history schedules it`);
      const repeated = [...runs.values()].filter((pids) => pids.length > 1);
      const involvingVictim = repeated.filter((pids) => pids.includes(victimPid as number)).length;

      // The survivors drain cleanly.
      const exits = await Promise.all([workers[0], workers[2]].map((w) => (w as WorkerChild).stop(15_000)));
      assert.deepEqual(
        exits.map((e) => e.code),
        [0, 0],
      );
      console.log(
        `      killed one worker with ${doneAtKill} of ${ids.length} instances completed; ${scheduled.size} activity ` +
          `calls, ${repeated.length} ran more than once (${involvingVictim} of them first on the killed worker)`,
      );
    });
  });
}

/**
 * A value JSON cannot carry fails only the instance that made it: the batch its turn was committed with goes on,
 * and no activity runs twice. On the memory backends (TestEnvironment) and on SQLite, whose group commit writes
 * a whole batch in one transaction.
 */
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/config.js';
import type { Host } from '../../src/host/host.js';
import { startHost } from '../../src/host/host.js';
import type { DurableClient, EntityContext, InstanceStatus } from '../../src/index.js';
import { ActivityFailedError, defineApp, SystemClock, TestEnvironment, Worker } from '../../src/index.js';
import { tempDatabaseFile } from '../fixtures/sqlite-files.js';

const runs = new Map<string, number>();
let started = 0;
let openGate: () => void = () => undefined;
let gate = Promise.resolve();

function count(name: string): void {
  runs.set(name, (runs.get(name) ?? 0) + 1);
}

function reset(): void {
  runs.clear();
  started = 0;
  gate = new Promise<void>((resolve) => (openGate = resolve));
}

const app = defineApp({
  entities: {
    relay: {
      initial: () => 0,
      forward: (ctx: EntityContext<number>, n: number) => {
        ctx.signalEntity('relay@other', 'forward', BigInt(n));
        return n;
      },
    },
  },
  activities: {
    /** Waits until six have started, so that their results reach the orchestrations in one batch. */
    async work(i: number) {
      count(`work ${i}`);
      if (++started === 6) openGate();
      await gate;
      return i * 10;
    },
    async cyclic() {
      count('cyclic');
      const node: Record<string, unknown> = { name: 'node' };
      node.self = node;
      return node;
    },
    async plain(n: number) {
      count('plain');
      return n;
    },
  },
  orchestrations: {
    async total(ctx, i: number) {
      const value = await ctx.callActivity('work', i);
      if (i === 3) return { items: [{ total: 1 }, { total: 2 }, { total: 3 }, { total: 10n }] };
      return value;
    },
    async catchesCycle(ctx) {
      try {
        return await ctx.callActivity('cyclic');
      } catch (error) {
        if (!(error instanceof ActivityFailedError)) throw error;
        return { name: error.failure.name, code: error.failure.code, message: error.failure.message };
      }
    },
    async badStatus(ctx) {
      ctx.setCustomStatus({ progress: { done: 1n } });
      return 'unreachable';
    },
    async badInput(ctx) {
      return ctx.callActivity('plain', { amount: 5n });
    },
    async badContinue(ctx, round: number) {
      if (round === 0) ctx.continueAsNew({ round: 1n });
      return round;
    },
    async callsRelay(ctx) {
      try {
        return await ctx.callEntity('relay@one', 'forward', 1);
      } catch (error) {
        return (error as Error).message;
      }
    },
    async mutatesInput(ctx) {
      // The input is fine when the call is made and changed before the turn records it: the turn's check catches it.
      const input: Record<string, unknown> = { n: 1 };
      const call = ctx.callActivity('plain', input);
      input.n = 2n;
      return call;
    },
  },
});

/** Starts six `total` instances (i = 0…5) and waits for them all. */
async function runSix(
  client: DurableClient,
  wait: (id: string) => Promise<InstanceStatus>,
  begin?: () => void,
): Promise<InstanceStatus[]> {
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) ids.push(await client.start('total', i, { instanceId: `total-${i}` }));
  begin?.();
  return Promise.all(ids.map(wait));
}

function assertOnlyTheBadOneFailed(done: InstanceStatus[]): void {
  for (const [i, status] of done.entries()) {
    if (i === 3) continue;
    assert.equal(status.status, 'Completed', `total-${i}: ${JSON.stringify(status.error)}`);
    assert.equal(status.output, i * 10);
  }
  const bad = done[3] as InstanceStatus;
  assert.equal(bad.status, 'Failed');
  assert.equal(bad.error?.code, 'VALIDATION');
  assert.equal(bad.error?.name, 'SerializationError');
  assert.match(bad.error?.message ?? '', /output\.items\[3\]\.total is a BigInt/);
  for (let i = 0; i < 6; i++) assert.equal(runs.get(`work ${i}`), 1, `work ${i} ran ${runs.get(`work ${i}`)} times`);
}

describe('Values JSON cannot carry (TestEnvironment)', () => {
  let env: TestEnvironment;
  beforeEach(reset);
  afterEach(async () => env.close());

  it('fails only the orchestration whose output is a BigInt; the five others of its batch complete and their activities run once', async () => {
    env = TestEnvironment.start(app, { startWorker: false });
    const done = await runSix(
      env.client,
      (id) => env.waitForCompletion(id),
      () => env.startWorker(),
    );
    assertOnlyTheBadOneFailed(done);
  });

  it('delivers an activity result with a cycle as a non-retryable SerializationError the orchestration catches, after one run', async () => {
    env = TestEnvironment.start(app);
    const done = await env.waitForCompletion(await env.client.start('catchesCycle', null));
    assert.equal(done.status, 'Completed');
    const output = done.output as { name: string; code: string; message: string };
    assert.equal(output.name, 'SerializationError');
    assert.equal(output.code, 'VALIDATION');
    assert.match(output.message, /result\.self is a cycle \(it refers back to result\)/);
    assert.equal(runs.get('cyclic'), 1);
  });

  it('fails an orchestration whose custom status, activity input or continue-as-new input is not JSON, naming the path', async () => {
    env = TestEnvironment.start(app);
    const cases: Array<[string, unknown, RegExp]> = [
      ['badStatus', null, /customStatus\.progress\.done is a BigInt/],
      ['badInput', null, /callActivity\('plain'\).*input\.amount is a BigInt/],
      ['badContinue', 0, /continueAsNew.*input\.round is a BigInt/],
    ];
    for (const [name, input, pattern] of cases) {
      const done = await env.waitForCompletion(await env.client.start(name, input));
      assert.equal(done.status, 'Failed', name);
      assert.equal(done.error?.code, 'VALIDATION', name);
      assert.match(done.error?.message ?? '', pattern);
    }
    assert.equal(runs.get('plain'), undefined, 'an activity ran with an input JSON cannot carry');
  });

  it('fails an entity operation that signals with an input JSON cannot carry, and tells its caller', async () => {
    env = TestEnvironment.start(app);
    const done = await env.waitForCompletion(await env.client.start('callsRelay', null));
    assert.equal(done.status, 'Completed');
    assert.match(String(done.output), /signalEntity\('relay@other', 'forward'\).*input is a BigInt/);
  });

  it('fails an instance whose turn would commit a value JSON cannot carry, and nothing else of its batch', async () => {
    env = TestEnvironment.start(app, { startWorker: false });
    const bad = await env.client.start('mutatesInput', null);
    const good = await env.client.start('catchesCycle', null);
    env.startWorker();
    const [badDone, goodDone] = await Promise.all([env.waitForCompletion(bad), env.waitForCompletion(good)]);
    assert.equal(badDone.status, 'Failed');
    assert.equal(badDone.error?.code, 'VALIDATION');
    assert.match(badDone.error?.message ?? '', /\.input\.n is a BigInt/);
    assert.equal(goodDone.status, 'Completed');
    assert.equal(runs.get('plain'), undefined);
    // The failed instance stays failed when a late message reaches it (its history replays to an end).
    await env.queue.send([
      {
        id: `${bad}/event/late`,
        queue: 'orchestrations',
        instanceId: bad,
        body: { type: 'EventRaised', name: 'late', input: 1 },
      },
    ]);
    await env.settle();
    const after = await env.client.getStatus(bad);
    assert.equal(after?.status, 'Failed');
    assert.equal(after?.stuck, undefined);
  });
});

describe('Values JSON cannot carry (SQLite, group commit)', function () {
  this.timeout(30_000);
  let host: Host | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  beforeEach(reset);
  afterEach(async () => {
    await host?.stop();
    await cleanup?.();
    host = undefined;
  });

  it('fails only the orchestration whose output is a BigInt; the five others of its batch complete and their activities run once', async () => {
    const file = await tempDatabaseFile();
    cleanup = file.cleanup;
    const config = loadConfig({ DURABLE_BACKEND: 'sqlite', DURABLE_SQLITE_PATH: file.path });
    host = await startHost({ app, config, runWorker: false });
    const { store, queue, lock, groupCommit } = host.backends;
    const worker = new Worker({
      app,
      store,
      queue,
      lock,
      clock: new SystemClock(),
      pollMs: 20,
      ...(groupCommit ? { groupCommit } : {}),
    });
    const client = host.client;
    try {
      const done = await runSix(
        client,
        (id) => client.waitForCompletion(id, { timeoutMs: 20_000 }),
        () => worker.start(),
      );
      assertOnlyTheBadOneFailed(done);
    } finally {
      await worker.stop();
    }
  });
});

import assert from 'node:assert/strict';
import { ManualClock } from '../../src/backends/clock.js';
import { WorkQueue, type WorkQueueResult, type WorkQueueOptions } from '../../operator/work-queue.js';

/** Lets every pending promise callback and I/O turn run (handlers start and finish on microtasks). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A handler the test drives: each run waits until the test finishes it, and every start is recorded, so a test can
 * see which keys run together.
 */
class Handler {
  readonly started: string[] = [];
  readonly running = new Map<string, number>();
  maxRunningOfOneKey = 0;
  maxRunning = 0;
  private readonly finishers: { key: string; finish: (outcome: WorkQueueResult | Error) => void }[] = [];

  readonly handle = (key: string): Promise<WorkQueueResult> => {
    this.started.push(key);
    const now = (this.running.get(key) ?? 0) + 1;
    this.running.set(key, now);
    this.maxRunningOfOneKey = Math.max(this.maxRunningOfOneKey, now);
    this.maxRunning = Math.max(this.maxRunning, this.runningCount());
    return new Promise<WorkQueueResult | Error>((resolve) => this.finishers.push({ key, finish: resolve })).then(
      (outcome) => {
        this.running.set(key, this.running.get(key)! - 1);
        if (outcome instanceof Error) throw outcome;
        return outcome;
      },
    );
  };

  runningCount(): number {
    return [...this.running.values()].reduce((a, b) => a + b, 0);
  }

  /** Finishes the oldest running run of `key` (or the oldest of all) with `outcome`. */
  async finish(key?: string, outcome?: WorkQueueResult | Error): Promise<void> {
    const index = this.finishers.findIndex((f) => key === undefined || f.key === key);
    assert.ok(index >= 0, `a run of ${key ?? 'any key'} is in flight`);
    const [finisher] = this.finishers.splice(index, 1);
    finisher!.finish(outcome);
    await settle();
  }
}

describe('the operator work queue', () => {
  let clock: ManualClock;
  let handler: Handler;
  let errors: { key: string; delayMs: number }[];
  let queue: WorkQueue;

  function makeQueue(options: Partial<WorkQueueOptions> = {}): WorkQueue {
    queue = new WorkQueue(handler.handle, {
      concurrency: 1,
      clock,
      onError: (key, _error, delayMs) => void errors.push({ key, delayMs }),
      ...options,
    });
    return queue;
  }

  beforeEach(() => {
    clock = new ManualClock();
    handler = new Handler();
    errors = [];
  });

  afterEach(async () => {
    const stopped = queue.stop();
    while (handler.runningCount() > 0) await handler.finish();
    await stopped;
  });

  it('runs a key added several times while it waits only once, in first-in first-out order', async () => {
    makeQueue();
    queue.add('blocker');
    await settle();
    for (const key of ['a', 'b', 'a', 'c', 'b', 'a']) queue.add(key);
    assert.equal(queue.depth, 3);
    while (handler.runningCount() > 0) await handler.finish();
    assert.deepEqual(handler.started, ['blocker', 'a', 'b', 'c']);
    assert.equal(queue.depth, 0);
  });

  it('never hands one key to two workers at once, and runs a key added during its run once more afterwards', async () => {
    makeQueue({ concurrency: 4 });
    queue.add('a');
    await settle();
    queue.add('a');
    queue.add('a');
    queue.add('a');
    await settle();
    assert.equal(handler.started.length, 1, 'not started again while it runs, though three workers are idle');
    assert.equal(queue.depth, 1, 'marked to run again');
    await handler.finish('a');
    assert.deepEqual(handler.started, ['a', 'a'], 'the three adds during the run make one more run');
    await handler.finish('a');
    await settle();
    assert.deepEqual(handler.started, ['a', 'a']);
    assert.equal(handler.maxRunningOfOneKey, 1);
  });

  it('retries a failing key after a back-off that doubles with each failure up to the cap', async () => {
    makeQueue({ baseDelayMs: 10, maxDelayMs: 50 });
    queue.add('a');
    await settle();
    const expected = [10, 20, 40, 50, 50];
    for (const [i, delay] of expected.entries()) {
      await handler.finish('a', new Error('API server unavailable'));
      assert.equal(queue.retries('a'), i + 1);
      clock.advance(delay - 1);
      await settle();
      assert.equal(handler.started.length, i + 1, `not retried before ${delay} ms`);
      clock.advance(1);
      await settle();
      assert.equal(handler.started.length, i + 2, `retried after ${delay} ms`);
    }
    assert.deepEqual(
      errors.map((e) => e.delayMs),
      expected,
    );
  });

  it('forgets the failures of a key when a run succeeds, so its next failure waits the base delay again', async () => {
    makeQueue({ baseDelayMs: 10 });
    queue.add('a');
    await settle();
    await handler.finish('a', new Error('conflict'));
    clock.advance(10);
    await settle();
    await handler.finish('a', new Error('conflict'));
    assert.equal(queue.retries('a'), 2);
    clock.advance(20);
    await settle();
    await handler.finish('a');
    assert.equal(queue.retries('a'), 0);
    queue.add('a');
    await settle();
    await handler.finish('a', new Error('conflict'));
    assert.deepEqual(
      errors.map((e) => e.delayMs),
      [10, 20, 10],
    );
  });

  it('runs at most `concurrency` handlers at once and every key in the end', async () => {
    makeQueue({ concurrency: 3 });
    const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
    for (const key of keys) queue.add(key);
    await settle();
    assert.equal(queue.inFlight, 3);
    assert.equal(queue.depth, 7);
    while (handler.runningCount() > 0) await handler.finish();
    assert.equal(handler.maxRunning, 3);
    assert.deepEqual(handler.started, keys, 'started in the order they were added');
    assert.equal(queue.inFlight, 0);
  });

  it('stops starting handlers, clears its timers, and resolves stop only when the running handlers have finished', async () => {
    makeQueue({ concurrency: 2 });
    queue.add('a');
    queue.addAfter('later', 100);
    await settle();
    let stopped = false;
    const stopping = queue.stop().then(() => (stopped = true));
    queue.add('b');
    await settle();
    assert.equal(stopped, false, 'a handler is still running');
    await handler.finish('a');
    await stopping;
    assert.equal(stopped, true);
    clock.advance(1000);
    await settle();
    assert.deepEqual(handler.started, ['a'], 'nothing started after stop, the delayed add included');
  });

  it('runs a key again after the delay its handler asked for, without counting it as a failure', async () => {
    makeQueue();
    queue.add('a');
    await settle();
    await handler.finish('a', { requeueAfterMs: 1000 });
    assert.equal(queue.waitingForDelay, 1);
    clock.advance(999);
    await settle();
    assert.equal(handler.started.length, 1);
    clock.advance(1);
    await settle();
    assert.equal(handler.started.length, 2);
    assert.equal(queue.retries('a'), 0);
    assert.deepEqual(errors, []);
  });

  it('keeps the earlier of two delayed adds of one key', async () => {
    makeQueue();
    queue.addAfter('a', 500);
    queue.addAfter('a', 100);
    queue.addAfter('a', 300);
    clock.advance(100);
    await settle();
    assert.equal(handler.started.length, 1);
    await handler.finish('a');
    clock.advance(1000);
    await settle();
    assert.equal(handler.started.length, 1, 'the later delayed adds were merged into the earlier one');
  });

  it('retries a handler that throws before returning a promise', async () => {
    let calls = 0;
    queue = new WorkQueue(
      (): Promise<void> => {
        calls++;
        if (calls === 1) throw new Error('thrown synchronously');
        return Promise.resolve();
      },
      { concurrency: 1, clock, baseDelayMs: 5 },
    );
    queue.add('a');
    await settle();
    assert.equal(queue.retries('a'), 1);
    clock.advance(5);
    await settle();
    assert.equal(calls, 2);
    assert.equal(queue.retries('a'), 0);
  });
});

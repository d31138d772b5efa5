/**
 * The five example patterns end to end, on the time-skipping test environment: a real worker, in-memory
 * backends and a manual clock, so hours of durable timers pass in milliseconds of real time.
 */
import assert from 'node:assert/strict';
import type { HistoryEvent } from '../../src/index.js';
import { TestEnvironment } from '../../src/index.js';
import app from '../../examples/app.js';
import { gateway, jobs, notifier, resetServices } from '../../examples/services.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let env: TestEnvironment;

beforeEach(() => {
  resetServices();
  env = TestEnvironment.start(app);
});

afterEach(async () => {
  await env.close();
});

/** The event types of a history, in order. */
const types = (history: HistoryEvent[]): string[] => history.map((e) => e.type);

/** The retry timers of a history, as delays from the turn that created them. */
function retryDelays(history: HistoryEvent[]): number[] {
  return history.flatMap((e) => (e.type === 'TimerCreated' && e.purpose === 'retry' ? [e.fireAt - e.at] : []));
}

describe('Function chaining (helloSequence)', () => {
  it('greets every city in order and returns the greetings', async () => {
    const id = await env.client.start('helloSequence', ['Tokyo', 'Seattle', 'London']);
    const done = await env.waitForCompletion(id);
    assert.equal(done.status, 'Completed');
    assert.deepEqual(done.output, ['Hello Tokyo!', 'Hello Seattle!', 'Hello London!']);
  });

  it('schedules each greeting only after the previous one completed', async () => {
    const id = await env.client.start('helloSequence', ['Tokyo', 'Seattle', 'London']);
    await env.waitForCompletion(id);
    const steps = (await env.client.getHistory(id)).filter(
      (e) => e.type === 'TaskScheduled' || e.type === 'TaskCompleted',
    );
    assert.deepEqual(types(steps), [
      'TaskScheduled',
      'TaskCompleted',
      'TaskScheduled',
      'TaskCompleted',
      'TaskScheduled',
      'TaskCompleted',
    ]);
    assert.deepEqual(
      steps.flatMap((e) => (e.type === 'TaskScheduled' ? [e.input] : [])),
      ['Tokyo', 'Seattle', 'London'],
    );
  });
});

describe('Fan-out/fan-in (wordCount)', () => {
  const documents = ['the quick brown fox', 'jumps over', 'the lazy dog', ''];

  it('counts the words of every document and sums them', async () => {
    const id = await env.client.start('wordCount', documents);
    const done = await env.waitForCompletion(id);
    assert.equal(done.status, 'Completed');
    assert.deepEqual(done.output, { total: 9, perDocument: [4, 2, 3, 0] });
  });

  it('schedules every count in one turn, before any of them completes', async () => {
    const id = await env.client.start('wordCount', documents);
    await env.waitForCompletion(id);
    const history = await env.client.getHistory(id);
    const scheduled = history.filter((e) => e.type === 'TaskScheduled');
    const firstCompleted = history.findIndex((e) => e.type === 'TaskCompleted');
    const lastScheduled = history.findLastIndex((e) => e.type === 'TaskScheduled');
    assert.equal(scheduled.length, documents.length);
    assert.ok(lastScheduled < firstCompleted, `history: ${types(history).join(', ')}`);
    assert.equal(new Set(scheduled.map((e) => e.at)).size, 1, 'all scheduled at the same turn time');
  });
});

describe('Monitoring (monitorJob, continue-as-new)', () => {
  it('checks a job hourly for days until it is done, then alerts, with a short history', async () => {
    jobs.submit('job-7', 100); // done on the 100th check: 99 hours after the start
    const startedAt = env.clock.now();
    const id = await env.client.start('monitorJob', {
      jobId: 'job-7',
      intervalMs: HOUR,
      expiresAt: startedAt + 30 * DAY,
    });
    const done = await env.waitForCompletion(id, { timeoutMs: 31 * DAY });
    assert.equal(done.status, 'Completed');
    assert.deepEqual(done.output, { status: 'done', jobId: 'job-7', checks: 100 });
    assert.equal(done.generation, 99, 'one generation per check: continue-as-new happened');
    assert.equal(env.clock.now() - startedAt, 99 * HOUR);
    assert.equal(jobs.checksOf('job-7'), 100);
    assert.deepEqual(
      notifier.ofKind('alert').map((n) => n.subject),
      ['job-7'],
    );
    const history = await env.client.getHistory(id);
    assert.ok(history.length <= 10, `history of the last generation stays short: ${types(history).join(', ')}`);
    assert.ok(done.historyLength <= 10, `historyLength ${done.historyLength}`);
  });

  it('gives up after 30 days when the job never finishes', async () => {
    jobs.submit('stuck-job', Infinity);
    const startedAt = env.clock.now();
    const id = await env.client.start('monitorJob', {
      jobId: 'stuck-job',
      intervalMs: HOUR,
      expiresAt: startedAt + 30 * DAY,
    });
    const done = await env.waitForCompletion(id, { timeoutMs: 31 * DAY });
    assert.deepEqual(done.output, { status: 'expired', jobId: 'stuck-job', checks: 721 });
    assert.equal(done.generation, 720);
    assert.equal(env.clock.now() - startedAt, 30 * DAY);
    assert.deepEqual(notifier.sent, [], 'no alert for a job that never finished');
  });

  it('reports its progress as a custom status while it waits for the next check', async () => {
    jobs.submit('job-8', 10);
    const id = await env.client.start('monitorJob', {
      jobId: 'job-8',
      intervalMs: HOUR,
      expiresAt: env.clock.now() + DAY,
    });
    await env.advance(2 * HOUR);
    const status = await env.client.getStatus(id);
    assert.notEqual(status?.status, 'Completed');
    assert.deepEqual(status?.customStatus, {
      jobId: 'job-8',
      state: 'running',
      checks: 3,
      nextCheckAt: new Date(env.clock.now() + HOUR).toISOString(),
    });
  });
});

describe('Human interaction (approval)', () => {
  const request = { requestId: 'req-1', amount: 250, timeoutMs: DAY };

  it('returns approved, with the approver, when the approval event arrives in time', async () => {
    const id = await env.client.start('approval', request);
    await env.settle();
    assert.equal(notifier.ofKind('approval-request').length, 1, 'the approver was asked');
    await env.advance(2 * HOUR);
    await env.client.raiseEvent(id, 'approval', { approved: true, by: 'alice' });
    const done = await env.waitForCompletion(id);
    assert.deepEqual(done.output, { status: 'approved', requestId: 'req-1', by: 'alice' });
    assert.deepEqual(notifier.ofKind('escalation'), []);
  });

  it('returns rejected when the approver says no', async () => {
    const id = await env.client.start('approval', request);
    await env.settle();
    await env.client.raiseEvent(id, 'approval', { approved: false, by: 'bob' });
    const done = await env.waitForCompletion(id);
    assert.deepEqual(done.output, { status: 'rejected', requestId: 'req-1', by: 'bob' });
  });

  it('escalates to a manager when nobody answers within the timeout', async () => {
    const startedAt = env.clock.now();
    const id = await env.client.start('approval', request);
    const done = await env.waitForCompletion(id);
    assert.deepEqual(done.output, { status: 'escalated', requestId: 'req-1' });
    assert.equal(env.clock.now() - startedAt, DAY, 'escalated exactly when the timeout expired');
    assert.deepEqual(notifier.ofKind('escalation'), [
      { kind: 'escalation', subject: 'req-1', text: `Request req-1 for $250 got no answer within ${DAY} ms.` },
    ]);
  });

  it('keeps an answer that arrives before the orchestration starts waiting for it', async () => {
    const early = TestEnvironment.start(app, { startWorker: false });
    try {
      const id = await early.client.start('approval', request);
      await early.client.raiseEvent(id, 'approval', { approved: true, by: 'carol' }); // nothing has run yet
      early.startWorker();
      const done = await early.waitForCompletion(id);
      assert.deepEqual(done.output, { status: 'approved', requestId: 'req-1', by: 'carol' });
      const history = types(await early.client.getHistory(id));
      assert.ok(
        history.indexOf('EventRaised') < history.indexOf('TaskCompleted'),
        `the event was recorded before the approval request completed: ${history.join(', ')}`,
      );
      assert.deepEqual(notifier.ofKind('escalation'), []);
    } finally {
      await early.close();
    }
  });
});

describe('Idempotent side effects (chargeOrder)', () => {
  const order = { orderId: 'order-1', amount: 42, card: '4242-4242-4242-4242' };

  it('retries transient gateway failures with exponential backoff and charges once', async () => {
    gateway.failNext(2);
    const id = await env.client.start('chargeOrder', order);
    const done = await env.waitForCompletion(id);
    assert.equal(done.status, 'Completed');
    assert.deepEqual(done.output, {
      status: 'charged',
      orderId: 'order-1',
      receipt: { receiptId: 'rcpt-1', orderId: 'order-1', amount: 42, card: order.card },
    });
    assert.equal(gateway.calls.length, 3);
    assert.equal(gateway.charges.length, 1);
    assert.deepEqual(retryDelays(await env.client.getHistory(id)), [1000, 2000]);
  });

  it('charges once when an attempt charged the card but lost its response', async () => {
    gateway.failNext(2, { when: 'after' });
    const id = await env.client.start('chargeOrder', order);
    const done = await env.waitForCompletion(id);
    assert.equal((done.output as { status: string }).status, 'charged');
    assert.equal(gateway.calls.length, 3, 'three attempts reached the gateway');
    assert.equal(gateway.charges.length, 1, 'but the card was charged once');
    const keys = new Set(gateway.calls.map((c) => c.idempotencyKey));
    assert.equal(keys.size, 1, 'every attempt carried the same idempotency key');
    assert.match([...keys][0] ?? '', new RegExp(`^${id}/0/\\d+$`));
  });

  it("waits as long as the gateway's Retry-After hint says instead of the policy's backoff", async () => {
    gateway.failNext(2, { retryAfterMs: 30_000 });
    const id = await env.client.start('chargeOrder', order);
    await env.waitForCompletion(id);
    assert.deepEqual(retryDelays(await env.client.getHistory(id)), [30_000, 30_000]);
    assert.equal(gateway.charges.length, 1);
  });

  it('does not retry a declined card and returns a declined result', async () => {
    gateway.decline(order.card);
    const id = await env.client.start('chargeOrder', order);
    const done = await env.waitForCompletion(id);
    assert.deepEqual(done.output, {
      status: 'declined',
      orderId: 'order-1',
      reason: `Card ${order.card} was declined.`,
    });
    assert.equal(gateway.calls.length, 1, 'the gateway saw one attempt');
    assert.deepEqual(gateway.charges, []);
    assert.deepEqual(retryDelays(await env.client.getHistory(id)), []);
  });

  it('fails the order after five attempts when the gateway stays down', async () => {
    gateway.failNext(Infinity);
    const id = await env.client.start('chargeOrder', order);
    const done = await env.waitForCompletion(id);
    assert.equal(done.status, 'Failed');
    assert.equal(done.error?.name, 'ActivityFailedError');
    assert.equal(gateway.calls.length, 5);
    assert.deepEqual(retryDelays(await env.client.getHistory(id)), [1000, 2000, 4000, 8000]);
  });
});

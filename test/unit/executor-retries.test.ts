import assert from 'node:assert/strict';
import { defineApp } from '../../src/engine/app.js';
import type { FailureDetails } from '../../src/engine/errors.js';
import { ValidationError } from '../../src/engine/errors.js';
import type { HistoryEventOf } from '../../src/engine/history.js';
import type { RetryPolicy } from '../../src/engine/retry.js';
import { nextRetryDelay, validateRetryPolicy } from '../../src/engine/retry.js';
import type { StepResult } from '../../src/engine/executor.js';
import {
  activityRequests,
  failure,
  Harness,
  orchestrationMessages,
  send,
  T0,
  timerMessages,
  types,
} from './helpers/harness.js';

const backoff: RetryPolicy = {
  maxAttempts: 4,
  firstRetryIntervalMs: 1000,
  backoffCoefficient: 2,
  maxRetryIntervalMs: 3000,
};

const app = defineApp({
  activities: { charge: (card: string) => `charged ${card}`, noop: () => undefined },
  orchestrations: {
    async backoff(ctx, card: string) {
      return ctx.callActivity('charge', card, { retry: backoff });
    },
    async byName(ctx, card: string) {
      return ctx.callActivity('charge', card, {
        retry: { maxAttempts: 5, firstRetryIntervalMs: 10, nonRetryableErrors: ['CardDeclined'] },
      });
    },
    async byPredicate(ctx, card: string) {
      return ctx.callActivity('charge', card, {
        retry: { maxAttempts: 5, firstRetryIntervalMs: 10, nonRetryableErrors: (f) => f.code === 'FATAL' },
      });
    },
    async timeout(ctx, card: string) {
      return ctx.callActivity('charge', card, {
        retry: { maxAttempts: 10, firstRetryIntervalMs: 1000, backoffCoefficient: 1, retryTimeoutMs: 2500 },
      });
    },
    async badPolicy(ctx, card: string) {
      return ctx.callActivity('charge', card, { retry: { maxAttempts: 0, firstRetryIntervalMs: 10 } });
    },
    async child(ctx, n: number) {
      return ctx.callActivity('charge', String(n));
    },
    async subWithRetry(ctx, n: number) {
      return ctx.callSubOrchestration('child', n, { retry: { maxAttempts: 2, firstRetryIntervalMs: 500 } });
    },
  },
});

const boom = (extra: Partial<FailureDetails> = {}): FailureDetails => failure('Boom', 'gateway timeout', extra);

function retryTimer(result: StepResult): HistoryEventOf<'TimerCreated'> {
  const timer = result.newEvents.find((e): e is HistoryEventOf<'TimerCreated'> => e.type === 'TimerCreated');
  assert.ok(timer, `expected a TimerCreated in ${types(result.newEvents).join(',')}`);
  return timer;
}

describe('executor: retries', () => {
  it('retries with exponential backoff, capped, with increasing attempts and one idempotency key', async () => {
    const h = new Harness('r1', app);
    const first = await h.start('backoff', 'visa', T0);
    const requests = [...activityRequests(first.messages)];

    let now = T0;
    const fireAts: number[] = [];
    for (const [seq, failedAt] of [
      [0, T0 + 100],
      [2, T0 + 1_200],
      [4, T0 + 3_500],
    ] as const) {
      const failed = await h.step(send.taskFailed('r1', seq, boom()), failedAt);
      const timer = retryTimer(failed);
      assert.equal(timer.purpose, 'retry');
      assert.equal(timer.seq, seq + 1);
      fireAts.push(timer.fireAt - failedAt);
      const [msg] = timerMessages(failed.messages);
      assert.equal(msg?.id, `r1/0/timer/${seq + 1}`);
      assert.equal(msg?.deliverAt, timer.fireAt);
      now = timer.fireAt;
      const fired = await h.step(send.timerFired('r1', seq + 1, timer.fireAt), now);
      assert.deepEqual(types(fired.newEvents), ['TimerFired', 'TaskScheduled']);
      requests.push(...activityRequests(fired.messages));
    }
    // 1000 * 2^0, 1000 * 2^1, then 1000 * 2^2 = 4000 capped at 3000.
    assert.deepEqual(fireAts, [1000, 2000, 3000]);
    assert.deepEqual(
      requests.map((r) => [r.id, r.body.seq, r.body.attempt, r.body.idempotencyKey, r.body.input]),
      [
        ['r1/0/activity/0', 0, 1, 'r1/0/0', 'visa'],
        ['r1/0/activity/2', 2, 2, 'r1/0/0', 'visa'],
        ['r1/0/activity/4', 4, 3, 'r1/0/0', 'visa'],
        ['r1/0/activity/6', 6, 4, 'r1/0/0', 'visa'],
      ],
    );

    // The fourth attempt is the last one: its failure fails the instance, with no further timer.
    const last = await h.step(send.taskFailed('r1', 6, boom()), now + 10);
    assert.deepEqual(types(last.newEvents), ['TaskFailed', 'ExecutionCompleted']);
    assert.equal(last.snapshot.status, 'Failed');
    assert.equal(last.snapshot.failure?.code, 'ACTIVITY_FAILED');
    assert.match(last.snapshot.failure?.message ?? '', /Boom: gateway timeout/);
  });

  it('returns the result of the attempt that succeeds', async () => {
    const h = new Harness('r2', app);
    await h.start('backoff', 'amex');
    const failed = await h.step(send.taskFailed('r2', 0, boom()), T0 + 5);
    const timer = retryTimer(failed);
    await h.step(send.timerFired('r2', 1, timer.fireAt), timer.fireAt);
    const done = await h.step(send.taskCompleted('r2', 2, 'charged amex'), timer.fireAt + 7);
    assert.equal(done.snapshot.status, 'Completed');
    assert.equal(done.snapshot.output, 'charged amex');
  });

  it('replays a retry history into a fresh executor and continues from it', async () => {
    const h = new Harness('r3', app);
    await h.start('backoff', 'visa');
    const failed = await h.step(send.taskFailed('r3', 0, boom()), T0 + 5);
    const timer = retryTimer(failed);
    await h.step(send.timerFired('r3', 1, timer.fireAt), timer.fireAt);
    const fresh = await h.replay();
    assert.deepEqual(fresh.snapshot, h.executor.snapshot);
    const a = await h.executor.step([send.taskCompleted('r3', 2, 'ok')], T0 + 9000);
    const b = await fresh.step([send.taskCompleted('r3', 2, 'ok')], T0 + 9000);
    assert.deepEqual(b, a);
    assert.equal(b.snapshot.output, 'ok');
  });

  it('does not retry an error listed by name in nonRetryableErrors', async () => {
    const h = new Harness('r4', app);
    await h.start('byName', 'visa');
    const r = await h.step(send.taskFailed('r4', 0, failure('CardDeclined', 'insufficient funds')), T0 + 1);
    assert.deepEqual(types(r.newEvents), ['TaskFailed', 'ExecutionCompleted']);
    assert.equal(r.snapshot.status, 'Failed');
    assert.match(r.snapshot.failure?.message ?? '', /CardDeclined/);
  });

  it('retries an error whose name is not listed in nonRetryableErrors', async () => {
    const h = new Harness('r5', app);
    await h.start('byName', 'visa');
    const r = await h.step(send.taskFailed('r5', 0, failure('NetworkError', 'reset')), T0 + 1);
    assert.equal(retryTimer(r).fireAt, T0 + 1 + 10);
    assert.equal(r.snapshot.status, 'Running');
  });

  it('does not retry a failure matched by a nonRetryableErrors predicate, and retries one it rejects', async () => {
    const h = new Harness('r6', app);
    await h.start('byPredicate', 'visa');
    const soft = await h.step(send.taskFailed('r6', 0, failure('Error', 'soft', { code: 'SOFT' })), T0 + 1);
    const timer = retryTimer(soft);
    await h.step(send.timerFired('r6', 1, timer.fireAt), timer.fireAt);
    const fatal = await h.step(send.taskFailed('r6', 2, failure('Error', 'hard', { code: 'FATAL' })), T0 + 100);
    assert.deepEqual(types(fatal.newEvents), ['TaskFailed', 'ExecutionCompleted']);
    assert.equal(fatal.snapshot.status, 'Failed');
  });

  it('never retries a failure marked nonRetryable (a TerminalError), whatever the policy', async () => {
    const h = new Harness('r7', app);
    await h.start('backoff', 'visa');
    const terminal = failure('TerminalError', 'card expired', { code: 'TERMINAL', nonRetryable: true });
    const r = await h.step(send.taskFailed('r7', 0, terminal), T0 + 1);
    assert.deepEqual(types(r.newEvents), ['TaskFailed', 'ExecutionCompleted']);
    assert.equal(r.snapshot.status, 'Failed');
    assert.match(r.snapshot.failure?.message ?? '', /TerminalError: card expired/);
  });

  it('gives up once the next attempt would start after retryTimeoutMs since the first was scheduled', async () => {
    const h = new Harness('r8', app);
    await h.start('timeout', 'visa', T0);
    // elapsed 100 + 1000 <= 2500: retry
    const f1 = await h.step(send.taskFailed('r8', 0, boom()), T0 + 100);
    const t1 = retryTimer(f1);
    assert.equal(t1.fireAt, T0 + 1100);
    await h.step(send.timerFired('r8', 1, t1.fireAt), t1.fireAt);
    // elapsed 1200 + 1000 <= 2500: retry
    const f2 = await h.step(send.taskFailed('r8', 2, boom()), T0 + 1200);
    const t2 = retryTimer(f2);
    await h.step(send.timerFired('r8', 3, t2.fireAt), t2.fireAt);
    // elapsed 2300 + 1000 > 2500: give up, although maxAttempts (10) is far away
    const f3 = await h.step(send.taskFailed('r8', 4, boom()), T0 + 2300);
    assert.deepEqual(types(f3.newEvents), ['TaskFailed', 'ExecutionCompleted']);
    assert.equal(f3.snapshot.status, 'Failed');
  });

  it("waits a RetryableError's retryAfterMs instead of the policy's backoff", async () => {
    const h = new Harness('r9', app);
    await h.start('backoff', 'visa');
    const limited = failure('RetryableError', 'rate limited', { code: 'RETRYABLE', retryAfterMs: 30_000 });
    const r = await h.step(send.taskFailed('r9', 0, limited), T0 + 40);
    // 30 s even though the policy's first interval is 1 s and its cap is 3 s.
    assert.equal(retryTimer(r).fireAt, T0 + 40 + 30_000);
    assert.equal(timerMessages(r.messages)[0]?.deliverAt, T0 + 40 + 30_000);
  });

  it('fails the instance with a ValidationError naming the field when the retry policy is invalid', async () => {
    const h = new Harness('r10', app);
    const r = await h.start('badPolicy', 'visa');
    assert.equal(r.snapshot.status, 'Failed');
    assert.equal(r.snapshot.failure?.name, 'ValidationError');
    assert.equal(r.snapshot.failure?.code, 'VALIDATION');
    assert.match(r.snapshot.failure?.message ?? '', /retry\.maxAttempts/);
    assert.equal(r.messages.length, 0);
  });

  it('retries a failed sub-orchestration in a new child instance after a durable retry timer', async () => {
    const h = new Harness('p1', app);
    const first = await h.start('subWithRetry', 5);
    const [start1] = orchestrationMessages(first.messages);
    assert.equal(start1?.instanceId, 'p1:0:0');
    const failed = await h.step(send.subFailed('p1', 0, boom()), T0 + 10);
    const timer = retryTimer(failed);
    assert.equal(timer.purpose, 'retry');
    assert.equal(timer.fireAt, T0 + 10 + 500);
    const fired = await h.step(send.timerFired('p1', 1, timer.fireAt), timer.fireAt);
    assert.deepEqual(types(fired.newEvents), ['TimerFired', 'SubOrchestrationCreated']);
    const [start2] = orchestrationMessages(fired.messages);
    assert.equal(start2?.body.type, 'ExecutionStarted');
    assert.notEqual(start2?.instanceId, 'p1:0:0', 'a retry must not reuse the failed child id');
    assert.equal(start2?.id, `${start2?.instanceId}/0/start/0`);
    const done = await h.step(send.subCompleted('p1', 2, 'charged 5'), T0 + 900);
    assert.equal(done.snapshot.output, 'charged 5');
  });
});

describe('validateRetryPolicy', () => {
  const bad: Array<[keyof RetryPolicy, number]> = [
    ['maxAttempts', 0],
    ['maxAttempts', 1.5],
    ['maxAttempts', NaN],
    ['firstRetryIntervalMs', -1],
    ['firstRetryIntervalMs', Infinity],
    ['backoffCoefficient', 0.5],
    ['backoffCoefficient', NaN],
    ['maxRetryIntervalMs', -5],
    ['retryTimeoutMs', -1],
  ];
  for (const [field, value] of bad) {
    it(`rejects retry.${field} = ${String(value)} with a ValidationError naming the field`, () => {
      const policy = { maxAttempts: 3, firstRetryIntervalMs: 1, [field]: value } as RetryPolicy;
      assert.throws(
        () => validateRetryPolicy(policy),
        (e: unknown) =>
          e instanceof ValidationError && e.code === 'VALIDATION' && e.details?.field === `retry.${field}`,
      );
    });
  }

  it('accepts the smallest valid policy and one with every field set', () => {
    assert.doesNotThrow(() => validateRetryPolicy({ maxAttempts: 1, firstRetryIntervalMs: 0 }));
    assert.doesNotThrow(() =>
      validateRetryPolicy({
        maxAttempts: 5,
        firstRetryIntervalMs: 100,
        backoffCoefficient: 1,
        maxRetryIntervalMs: 0,
        retryTimeoutMs: 0,
        nonRetryableErrors: ['X'],
      }),
    );
  });
});

describe('nextRetryDelay', () => {
  const f = failure('Error', 'x');
  const policy: RetryPolicy = { maxAttempts: 5, firstRetryIntervalMs: 100 };

  it('doubles by default and uses the given coefficient otherwise', () => {
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => nextRetryDelay(policy, n, f, 0)),
      [100, 200, 400, 800],
    );
    const slow = { ...policy, backoffCoefficient: 1.5 };
    assert.deepEqual(
      [1, 2, 3].map((n) => nextRetryDelay(slow, n, f, 0)),
      [100, 150, 225],
    );
  });

  it('returns undefined once the failed attempt is the last allowed', () => {
    assert.equal(nextRetryDelay(policy, 5, f, 0), undefined);
    assert.equal(nextRetryDelay({ maxAttempts: 1, firstRetryIntervalMs: 10 }, 1, f, 0), undefined);
  });

  it('caps each wait at maxRetryIntervalMs', () => {
    const capped = { ...policy, maxRetryIntervalMs: 250 };
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => nextRetryDelay(capped, n, f, 0)),
      [100, 200, 250, 250],
    );
  });

  it('rounds fractional delays to whole milliseconds', () => {
    assert.equal(nextRetryDelay({ maxAttempts: 5, firstRetryIntervalMs: 10, backoffCoefficient: 1.25 }, 3, f, 0), 16);
  });

  it('honours nonRetryable, nonRetryableErrors by name and by predicate', () => {
    assert.equal(nextRetryDelay(policy, 1, { ...f, nonRetryable: true }, 0), undefined);
    assert.equal(nextRetryDelay({ ...policy, nonRetryableErrors: ['Error'] }, 1, f, 0), undefined);
    assert.equal(nextRetryDelay({ ...policy, nonRetryableErrors: ['Other'] }, 1, f, 0), 100);
    assert.equal(nextRetryDelay({ ...policy, nonRetryableErrors: (x) => x.message === 'x' }, 1, f, 0), undefined);
    assert.equal(nextRetryDelay({ ...policy, nonRetryableErrors: () => false }, 1, f, 0), 100);
  });

  it('lets retryAfterMs override the backoff, including a zero wait', () => {
    assert.equal(nextRetryDelay(policy, 3, { ...f, retryAfterMs: 5000 }, 0), 5000);
    assert.equal(nextRetryDelay(policy, 3, { ...f, retryAfterMs: 0 }, 0), 0);
  });

  it('gives up when the elapsed time plus the next wait would exceed retryTimeoutMs', () => {
    const bounded = { ...policy, retryTimeoutMs: 1000 };
    assert.equal(nextRetryDelay(bounded, 1, f, 900), 100);
    assert.equal(nextRetryDelay(bounded, 1, f, 901), undefined);
  });
});

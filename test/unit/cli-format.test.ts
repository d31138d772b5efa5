import assert from 'node:assert/strict';
import { duration, iso, relative } from '../../src/cli/format.js';
import { timeline, waitingFor } from '../../src/cli/timeline.js';
import { events } from '../../src/engine/history.js';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');

describe('CLI output: times and durations', () => {
  it('reads durations the way a person does, from milliseconds to days', () => {
    assert.equal(duration(0), '0ms');
    assert.equal(duration(850), '850ms');
    assert.equal(duration(1234), '1.2s');
    assert.equal(duration(42_000), '42s');
    assert.equal(duration(185_000), '3m05s');
    assert.equal(duration(2 * 3_600_000 + 7 * 60_000), '2h07m');
    assert.equal(duration(3 * 86_400_000 + 4 * 3_600_000), '3d04h');
    assert.equal(duration(-50), '0ms', 'clock skew between workers never reads as a negative time');
  });

  it('writes epoch milliseconds as ISO times and says how far away they are', () => {
    assert.equal(iso(T0), '2026-03-01T10:00:00.000Z');
    assert.equal(iso('soon'), '');
    assert.equal(relative(T0 + 300_000, T0), 'in 5m00s');
    assert.equal(relative(T0 - 3100, T0), '3.1s ago');
  });
});

describe('CLI output: the history timeline', () => {
  const history = [
    events.executionStarted({ name: 'remind', input: 'Ada', generation: 0 }, T0),
    events.taskScheduled(0, 'sayHello', 'Ada', T0),
    events.taskCompleted(0, 'Hello Ada!', T0 + 1500),
    events.timerCreated(1, T0 + 1500 + 86_400_000, 'timer', T0 + 1500),
    events.timerFired(1, T0 + 1500 + 86_400_000, T0 + 1600 + 86_400_000),
    events.executionCompleted({ status: 'Completed', result: 'done' }, T0 + 1700 + 86_400_000),
  ];

  it('has a time column relative to the start and one in ISO', () => {
    const lines = timeline(history).split('\n');
    assert.match(lines[0] ?? '', /^#\s+\+TIME\s+AT\s+EVENT\s+SEQ\s+DETAIL\s+TOOK$/);
    assert.match(lines[2] ?? '', /^0\s+\+0ms\s+2026-03-01T10:00:00\.000Z\s+ExecutionStarted\s+remind "Ada"$/);
    assert.match(
      lines[4] ?? '',
      /^2\s+\+1\.5s\s+2026-03-01T10:00:01\.500Z\s+TaskCompleted\s+0\s+sayHello → "Hello Ada!"/,
    );
    assert.match(lines[7] ?? '', /^5\s+\+1d00h\s+2026-03-02T10:00:01\.700Z\s+ExecutionCompleted/);
  });

  it('shows how long each activity and timer took, on the event that ended it', () => {
    const lines = timeline(history).split('\n');
    assert.match(lines[4] ?? '', /TaskCompleted .* 1\.5s$/);
    assert.match(lines[6] ?? '', /TimerFired .* 1d00h$/);
    assert.doesNotMatch(lines[3] ?? '', /\d(ms|s)$/, 'a scheduled activity has taken nothing yet');
  });

  it('shows timers as dates, not epoch milliseconds', () => {
    const text = timeline(history);
    assert.match(text, /TimerCreated\s+1\s+fires at 2026-03-02T10:00:01\.500Z \(in 1d00h\)/);
    assert.match(text, /TimerFired\s+1\s+due 2026-03-02T10:00:01\.500Z/);
    assert.ok(!text.includes(String(T0 + 1500 + 86_400_000)), text);
  });

  it('names the activity, entity or lock a closing event answers, and the failure', () => {
    const text = timeline([
      events.executionStarted({ name: 'transfer', input: {}, generation: 0 }, T0),
      events.entityLockRequested({ seq: 0, lockId: 'l', entities: ['account@a', 'account@b'] }, T0),
      events.entityLockGranted(0, T0 + 55),
      events.entityCalled({ seq: 1, entityId: 'account@a', operation: 'balance' }, T0 + 55),
      events.entityResponded(1, { result: 0 }, T0 + 110),
      events.taskScheduled(2, 'chargeCard', undefined, T0 + 110),
      events.taskFailed(2, { name: 'CardDeclinedError', message: 'declined' }, T0 + 130),
    ]);
    assert.match(text, /EntityLockGranted\s+0\s+account@a, account@b\s+55ms/);
    assert.match(text, /EntityResponded\s+1\s+account@a: balance → 0\s+55ms/);
    assert.match(text, /TaskFailed\s+2\s+chargeCard → CardDeclinedError: declined\s+20ms/);
  });
});

describe('CLI output: what a running instance waits for', () => {
  const started = events.executionStarted({ name: 'x', input: null, generation: 0 }, T0);

  it('lists the activities, timers, entity calls and locks opened and not closed, with how long', () => {
    const lines = waitingFor(
      [
        started,
        events.taskScheduled(0, 'sayHello', 'Tokyo', T0),
        events.taskCompleted(0, 'Hello', T0 + 10),
        events.taskScheduled(1, 'sayHello', 'Oslo', T0 + 10),
        events.timerCreated(2, T0 + 600_000, 'timer', T0 + 10),
        events.entityCalled({ seq: 3, entityId: 'counter@home', operation: 'get' }, T0 + 10),
        events.entityLockRequested({ seq: 4, lockId: 'l', entities: ['account@a'] }, T0 + 10),
        events.entitySignaled({ seq: 5, entityId: 'counter@home', operation: 'add', input: 1 }, T0 + 10),
        events.subOrchestrationCreated({ seq: 6, name: 'child', instanceId: 'x:0', input: 1 }, T0 + 10),
      ],
      T0 + 2010,
    );
    assert.deepEqual(lines, [
      'activity sayHello "Oslo" (for 2.0s)',
      'timer until 2026-03-01T10:10:00.000Z (in 9m57s)',
      'entity counter@home: get (for 2.0s)',
      'locks on account@a (for 2.0s)',
      'sub-orchestration child x:0 (for 2.0s)',
    ]);
  });

  it('says an event when the open timer is the timeout of waitForEvent, and when nothing is open', () => {
    assert.deepEqual(waitingFor([started, events.timerCreated(0, T0 + 60_000, 'event-timeout', T0)], T0), [
      'an event, or its timeout at 2026-03-01T10:01:00.000Z (in 1m00s)',
    ]);
    assert.deepEqual(waitingFor([started], T0), ['an event (no activity, timer or entity call is open)']);
  });
});

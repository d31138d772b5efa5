import assert from 'node:assert/strict';
import type { Logger } from '../../src/index.js';
import type { LogRecord } from '../../src/observability/logger.js';
import { defineApp, TestEnvironment } from '../../src/index.js';
import { LOG_EVENTS } from '../../src/observability/log-events.js';
import { DeterminismGuard } from '../../src/runtime/determinism-guard.js';

const NativeDate = Date;
const nativeRandom = Math.random;

/** A logger that keeps the guard's warnings and, like pino, reads the clock for every line it writes. */
function recordingLogger(): { logger: Logger; warnings: LogRecord[] } {
  const warnings: LogRecord[] = [];
  const line = (fields: LogRecord): void => {
    void Date.now();
    if (fields.event === LOG_EVENTS.nondeterministicCall) warnings.push(fields);
  };
  return { logger: { debug: line, info: line, warn: line, error: line }, warnings };
}

const app = defineApp({
  activities: {
    // Activities may read the clock: they run once, and their result is recorded.
    async stamp() {
      return Date.now() + Math.random();
    },
  },
  orchestrations: {
    async readsClock(ctx) {
      const startedAt = Date.now();
      await ctx.waitForEvent('go');
      return startedAt + Math.random() + new Date().getTime();
    },
    async rollsDice(ctx) {
      await ctx.createTimer(0);
      return Math.random();
    },
    async behaves(ctx) {
      ctx.log.info('logging reads the clock, in the logger');
      const stamp = await ctx.callActivity('stamp');
      return { stamp, at: ctx.now().getTime(), guid: ctx.newGuid(), dice: ctx.random(), due: new Date(0) };
    },
  },
});

describe('the nondeterminism warning of durable dev', function () {
  this.timeout(20_000);
  let env: TestEnvironment | undefined;

  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  it('warns once per orchestration, naming it and what it read, and not for activities or the logger', async () => {
    const { logger, warnings } = recordingLogger();
    env = TestEnvironment.start(app, { logger, worker: { warnNondeterminism: true } });
    await env.client.start('readsClock', null, { instanceId: 'clock-1' });
    await env.settle();
    assert.deepEqual(
      warnings.map((w) => [w.orchestration, w.instanceId, w.call]),
      [['readsClock', 'clock-1', 'Date.now()']],
    );

    // A second turn of the same orchestration reads Math.random and new Date(); another instance reads Date.now.
    await env.client.raiseEvent('clock-1', 'go', null);
    await env.client.start('readsClock', null, { instanceId: 'clock-2' });
    await env.client.raiseEvent('clock-2', 'go', null);
    await env.client.start('behaves', null, { instanceId: 'good' });
    await env.client.start('rollsDice', null, { instanceId: 'dice' });
    for (const id of ['clock-1', 'clock-2', 'good', 'dice']) {
      assert.equal((await env.waitForCompletion(id)).status, 'Completed');
    }
    assert.deepEqual(
      warnings.map((w) => [w.orchestration, w.call]),
      [
        ['readsClock', 'Date.now()'],
        ['rollsDice', 'Math.random()'],
      ],
    );
  });

  it('is off unless asked for, and leaves the globals as they were once turns end', async () => {
    const { logger, warnings } = recordingLogger();
    env = TestEnvironment.start(app, { logger });
    await env.client.start('readsClock', null, { instanceId: 'quiet' });
    await env.client.raiseEvent('quiet', 'go', null);
    assert.equal((await env.waitForCompletion('quiet')).status, 'Completed');
    assert.deepEqual(warnings, []);

    await env.close();
    env = TestEnvironment.start(app, { logger, worker: { warnNondeterminism: true } });
    await env.client.start('rollsDice', null, { instanceId: 'dice' });
    assert.equal((await env.waitForCompletion('dice')).status, 'Completed');
    assert.equal(warnings.length, 1);
    assert.equal(Date, NativeDate);
    assert.equal(Math.random, nativeRandom);
  });
});

describe('DeterminismGuard', () => {
  const turn = (name: string) => ({ instanceId: `${name}-1`, name: () => name });

  it('patches the globals only while a turn runs, and attributes reads to the turn that made them', async () => {
    const seen: string[] = [];
    const guard = new DeterminismGuard((w) => seen.push(`${w.orchestration} ${w.call}`));
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));

    const first = guard.run(turn('a'), async () => {
      await blocked;
      return new Date(5).getTime() + new Date().getTime(); // after an await: still the turn's code
    });
    assert.notEqual(Date, NativeDate, 'patched while a turn runs');
    // Code outside any turn, meanwhile, reads the clock unnoticed, as does code the turn exempts (a log sink).
    void Date.now();
    void Math.random();
    await guard.run(turn('b'), async () => guard.exempt(() => Date.now()));
    assert.notEqual(Date, NativeDate, 'still patched: turn a is running');
    assert.deepEqual(seen, []);

    release();
    await first;
    assert.deepEqual(seen, ['a new Date()']);
    assert.equal(Date, NativeDate, 'restored when the last turn ends');
    assert.equal(Math.random, nativeRandom);
    assert.ok(new Date() instanceof NativeDate);
  });

  it('keeps dates, Date.UTC and instanceof working while patched', async () => {
    const guard = new DeterminismGuard(() => undefined);
    await guard.run(turn('c'), async () => {
      const d = new Date(Date.UTC(2026, 0, 1));
      assert.ok(d instanceof Date && d instanceof NativeDate);
      assert.equal(d.toISOString(), '2026-01-01T00:00:00.000Z');
      assert.equal(typeof Date(), 'string');
      await Promise.resolve();
    });
  });
});

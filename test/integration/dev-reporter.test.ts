/**
 * The lines `durable dev` prints, from a real worker's log records (in memory, on a manual clock): starts,
 * completions and failures with how long the instance took, activity and sub-orchestration retries, stuck instances
 * (once, not per retry), dead letters and failed entity operations; coloured only when asked.
 */
import assert from 'node:assert/strict';
import { devReporter, ms, useColor } from '../../src/cli/dev-reporter.js';
import type { EntityContext } from '../../src/index.js';
import { defineApp, RetryableError, TerminalError } from '../../src/index.js';
import { TestEnvironment } from '../../src/testing/test-environment.js';

let flakyCalls = 0;
let childRuns = 0;

const activities = {
  async flaky(n: number) {
    if (++flakyCalls <= n) throw new RetryableError(`flaky attempt ${flakyCalls} failed`);
    return 'ok';
  },
  async echo(value: string) {
    return value;
  },
};

const retry = { maxAttempts: 3, firstRetryIntervalMs: 500 };

const v1 = defineApp({
  activities,
  entities: {
    counter: {
      initial: () => 0,
      add(ctx: EntityContext<number>, n: number) {
        if (typeof n !== 'number') throw new TypeError(`cannot add ${JSON.stringify(n)}`);
        ctx.setState(ctx.state + n);
      },
    },
  },
  orchestrations: {
    async slow(ctx) {
      await ctx.createTimer(90_000);
      return 'done';
    },
    async withRetries(ctx) {
      return ctx.callActivity('flaky', 1, { retry });
    },
    async child() {
      if (++childRuns === 1) throw new RetryableError('child failed once');
      return 'child ok';
    },
    async parent(ctx) {
      return ctx.callSubOrchestration('child', undefined, { retry });
    },
    async boom() {
      throw new TerminalError('no way');
    },
    async echoThenWait(ctx, value: string) {
      const echoed = await ctx.callActivity('echo', value);
      return echoed + (await ctx.waitForEvent<string>('go'));
    },
  },
});

/** `echoThenWait` changed in shape: instances started on v1 cannot be replayed on it. */
const v2 = defineApp({
  ...v1,
  orchestrations: {
    ...v1.orchestrations,
    async echoThenWait(ctx, value: string) {
      await ctx.createTimer(1000);
      return value;
    },
  },
});

describe('durable dev’s lines', () => {
  let env: TestEnvironment;
  let lines: string[];
  const reporter = (color = false) =>
    devReporter({ write: (line) => void lines.push(line), color, now: () => new Date(env.clock.now()) });

  beforeEach(() => {
    lines = [];
    flakyCalls = 0;
    childRuns = 0;
  });
  afterEach(async () => env?.close());

  it('says when an instance starts and how long it took to complete or fail', async () => {
    env = TestEnvironment.start(v1, { logger: reporter() });
    const slow = await env.client.start('slow', undefined, { instanceId: 'slow-1' });
    await env.waitForCompletion(slow);
    await env.waitForCompletion(await env.client.start('boom', undefined, { instanceId: 'boom-1' }));
    assert.match(lines.join('\n'), /▶ started\s+slow slow-1\n/);
    assert.match(lines.join('\n'), /✓ completed\s+slow slow-1\s+in 1 min 30 s/);
    assert.match(lines.join('\n'), /▶ started\s+boom boom-1/);
    assert.match(lines.join('\n'), /✗ failed\s+boom boom-1\s+after 0 ms: TerminalError: no way/);
    assert.ok(
      lines.every((l) => !l.includes('\x1b[')),
      'no colour unless asked',
    );
  });

  it('names the failed activity and the wait before its retry, and retries of a sub-orchestration', async () => {
    env = TestEnvironment.start(v1, { logger: reporter() });
    await env.waitForCompletion(await env.client.start('withRetries', undefined, { instanceId: 'r-1' }));
    await env.waitForCompletion(await env.client.start('parent', undefined, { instanceId: 'p-1' }));
    const text = lines.join('\n');
    assert.match(text, /! activity\s+flaky of r-1\s+attempt 1 failed: flaky attempt 1 failed/);
    assert.match(
      text,
      /↻ retry\s+withRetries r-1\s+activity flaky failed \(flaky attempt 1 failed\); next attempt in 500 ms/,
    );
    assert.match(text, /✓ completed\s+withRetries r-1/);
    assert.match(text, /✗ failed\s+child \S+\s+after 0 ms: RetryableError: child failed once/);
    assert.match(text, /↻ retry\s+parent p-1\s+sub-orchestration failed \(child failed once\); next attempt in 500 ms/);
    assert.match(text, /✓ completed\s+parent p-1/);
  });

  it('says once that an instance is stuck, not on every retry', async () => {
    env = TestEnvironment.start(v2, { startWorker: false, logger: reporter() });
    const w1 = env.startWorker({ app: v1 });
    await env.client.start('echoThenWait', 'a', { instanceId: 'nd' });
    await env.settle();
    await env.stopWorker(w1);
    env.startWorker({ app: v2 });
    await env.client.raiseEvent('nd', 'go', '!');
    await env.settle();
    await env.advance(8_000); // three more failed retries
    const stuck = lines.filter((l) => l.includes('⚠ stuck'));
    assert.equal(stuck.length, 1, lines.join('\n'));
    assert.match(stuck[0] ?? '', /echoThenWait nd\s+.*retrying in 1\.0 s/);
  });

  it('reports dead letters and failed entity operations', async () => {
    env = TestEnvironment.start(v1, { logger: reporter(), worker: { maxDeliveries: 0 } });
    await env.client.start('slow', undefined, { instanceId: 'poisoned' });
    await env.settle();
    assert.match(lines.join('\n'), /☠ dead letter\s+\S+ of poisoned\s+Delivered 1 times/);
    lines = [];
    env = (await env.close(), TestEnvironment.start(v1, { logger: reporter() }));
    await env.client.signalEntity('counter@c', 'add', 'x');
    await env.settle();
    assert.match(
      lines.join('\n'),
      /✗ entity op\s+counter@c add\s+signal from client failed: TypeError: cannot add "x"/,
    );
  });

  it('warns once per orchestration that reads the clock during a turn, naming the ctx replacement', async () => {
    const clocky = defineApp({
      orchestrations: {
        async stamp() {
          return Date.now() > 0;
        },
      },
    });
    env = TestEnvironment.start(clocky, { logger: reporter(), worker: { warnNondeterminism: true } });
    await env.client.start('stamp', undefined, { instanceId: 's-1' });
    await env.client.start('stamp', undefined, { instanceId: 's-2' });
    await env.settle();
    const warnings = lines.filter((l) => l.includes('nondeterministic'));
    assert.equal(warnings.length, 1, lines.join('\n'));
    assert.match(warnings[0] ?? '', /stamp s-\d\s+called Date\.now\(\) during a turn.*use ctx\.now\(\)/);
  });

  it('colours lines when asked, on a terminal without NO_COLOR', async () => {
    env = TestEnvironment.start(v1, { logger: reporter(true) });
    await env.waitForCompletion(await env.client.start('boom'));
    assert.ok(
      lines.some((l) => l.includes('\x1b[31m✗ failed')),
      lines.join('\n'),
    );
    assert.equal(useColor({ isTTY: true }, {}), true);
    assert.equal(useColor({ isTTY: true }, { NO_COLOR: '1' }), false);
    assert.equal(useColor({ isTTY: false }, {}), false);
    assert.deepEqual([ms(45), ms(1234), ms(184_000), ms(7_500_000)], ['45 ms', '1.2 s', '3 min 4 s', '2 h 5 min']);
  });
});

/**
 * Purge, then start the same id: the new run must never receive the old run's messages. Every creation of an id
 * has its own incarnation, carried by its messages; a message of another incarnation is dropped and counted.
 */
import assert from 'node:assert/strict';
import type { EntityContext, Logger } from '../../src/index.js';
import type { LogRecord } from '../../src/observability/logger.js';
import { defineApp, TestEnvironment } from '../../src/index.js';
import { LOG_EVENTS } from '../../src/observability/log-events.js';
import { until } from '../helpers/until.js';

let release: () => void = () => undefined;
let oldActivityStarted = false;

const app = defineApp({
  activities: {
    async tagged(run: string) {
      if (run === 'old') {
        oldActivityStarted = true;
        await new Promise<void>((resolve) => (release = resolve));
      }
      return `done ${run}`;
    },
  },
  entities: {
    counter: {
      initial: () => 0,
      add: (ctx: EntityContext<number>, n: number) => ctx.setState(ctx.state + n),
    },
  },
  orchestrations: {
    async reused(ctx, input: { run: string; waitMs: number }) {
      ctx.signalEntity('counter@reuse', 'add', 1);
      const startedAt = ctx.now().getTime();
      const [result] = await Promise.all([ctx.callActivity('tagged', input.run), ctx.createTimer(input.waitMs)]);
      return { result, waited: ctx.now().getTime() - startedAt };
    },
  },
});

/** Collects the log records the worker writes. */
function recorder(): Logger & { readonly records: LogRecord[] } {
  const records: LogRecord[] = [];
  const log = (record: LogRecord): void => void records.push(record);
  return { records, debug: log, info: log, warn: log, error: log };
}

describe('incarnations: a purged id started again', () => {
  it("never applies the old run's activity result, timer or entity numbering to the new run", async () => {
    const logger = recorder();
    const env = TestEnvironment.start(app, { logger });
    try {
      const id = await env.client.start('reused', { run: 'old', waitMs: 2000 }, { instanceId: 'reused-1' });
      await until(() => oldActivityStarted, 'the old run is inside its activity');
      await env.client.terminate(id, 'to purge it');
      await until(async () => (await env.client.getStatus(id))?.status === 'Terminated', 'the old run ended');
      await env.client.purge(id);

      await env.client.start('reused', { run: 'new', waitMs: 15_000 }, { instanceId: id });
      release(); // the old run's activity finishes now: its result is addressed to the old incarnation
      const done = await env.waitForCompletion(id);

      assert.equal(done.status, 'Completed', JSON.stringify(done.error));
      assert.deepEqual(done.output, { result: 'done new', waited: 15_000 }, 'its own result, after its own timer');
      assert.equal((await env.client.readEntityState('counter@reuse'))?.state, 2, 'both runs signalled once');
      const dropped = logger.records.filter((r) => r.event === LOG_EVENTS.staleIncarnation);
      const ids = dropped.flatMap((r) => r.messages as string[]);
      assert.ok(ids.includes(`${id}/0/activity-result/1`), `old result dropped: ${ids.join(', ')}`);
      assert.ok(ids.includes(`${id}/0/timer/2`), `old timer dropped: ${ids.join(', ')}`);
    } finally {
      release();
      await env.close();
    }
  });
});

/**
 * An error whose causes form a cycle fails its activity or orchestration like any other error, with the causes
 * up to the cycle, instead of overflowing the stack in failure serialisation (and retrying forever).
 */
import assert from 'node:assert/strict';
import type { FailureDetails } from '../../src/index.js';
import { ActivityFailedError, defineApp, TestEnvironment } from '../../src/index.js';

let activityRuns = 0;

function cyclicError(): Error {
  const a = new Error('a');
  const b = new Error('b', { cause: a });
  a.cause = b;
  return a;
}

function messages(details: FailureDetails | undefined): string[] {
  const out: string[] = [];
  for (let d = details; d; d = d.cause) out.push(d.message);
  return out;
}

const app = defineApp({
  activities: {
    async explode() {
      activityRuns++;
      throw cyclicError();
    },
  },
  orchestrations: {
    async callsExplode(ctx) {
      try {
        return await ctx.callActivity('explode');
      } catch (error) {
        if (error instanceof ActivityFailedError) return error.failure;
        throw error;
      }
    },
    async throwsCycle() {
      throw cyclicError();
    },
  },
});

describe('Errors whose causes form a cycle', () => {
  let env: TestEnvironment;
  beforeEach(() => (activityRuns = 0));
  afterEach(async () => env.close());

  it('fails an activity once with the causes up to the cycle', async () => {
    env = TestEnvironment.start(app);
    const done = await env.waitForCompletion(await env.client.start('callsExplode', null));
    assert.equal(done.status, 'Completed');
    assert.deepEqual(messages(done.output as FailureDetails), ['a', 'b']);
    assert.equal(activityRuns, 1);
  });

  it('fails an orchestration with the causes up to the cycle', async () => {
    env = TestEnvironment.start(app);
    const done = await env.waitForCompletion(await env.client.start('throwsCycle', null));
    assert.equal(done.status, 'Failed');
    assert.deepEqual(messages(done.error), ['a', 'b']);
  });
});

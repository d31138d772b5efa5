/**
 * A failed entity operation leaves a trace: the entity remembers its last failure (the entity view, over the client
 * and HTTP, shows it, even for an entity the failure left without state), the runtime logs it, and a caller's
 * history holds the error it got.
 */
import assert from 'node:assert/strict';
import app from '../../examples/app.js';
import { entityMessage } from '../../src/engine/actions.js';
import { executeEntityBatch } from '../../src/engine/entity-executor.js';
import { createHttpApi } from '../../src/http/http-api.js';
import { LOG_EVENTS } from '../../src/observability/log-events.js';
import type { LogRecord, Logger } from '../../src/observability/logger.js';
import { TestEnvironment } from '../../src/testing/test-environment.js';

function recording(): { logger: Logger; lines: LogRecord[] } {
  const lines: LogRecord[] = [];
  const keep = (r: LogRecord): void => void lines.push(r);
  return { logger: { debug: keep, info: keep, warn: keep, error: keep }, lines };
}

describe('failed entity operations', () => {
  let env: TestEnvironment;
  afterEach(async () => env?.close());

  it('records a failed signal on the entity and logs it, and a later success keeps the state and the trace', async () => {
    const { logger, lines } = recording();
    env = TestEnvironment.start(app, { logger });
    await env.client.signalEntity('counter@home', 'add', 2);
    await env.client.signalEntity('counter@home', 'add', 'lots');
    await env.client.signalEntity('counter@home', 'add', 1);
    await env.settle();
    const entity = await env.client.readEntityState<number>('counter@home');
    assert.equal(entity?.state, 3, 'the failed add changed nothing');
    assert.equal(entity?.lastFailure?.operation, 'add');
    assert.equal(entity?.lastFailure?.error.name, 'TypeError');
    assert.match(entity?.lastFailure?.error.message ?? '', /cannot add "lots"/);
    assert.equal(entity?.lastFailure?.signal, true);
    assert.equal(entity?.lastFailure?.from, 'client');
    assert.equal(entity?.lastFailure?.at.getTime(), env.clock.now());
    const logged = lines.filter((r) => r.event === LOG_EVENTS.entityOperationFailed);
    assert.equal(logged.length, 1);
    assert.equal(logged[0]?.instanceId, 'counter@home');
    assert.equal(logged[0]?.operation, 'add');
  });

  it('shows an entity whose only operation failed (no state) with its failure, over the client and HTTP', async () => {
    env = TestEnvironment.start(app);
    const api = createHttpApi(env.client, { entities: Object.keys(app.entities) });
    try {
      await env.client.signalEntity('counter@fresh', 'add', 1.5);
      await env.settle();
      assert.equal(await env.client.readEntityState('counter@fresh'), undefined, 'no state without includeDeleted');
      const bare = await env.client.readEntityState('counter@fresh', { includeDeleted: true });
      assert.equal(bare?.hasState, false);
      assert.equal(bare?.lastFailure?.operation, 'add');
      const response = await api.inject({ method: 'GET', url: '/api/entities/counter/fresh' });
      assert.equal(response.statusCode, 404);
      const problem = response.json<{
        code: string;
        message: string;
        details: { lastFailure: { operation: string } };
      }>();
      assert.equal(problem.code, 'ENTITY_NOT_FOUND');
      assert.match(
        problem.message,
        /last operation, add \(a signal from client, .*\), failed: TypeError: counter fresh/,
      );
      assert.equal(problem.details.lastFailure.operation, 'add');

      await env.client.signalEntity('counter@fresh', 'add', 4);
      await env.settle();
      const ok = await api.inject({ method: 'GET', url: '/api/entities/counter/fresh' });
      assert.equal(ok.statusCode, 200);
      const body = ok.json<{
        state: number;
        lastFailure: { operation: string; error: { name: string }; at: string };
      }>();
      assert.equal(body.state, 4);
      assert.equal(body.lastFailure.error.name, 'TypeError', 'the entity view keeps the last failure');
      assert.equal(body.lastFailure.at, new Date(env.clock.now()).toISOString());
    } finally {
      await api.close();
    }
  });

  it('gives a calling orchestration the error in its history and records the call on the entity', async () => {
    env = TestEnvironment.start(app);
    const id = await env.client.start('withdrawCash', { account: 'bob', amount: 10 });
    const done = await env.waitForCompletion(id);
    assert.deepEqual(done.output, {
      status: 'insufficient-funds',
      reason: 'Account bob holds 0, cannot withdraw 10.',
    });
    const history = await env.client.getHistory(id);
    const response = history.find((e) => e.type === 'EntityResponded');
    assert.equal(response?.type === 'EntityResponded' && response.failure?.name, 'InsufficientFundsError');
    const account = await env.client.readEntityState('account@bob', { includeDeleted: true });
    assert.equal(account?.lastFailure?.operation, 'withdraw');
    assert.equal(account?.lastFailure?.signal, false);
    assert.equal(account?.lastFailure?.from, id);
  });

  it('records an operation the entity does not have', async () => {
    const message = entityMessage('m1', 'counter@k', {
      type: 'EntityOperation',
      operation: 'multiply',
      input: 2,
      sender: { id: 'client' },
    });
    const out = await executeEntityBatch('counter@k', app, undefined, [message], 1000);
    assert.equal(out.changed, true);
    assert.equal(out.data.lastFailure?.failure.code, 'UNKNOWN_OPERATION');
    assert.deepEqual(
      out.failures.map((f) => [f.operation, f.signal, f.at]),
      [['multiply', true, 1000]],
    );
  });
});

import assert from 'node:assert/strict';
import type { InjectOptions } from 'fastify';
import type { ActivityMessage, QueueName } from '../../src/engine/messages.js';
import type { Worker } from '../../src/runtime/worker.js';
import type { Harness } from './helpers.js';
import { APPROVAL, assertProblem, assertRejectedWithoutChange, startHarness, startViaApi } from './helpers.js';

const READER = 'reader-token-0123456789';
const ADMIN = 'admin-token-01234567890';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

interface DeadLetterItem {
  queue: string;
  messageId: string;
  instanceId: string;
  reason: string;
  message: { id: string; body: { type: string } };
}

const redrive = (payload?: unknown, headers: Record<string, string> = {}): InjectOptions => ({
  method: 'POST',
  url: '/api/dead-letters/redrive',
  headers: payload === undefined ? { 'x-durable-request': '1', ...headers } : headers,
  ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}),
});

describe('HTTP API: dead letters', () => {
  let h: Harness;
  let worker: Worker;
  beforeEach(() => {
    // With tokens configured every request needs one: requests that name none here go as the admin.
    h = startHarness({
      auth: {
        tokens: [
          { token: READER, scopes: ['read'] },
          { token: ADMIN, scopes: ['read', 'write', 'admin'] },
        ],
      },
    });
    const inject = h.api.inject.bind(h.api);
    h.api.inject = ((options: InjectOptions) =>
      inject({ ...options, headers: { ...bearer(ADMIN), ...options.headers } })) as typeof h.api.inject;
    worker = h.env.worker;
  });
  afterEach(() => h.close());

  /**
   * Parks the one message `enqueue` puts on `queue` as a dead letter, as a worker gives up on a poison message:
   * received, then dead-lettered with `reason`. The worker is stopped meanwhile so that it cannot take the message
   * first, and replaced afterwards. Returns the message id.
   */
  async function park(queue: QueueName, enqueue: () => Promise<void>, reason: string): Promise<string> {
    await h.env.settle();
    await h.env.stopWorker(worker);
    await enqueue();
    const [delivery, ...rest] = await h.env.queue.receive(queue, 10, { visibilityTimeoutMs: 60_000 });
    assert.ok(delivery !== undefined);
    assert.deepEqual(rest, []);
    await h.env.queue.deadLetter(delivery, reason);
    worker = h.env.startWorker();
    return delivery.message.id;
  }

  /** Starts an approval that waits for its event, and dead-letters an approval raised for it. */
  async function approvalWithDeadEvent(instanceId: string, by: string): Promise<string> {
    await startViaApi(h, 'approval', { instanceId, input: APPROVAL });
    return park(
      'orchestrations',
      async () => {
        const raised = await h.api.inject({
          method: 'POST',
          url: `/api/instances/${instanceId}/events/approval?eventId=${by}-decision`,
          payload: { approved: true, by },
        });
        assert.equal(raised.statusCode, 202, raised.body);
      },
      'poison: crashed the worker 11 times',
    );
  }

  /** Dead-letters an activity request that nothing waits for (its instance does not exist). */
  function deadActivity(id: string): Promise<string> {
    const message: ActivityMessage = {
      id,
      queue: 'activities',
      instanceId: 'ghost',
      body: {
        type: 'ActivityRequest',
        name: 'sayHello',
        input: 'ghost',
        generation: 0,
        seq: 0,
        attempt: 1,
        idempotencyKey: `${id}/key`,
      },
    };
    return park('activities', () => h.env.queue.send([message]), 'timed out every time');
  }

  async function listed(query = ''): Promise<DeadLetterItem[]> {
    const response = await h.api.inject({ method: 'GET', url: `/api/dead-letters${query}` });
    assert.equal(response.statusCode, 200, response.body);
    return response.json<{ items: DeadLetterItem[] }>().items;
  }

  describe('GET /api/dead-letters', () => {
    it('lists nothing when no message has been dead-lettered', async () => {
      assert.deepEqual(await listed(), []);
      assert.deepEqual(await listed('?queue=activities'), []);
    });

    it('lists dead letters of both queues, orchestrations first, with queue, message id, instance and reason', async () => {
      const activity = await deadActivity('ghost/0/activity/0');
      const event = await approvalWithDeadEvent('a1', 'alice');
      const items = await listed();
      assert.deepEqual(
        items.map(({ queue, messageId, instanceId, reason }) => ({ queue, messageId, instanceId, reason })),
        [
          {
            queue: 'orchestrations',
            messageId: event,
            instanceId: 'a1',
            reason: 'poison: crashed the worker 11 times',
          },
          { queue: 'activities', messageId: activity, instanceId: 'ghost', reason: 'timed out every time' },
        ],
      );
      assert.equal(items[0]?.message.body.type, 'EventRaised');
      assert.equal(items[1]?.message.body.type, 'ActivityRequest');
      assert.deepEqual(
        (await listed('?queue=activities')).map((d) => d.messageId),
        [activity],
      );
    });

    it('refuses an unknown queue with 400 problem details', async () => {
      for (const query of ['queue=nope', 'queue=', 'queue=activities&queue=orchestrations', 'all=1']) {
        assertProblem(await h.api.inject({ method: 'GET', url: `/api/dead-letters?${query}` }), 400, 'VALIDATION');
      }
    });
  });

  describe('POST /api/dead-letters/redrive', () => {
    it('lets an instance whose event was dead-lettered complete once the event is redriven', async () => {
      const event = await approvalWithDeadEvent('a1', 'alice');
      await h.env.settle();
      assert.equal((await h.env.client.getStatus('a1'))?.status, 'Running', 'the event never reached the instance');

      const response = await h.api.inject(redrive({ queue: 'orchestrations', messageIds: [event] }));
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(response.json(), { redriven: [{ queue: 'orchestrations', messageIds: [event] }] });

      const done = await h.env.waitForCompletion('a1');
      assert.deepEqual(done.output, { status: 'approved', requestId: 'r-1', by: 'alice' });
      assert.deepEqual(await listed(), []);
    });

    it('redrives only the given ids, ignoring ids that are not dead letters, and leaves the others dead', async () => {
      const first = await approvalWithDeadEvent('a1', 'alice');
      const second = await approvalWithDeadEvent('a2', 'bob');
      const activity = await deadActivity('ghost/0/activity/0');

      const response = await h.api.inject(redrive({ messageIds: [first, 'no-such-message'] }));
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(response.json(), {
        redriven: [
          { queue: 'orchestrations', messageIds: [first] },
          { queue: 'activities', messageIds: [] },
        ],
      });
      await h.env.settle();
      assert.equal((await h.env.client.getStatus('a1'))?.status, 'Completed');
      assert.equal((await h.env.client.getStatus('a2'))?.status, 'Running');
      assert.deepEqual(
        (await listed()).map((d) => d.messageId),
        [second, activity],
      );
    });

    it('redrives every dead letter of a queue when no ids are given', async () => {
      const first = await approvalWithDeadEvent('a1', 'alice');
      const second = await approvalWithDeadEvent('a2', 'bob');
      const activity = await deadActivity('ghost/0/activity/0');

      const response = await h.api.inject(redrive({ queue: 'orchestrations' }));
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(response.json(), { redriven: [{ queue: 'orchestrations', messageIds: [first, second] }] });
      assert.equal((await h.env.waitForCompletion('a1')).status, 'Completed');
      assert.equal((await h.env.waitForCompletion('a2')).status, 'Completed');
      assert.deepEqual(
        (await listed()).map((d) => d.messageId),
        [activity],
      );
    });

    it('redrives every dead letter of both queues when the request has no body', async () => {
      const event = await approvalWithDeadEvent('a1', 'alice');
      const activity = await deadActivity('ghost/0/activity/0');

      const response = await h.api.inject(redrive());
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(response.json(), {
        redriven: [
          { queue: 'orchestrations', messageIds: [event] },
          { queue: 'activities', messageIds: [activity] },
        ],
      });
      assert.deepEqual(await listed(), []);
      assert.deepEqual((await h.env.waitForCompletion('a1')).output, {
        status: 'approved',
        requestId: 'r-1',
        by: 'alice',
      });
    });

    it('refuses malformed requests with 400 problem details, changing nothing', async () => {
      const event = await approvalWithDeadEvent('a1', 'alice');
      for (const payload of [
        { queue: 'nope' },
        { queue: null },
        { messageIds: [] },
        { messageIds: event },
        { messageIds: [1] },
        { messageIds: [''] },
        { messageIds: ['a\u0000b'] },
        { messageIds: Array.from({ length: 1001 }, (_, i) => `m${i}`) },
        { all: true },
      ]) {
        await assertRejectedWithoutChange(h, redrive(payload), 400, 'VALIDATION');
      }
      assert.deepEqual(
        (await listed()).map((d) => d.messageId),
        [event],
      );
    });

    it('refuses a token without the admin scope with 403, changing nothing', async () => {
      const event = await approvalWithDeadEvent('a1', 'alice');
      assert.equal(
        (await h.api.inject({ method: 'GET', url: '/api/dead-letters', headers: bearer(READER) })).statusCode,
        200,
      );
      await assertRejectedWithoutChange(h, redrive({ messageIds: [event] }, bearer(READER)), 403, 'FORBIDDEN');
      const allowed = await h.api.inject(redrive({ messageIds: [event] }, bearer(ADMIN)));
      assert.equal(allowed.statusCode, 200, allowed.body);
      assert.equal((await h.env.waitForCompletion('a1')).status, 'Completed');
    });
  });

  describe('POST /api/dead-letters/delete', () => {
    const remove = (payload: unknown, headers: Record<string, string> = {}): InjectOptions => ({
      method: 'POST',
      url: '/api/dead-letters/delete',
      headers,
      payload: payload as Record<string, unknown>,
    });

    it('deletes only the dead letters named, for good, and needs the admin scope', async () => {
      const first = await deadActivity('ghost/0/activity/1');
      const second = await deadActivity('ghost/0/activity/2');
      await assertRejectedWithoutChange(h, remove({ messageIds: [first] }, bearer(READER)), 403, 'FORBIDDEN');
      const response = await h.api.inject(remove({ messageIds: [first, 'not/a/dead/letter'] }, bearer(ADMIN)));
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(response.json(), {
        deleted: [
          { queue: 'orchestrations', messageIds: [] },
          { queue: 'activities', messageIds: [first] },
        ],
      });
      assert.deepEqual(
        (await listed()).map((d) => d.messageId),
        [second],
      );
      assert.equal((await h.api.inject(redrive({ messageIds: [first] }))).json().redriven[1].messageIds.length, 0);
    });

    it('deletes every dead letter only when asked with all: true, never for an empty request', async () => {
      await deadActivity('ghost/0/activity/1');
      await assertRejectedWithoutChange(h, remove({}), 400, 'VALIDATION');
      await assertRejectedWithoutChange(h, remove({ all: true, messageIds: ['x/1'] }), 400, 'VALIDATION');
      const response = await h.api.inject(remove({ queue: 'activities', all: true }));
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(await listed(), []);
    });
  });

  describe('the client underneath', () => {
    it('refuses an unknown queue and an empty or malformed id list with a ValidationError, changing nothing', async () => {
      const event = await approvalWithDeadEvent('a1', 'alice');
      const client = h.env.client;
      const refused = { name: 'ValidationError', code: 'VALIDATION' };
      await assert.rejects(client.listDeadLetters('nope' as QueueName), {
        ...refused,
        message: /Unknown queue 'nope'/,
      });
      for (const options of [
        { queue: 'nope' as QueueName },
        { messageIds: [] },
        { messageIds: [''] },
        { messageIds: event as unknown as string[] },
      ]) {
        await assert.rejects(client.redriveDeadLetters(options), refused, JSON.stringify(options));
      }
      assert.deepEqual(
        (await client.listDeadLetters()).map((d) => d.messageId),
        [event],
      );
    });
  });

  it('documents both routes in the OpenAPI document with their scopes', async () => {
    const doc = (await h.api.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, Record<string, { 'x-scope': string; requestBody?: unknown; parameters?: unknown[] }>>;
    }>();
    const list = doc.paths['/api/dead-letters']?.['get'];
    const redriveOperation = doc.paths['/api/dead-letters/redrive']?.['post'];
    assert.equal(list?.['x-scope'], 'read');
    assert.deepEqual(list?.parameters, [
      {
        name: 'queue',
        in: 'query',
        required: false,
        schema: { type: 'string', enum: ['orchestrations', 'activities'], description: 'A queue. Default: both.' },
        description: 'A queue. Default: both.',
      },
    ]);
    assert.equal(redriveOperation?.['x-scope'], 'admin');
    assert.match(JSON.stringify(redriveOperation?.requestBody), /"messageIds"/);
  });
});

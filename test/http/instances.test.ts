import assert from 'node:assert/strict';
import type { Harness } from './helpers.js';
import {
  BODYLESS,
  APPROVAL,
  assertProblem,
  assertRejectedWithoutChange,
  snapshot,
  startHarness,
  startViaApi,
  whileTimePasses,
} from './helpers.js';

interface StatusBody {
  instanceId: string;
  name: string;
  status: string;
  input?: unknown;
  output?: unknown;
  links: Record<string, string>;
}

describe('HTTP API: orchestration instances', () => {
  let h: Harness;
  beforeEach(() => {
    h = startHarness();
  });
  afterEach(() => h.close());

  describe('POST /api/orchestrations/:name', () => {
    it('starts an instance and answers 201 with its status, a Location and links to manage it', async () => {
      const response = await h.api.inject({
        method: 'POST',
        url: '/api/orchestrations/helloSequence',
        payload: { input: ['Tokyo'], instanceId: 'order#1' },
      });
      assert.equal(response.statusCode, 201);
      assert.equal(response.headers.location, '/api/instances/order%231');
      const body = response.json<StatusBody>();
      assert.equal(body.instanceId, 'order#1');
      assert.deepEqual(body.input, ['Tokyo']);
      assert.deepEqual(body.links, {
        self: '/api/instances/order%231',
        history: '/api/instances/order%231/history',
        raiseEvent: '/api/instances/order%231/events/{eventName}',
        terminate: '/api/instances/order%231/terminate',
        suspend: '/api/instances/order%231/suspend',
        resume: '/api/instances/order%231/resume',
        purge: '/api/instances/order%231',
      });
      const done = await h.env.waitForCompletion('order#1');
      assert.deepEqual(done.output, ['Hello Tokyo!']);
    });

    it('starts an instance with a generated id when the request has no body', async () => {
      const response = await h.api.inject({
        method: 'POST',
        url: '/api/orchestrations/helloSequence',
        headers: BODYLESS,
      });
      assert.equal(response.statusCode, 201, response.body);
      const { instanceId } = response.json<StatusBody>();
      assert.match(instanceId, /^[0-9a-f-]{36}$/);
      assert.ok(await h.env.client.getStatus(instanceId));
    });

    it('answers a repeated start of a live instance with the same input with 200 and the existing instance', async () => {
      await startViaApi(h, 'approval', { instanceId: 'a1', input: APPROVAL });
      const before = await snapshot(h.env);
      const again = await h.api.inject({
        method: 'POST',
        url: '/api/orchestrations/approval',
        payload: { instanceId: 'a1', input: APPROVAL },
      });
      assert.equal(again.statusCode, 200, again.body);
      assert.equal(again.json<StatusBody>().status, 'Running');
      assert.equal(await snapshot(h.env), before);
    });

    it('refuses with 409 a start whose id is taken by a live instance with another input', async () => {
      await startViaApi(h, 'approval', { instanceId: 'a1', input: APPROVAL });
      await assertRejectedWithoutChange(
        h,
        {
          method: 'POST',
          url: '/api/orchestrations/approval',
          payload: { instanceId: 'a1', input: { ...APPROVAL, amount: 99 } },
        },
        409,
        'INSTANCE_EXISTS',
      );
    });

    it("refuses with 409 a start over a finished instance under the 'reject' policy", async () => {
      await startViaApi(h, 'helloSequence', { instanceId: 'h1', input: [] });
      await h.env.waitForCompletion('h1');
      await assertRejectedWithoutChange(
        h,
        {
          method: 'POST',
          url: '/api/orchestrations/helloSequence',
          payload: { instanceId: 'h1', input: [], reuse: 'reject' },
        },
        409,
        'INSTANCE_EXISTS',
      );
    });

    it('restarts a finished instance under the default policy as its next generation', async () => {
      await startViaApi(h, 'helloSequence', { instanceId: 'h1', input: ['a'] });
      await h.env.waitForCompletion('h1');
      await startViaApi(h, 'helloSequence', { instanceId: 'h1', input: ['b'] });
      const done = await h.env.waitForCompletion('h1');
      assert.equal(done.generation, 1);
      assert.deepEqual(done.output, ['Hello b!']);
    });

    it('refuses with 422 an orchestration name the app does not register, changing nothing', async () => {
      await assertRejectedWithoutChange(
        h,
        { method: 'POST', url: '/api/orchestrations/launchMissiles', payload: { input: 1 } },
        422,
        'UNKNOWN_ORCHESTRATION',
      );
    });

    it('refuses with 400 a body with wrong types, unknown fields, a bad policy or a bad id', async () => {
      const bodies = [
        { instanceId: 42 },
        { instanceId: 'has space' },
        { instanceId: '..' },
        { instanceId: 'x'.repeat(201) },
        { reuse: 'always' },
        { input: 1, extra: true },
        [1, 2],
        'just a string',
      ];
      for (const payload of bodies) {
        await assertRejectedWithoutChange(
          h,
          {
            method: 'POST',
            url: '/api/orchestrations/helloSequence',
            payload: JSON.stringify(payload),
            headers: { 'content-type': 'application/json' },
          },
          400,
          'VALIDATION',
        );
      }
    });
  });

  describe('GET /api/instances/:id', () => {
    it('returns the status with links, and 404 for an instance that does not exist', async () => {
      await startViaApi(h, 'helloSequence', { instanceId: 'h1', input: ['a'] });
      await h.env.waitForCompletion('h1');
      const response = await h.api.inject({ method: 'GET', url: '/api/instances/h1' });
      assert.equal(response.statusCode, 200);
      const body = response.json<StatusBody>();
      assert.equal(body.status, 'Completed');
      assert.deepEqual(body.output, ['Hello a!']);
      assert.equal(body.links['history'], '/api/instances/h1/history');
      assertProblem(await h.api.inject({ method: 'GET', url: '/api/instances/nobody' }), 404, 'INSTANCE_NOT_FOUND');
    });

    it('long-polls with ?wait= until the instance completes', async () => {
      const id = await startViaApi(h, 'helloSequence', { input: ['Lima'] });
      const response = await whileTimePasses(
        h,
        h.api.inject({ method: 'GET', url: `/api/instances/${id}?wait=10000` }),
      );
      assert.equal(response.statusCode, 200);
      assert.equal(response.json<StatusBody>().status, 'Completed');
    });

    it('answers a long-poll that runs out of time with 200 and the current status', async () => {
      await startViaApi(h, 'approval', { instanceId: 'a1', input: APPROVAL });
      await h.env.settle();
      const response = await whileTimePasses(h, h.api.inject({ method: 'GET', url: '/api/instances/a1?wait=30' }));
      assert.equal(response.statusCode, 200);
      assert.equal(response.json<StatusBody>().status, 'Running');
    });

    it('refuses a wait over 60 seconds, a negative one and one that is not a number with 400', async () => {
      for (const wait of ['60001', '-1', 'soon', '1e400']) {
        assertProblem(await h.api.inject({ method: 'GET', url: `/api/instances/a1?wait=${wait}` }), 400, 'VALIDATION');
      }
    });
  });

  describe('GET /api/instances', () => {
    beforeEach(async () => {
      await startViaApi(h, 'helloSequence', { instanceId: 'h1', input: [] });
      await h.env.waitForCompletion('h1');
      h.env.clock.advanceTo(h.env.clock.now() + 60_000);
      await startViaApi(h, 'approval', { instanceId: 'a1', input: APPROVAL });
      h.env.clock.advanceTo(h.env.clock.now() + 60_000);
      await startViaApi(h, 'approval', { instanceId: 'a2', input: APPROVAL });
      await h.env.settle();
    });

    const ids = (body: { items: Array<{ instanceId: string }> }): string[] => body.items.map((i) => i.instanceId);

    it('lists instances newest first, each with links', async () => {
      const response = await h.api.inject({ method: 'GET', url: '/api/instances' });
      assert.equal(response.statusCode, 200);
      const body = response.json<{ items: StatusBody[] }>();
      assert.deepEqual(ids(body), ['a2', 'a1', 'h1']);
      assert.equal(body.items[0]?.links['terminate'], '/api/instances/a2/terminate');
    });

    it('filters by status given repeatedly or as a comma list, and by name', async () => {
      const running = await h.api.inject({ method: 'GET', url: '/api/instances?status=Running' });
      assert.deepEqual(ids(running.json()), ['a2', 'a1']);
      const both = await h.api.inject({ method: 'GET', url: '/api/instances?status=Completed,Failed&status=Running' });
      assert.deepEqual(ids(both.json()), ['a2', 'a1', 'h1']);
      const named = await h.api.inject({ method: 'GET', url: '/api/instances?name=helloSequence' });
      assert.deepEqual(ids(named.json()), ['h1']);
    });

    it('filters by creation time', async () => {
      const from = new Date(h.env.clock.now() - 90_000).toISOString();
      const response = await h.api.inject({ method: 'GET', url: `/api/instances?createdFrom=${from}` });
      assert.deepEqual(ids(response.json()), ['a2', 'a1']);
      const to = new Date(h.env.clock.now() - 90_000).toISOString();
      const older = await h.api.inject({ method: 'GET', url: `/api/instances?createdTo=${to}` });
      assert.deepEqual(ids(older.json()), ['h1']);
    });

    it('pages with limit and the cursor, whose next link keeps the filters', async () => {
      const first = await h.api.inject({ method: 'GET', url: '/api/instances?limit=2&name=approval' });
      const body = first.json<{ items: StatusBody[]; nextCursor?: string; links?: { next: string } }>();
      assert.deepEqual(ids(body), ['a2', 'a1']);
      if (body.nextCursor) {
        assert.match(body.links?.next ?? '', /^\/api\/instances\?limit=2&name=approval&cursor=/);
        const second = await h.api.inject({ method: 'GET', url: body.links?.next ?? '' });
        assert.deepEqual(ids(second.json()), []);
      }
      const small = await h.api.inject({ method: 'GET', url: '/api/instances?limit=1' });
      const page = small.json<{ items: StatusBody[]; links: { next: string } }>();
      assert.deepEqual(ids(page), ['a2']);
      const next = await h.api.inject({ method: 'GET', url: page.links.next });
      assert.deepEqual(ids(next.json()), ['a1']);
    });

    it('refuses unknown statuses, bad dates, bad limits, bad cursors and unknown parameters with 400', async () => {
      const queries = [
        'status=Sleeping',
        'createdFrom=yesterday',
        'createdTo=2026-13-45T00:00:00Z',
        'limit=0',
        'limit=1001',
        'limit=1.5',
        'cursor=%24%24%24',
        'cursor=bm9wZQ',
        'token=secret',
      ];
      for (const query of queries) {
        assertProblem(await h.api.inject({ method: 'GET', url: `/api/instances?${query}` }), 400, 'VALIDATION');
      }
    });
  });

  describe('history, events and control', () => {
    it('returns the history of an instance, and 404 for an unknown one', async () => {
      await startViaApi(h, 'helloSequence', { instanceId: 'h1', input: ['a'] });
      await h.env.waitForCompletion('h1');
      const response = await h.api.inject({ method: 'GET', url: '/api/instances/h1/history' });
      assert.equal(response.statusCode, 200);
      const types = response.json<{ events: Array<{ type: string }> }>().events.map((e) => e.type);
      assert.equal(types[0], 'ExecutionStarted');
      assert.ok(types.includes('TaskCompleted'));
      assertProblem(
        await h.api.inject({ method: 'GET', url: '/api/instances/none/history' }),
        404,
        'INSTANCE_NOT_FOUND',
      );
    });

    it('raises an event whose body is the data, and the instance receives it', async () => {
      await startViaApi(h, 'approval', { instanceId: 'a1', input: APPROVAL });
      await h.env.settle();
      const response = await h.api.inject({
        method: 'POST',
        url: '/api/instances/a1/events/approval?eventId=hook-1',
        payload: { approved: true, by: 'alice' },
      });
      assert.equal(response.statusCode, 202, response.body);
      assert.equal(response.json<{ eventId: string }>().eventId, 'hook-1');
      const done = await h.env.waitForCompletion('a1');
      assert.deepEqual(done.output, { status: 'approved', requestId: 'r-1', by: 'alice' });
    });

    it('refuses events to unknown instances (404), finished ones (409) and with bad names or ids (400)', async () => {
      await startViaApi(h, 'helloSequence', { instanceId: 'h1', input: [] });
      await h.env.waitForCompletion('h1');
      const post = (url: string) => ({ method: 'POST' as const, url, payload: { x: 1 } });
      await assertRejectedWithoutChange(h, post('/api/instances/none/events/approval'), 404, 'INSTANCE_NOT_FOUND');
      await assertRejectedWithoutChange(h, post('/api/instances/h1/events/approval'), 409, 'INVALID_STATE');
      await assertRejectedWithoutChange(h, post('/api/instances/h1/events/a%01b'), 400, 'VALIDATION');
      await assertRejectedWithoutChange(h, post('/api/instances/h1/events/approval?eventId=a/b'), 400, 'VALIDATION');
    });

    it('refuses with 422 an event the orchestration does not declare, changing nothing', async () => {
      await startViaApi(h, 'approval', { instanceId: 'a2', input: APPROVAL });
      await h.env.settle();
      const typo = { method: 'POST' as const, url: '/api/instances/a2/events/aproval', payload: { approved: true } };
      await assertRejectedWithoutChange(h, typo, 422, 'UNKNOWN_EVENT');
      const problem = (await h.api.inject(typo)).json<{ details: { accepts: string[] } }>();
      assert.deepEqual(problem.details.accepts, ['approval']);
      const ok = {
        method: 'POST' as const,
        url: '/api/instances/a2/events/approval',
        payload: { approved: false, by: 'bob' },
      };
      assert.equal((await h.api.inject(ok)).statusCode, 202);
      assert.deepEqual((await h.env.waitForCompletion('a2')).output, {
        status: 'rejected',
        requestId: 'r-1',
        by: 'bob',
      });
    });

    it('suspends and resumes a running instance, and terminates it with a reason', async () => {
      await startViaApi(h, 'approval', { instanceId: 'a1', input: APPROVAL });
      await h.env.settle();
      const suspend = await h.api.inject({
        method: 'POST',
        url: '/api/instances/a1/suspend',
        payload: { reason: 'audit' },
      });
      assert.equal(suspend.statusCode, 202);
      await h.env.settle();
      assert.equal((await h.env.client.getStatus('a1'))?.status, 'Suspended');
      const resume = await h.api.inject({ method: 'POST', url: '/api/instances/a1/resume', headers: BODYLESS });
      assert.equal(resume.statusCode, 202);
      await h.env.settle();
      assert.equal((await h.env.client.getStatus('a1'))?.status, 'Running');
      const terminate = await h.api.inject({
        method: 'POST',
        url: '/api/instances/a1/terminate',
        payload: { reason: 'no longer needed' },
      });
      assert.equal(terminate.statusCode, 202);
      assert.equal(terminate.json<{ requested: string }>().requested, 'terminate');
      const done = await h.env.waitForCompletion('a1');
      assert.equal(done.status, 'Terminated');
    });

    it('refuses control requests in the wrong state (409), for unknown instances (404) and with bad reasons (400)', async () => {
      await startViaApi(h, 'approval', { instanceId: 'a1', input: APPROVAL });
      await h.env.settle();
      await assertRejectedWithoutChange(
        h,
        { method: 'POST', url: '/api/instances/a1/resume', headers: BODYLESS },
        409,
        'INVALID_STATE',
      );
      await assertRejectedWithoutChange(
        h,
        { method: 'POST', url: '/api/instances/zz/terminate', headers: BODYLESS },
        404,
        'INSTANCE_NOT_FOUND',
      );
      for (const payload of [
        { reason: 5 },
        { reason: '' },
        { reason: 'a\u0000b' },
        { reason: 'x'.repeat(1001) },
        { why: 'x' },
      ]) {
        await assertRejectedWithoutChange(
          h,
          { method: 'POST', url: '/api/instances/a1/terminate', payload },
          400,
          'VALIDATION',
        );
      }
    });

    it('purges a finished instance (204), and refuses live (409) and unknown (404) ones', async () => {
      await startViaApi(h, 'helloSequence', { instanceId: 'h1', input: [] });
      await h.env.waitForCompletion('h1');
      await startViaApi(h, 'approval', { instanceId: 'a1', input: APPROVAL });
      await assertRejectedWithoutChange(
        h,
        { method: 'DELETE', url: '/api/instances/a1', headers: BODYLESS },
        409,
        'INVALID_STATE',
      );
      await assertRejectedWithoutChange(
        h,
        { method: 'DELETE', url: '/api/instances/none', headers: BODYLESS },
        404,
        'INSTANCE_NOT_FOUND',
      );
      const response = await h.api.inject({ method: 'DELETE', url: '/api/instances/h1', headers: BODYLESS });
      assert.equal(response.statusCode, 204);
      assert.equal(await h.env.client.getStatus('h1'), undefined);
    });
  });
});

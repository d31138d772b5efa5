/**
 * The API the dashboard reads: id search and the stuck filter on the listing, counts by status, restart, the app's
 * description and the status extras (parent, waitingFor).
 */
import assert from 'node:assert/strict';
import { createHttpApi } from '../../src/http/http-api.js';
import { describeApp } from '../../src/http/app-description.js';
import { nextRecord } from '../../src/backends/store.js';
import { defineApp, TestEnvironment } from '../../src/index.js';
import exampleApp from '../../examples/app.js';
import type { Harness } from './helpers.js';
import { APPROVAL, assertProblem, assertRejectedWithoutChange, startHarness, startViaApi } from './helpers.js';

interface Item {
  instanceId: string;
  status: string;
  generation: number;
  input?: unknown;
  stuck?: unknown;
  parent?: { instanceId: string; name?: string };
  waitingFor?: string[];
}

const READER = 'reader-token-0123456789';
const WRITER = 'writer-token-0123456789';

describe('HTTP API: what the dashboard reads', () => {
  let h: Harness;
  beforeEach(() => {
    h = startHarness({
      app: describeApp(exampleApp),
      auth: {
        required: false,
        tokens: [
          { token: READER, scopes: ['read'] },
          { token: WRITER, scopes: ['read', 'write'] },
        ],
      },
    });
  });
  afterEach(() => h.close());

  const ids = (body: { items: Item[] }): string[] => body.items.map((i) => i.instanceId);

  async function makeStuck(instanceId: string): Promise<void> {
    const record = await h.env.store.get(instanceId);
    assert.ok(record);
    const stuck = { name: 'NonDeterminismError', message: 'the code changed' };
    assert.deepEqual(await h.env.store.compareAndSet(nextRecord(record, { stuck }), record.version), { ok: true });
  }

  describe('GET /api/instances?q=&stuck=', () => {
    it('finds instances by id prefix (case-sensitive) and lists only stuck ones with stuck=true', async () => {
      for (const id of ['order-1', 'order-2', 'Order-3', 'invoice-1']) {
        await startViaApi(h, 'approval', { instanceId: id, input: APPROVAL });
      }
      await h.env.settle();
      await makeStuck('order-2');
      const byPrefix = await h.api.inject({ url: '/api/instances?q=order-' });
      assert.equal(byPrefix.statusCode, 200, byPrefix.body);
      assert.deepEqual(ids(byPrefix.json()).sort(), ['order-1', 'order-2']);
      const stuck = await h.api.inject({ url: '/api/instances?stuck=true' });
      assert.deepEqual(ids(stuck.json()), ['order-2']);
      const notStuck = await h.api.inject({ url: '/api/instances?stuck=false&q=order' });
      assert.deepEqual(ids(notStuck.json()), ['order-1']);
      const everything = await h.api.inject({ url: '/api/instances?q=' });
      assert.equal(ids(everything.json()).length, 4, 'an empty q is no filter');
    });

    it('pages through a prefix search with links that keep the filter', async () => {
      for (let i = 0; i < 5; i++) await startViaApi(h, 'approval', { instanceId: `batch-${i}`, input: APPROVAL });
      await startViaApi(h, 'approval', { instanceId: 'other', input: APPROVAL });
      const seen: string[] = [];
      let url: string | undefined = '/api/instances?q=batch-&limit=2';
      while (url !== undefined) {
        const page: { json: () => { items: Item[]; links?: { next: string } } } = await h.api.inject({ url });
        const body = page.json();
        seen.push(...ids(body));
        url = body.links?.next;
      }
      assert.deepEqual(seen.sort(), ['batch-0', 'batch-1', 'batch-2', 'batch-3', 'batch-4']);
    });

    it('refuses a q over 200 characters or with spaces, and a stuck that is not true or false, with 400', async () => {
      for (const query of [`q=${'a'.repeat(201)}`, 'q=a%20b', 'stuck=maybe']) {
        await assertRejectedWithoutChange(h, { method: 'GET', url: `/api/instances?${query}` }, 400, 'VALIDATION');
      }
      const response = await h.api.inject({ url: '/api/instances?q=a%20b' });
      assert.match(response.json<{ message: string }>().message, /q/);
    });
  });

  describe('GET /api/instances/counts', () => {
    it('counts instances per status, every status present, with the stuck count and the total', async () => {
      await startViaApi(h, 'helloSequence', { instanceId: 'hello-1', input: ['Oslo'] });
      await startViaApi(h, 'approval', { instanceId: 'appr-1', input: APPROVAL });
      await startViaApi(h, 'approval', { instanceId: 'appr-2', input: APPROVAL });
      await h.env.waitForCompletion('hello-1');
      await h.env.settle();
      await makeStuck('appr-2');
      const response = await h.api.inject({ url: '/api/instances/counts' });
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(response.json(), {
        counts: {
          Pending: 0,
          Running: 2,
          Suspended: 0,
          Completed: 1,
          Failed: 0,
          Terminated: 0,
          ContinuedAsNew: 0,
        },
        stuck: 1,
        total: 3,
      });
      const byName = await h.api.inject({ url: '/api/instances/counts?name=approval&q=appr-' });
      assert.equal(byName.json<{ total: number }>().total, 2);
      const byTime = await h.api.inject({ url: '/api/instances/counts?createdFrom=2030-01-01T00:00:00Z' });
      assert.equal(byTime.json<{ total: number }>().total, 0);
    });

    it('is its own route, not the status of an instance named "counts"', async () => {
      await startViaApi(h, 'approval', { instanceId: 'counts', input: APPROVAL });
      const counts = await h.api.inject({ url: '/api/instances/counts' });
      assert.equal(counts.json<{ total: number }>().total, 1);
      assert.equal(counts.json<{ instanceId?: string }>().instanceId, undefined);
    });

    it('refuses filters it does not take and malformed ones with 400', async () => {
      for (const query of ['status=Running', 'createdFrom=yesterday', 'limit=2', `q=${'x'.repeat(201)}`]) {
        const response = await h.api.inject({ url: `/api/instances/counts?${query}` });
        assertProblem(response, 400, 'VALIDATION');
      }
    });
  });

  describe('POST /api/instances/:id/restart', () => {
    it('restarts a finished instance under its id with its input, as a new generation', async () => {
      await startViaApi(h, 'helloSequence', { instanceId: 'again', input: ['Rome'] });
      const first = await h.env.waitForCompletion('again');
      const response = await h.api.inject({ method: 'POST', url: '/api/instances/again/restart' });
      assert.equal(response.statusCode, 202, response.body);
      const body = response.json<{ instanceId: string; links: Record<string, string> }>();
      assert.equal(body.instanceId, 'again');
      assert.equal(body.links.self, '/api/instances/again');
      const second = await h.env.waitForCompletion('again');
      assert.equal(second.generation, first.generation + 1);
      assert.deepEqual(second.output, ['Hello Rome!']);
    });

    it('refuses to restart a live instance under its id (409) but starts a copy under a new id', async () => {
      await startViaApi(h, 'approval', { instanceId: 'live', input: APPROVAL });
      await h.env.settle();
      await assertRejectedWithoutChange(
        h,
        { method: 'POST', url: '/api/instances/live/restart', payload: {} },
        409,
        'INVALID_STATE',
      );
      const copy = await h.api.inject({
        method: 'POST',
        url: '/api/instances/live/restart',
        payload: { newInstanceId: true },
      });
      assert.equal(copy.statusCode, 202, copy.body);
      const { instanceId } = copy.json<{ instanceId: string }>();
      assert.notEqual(instanceId, 'live');
      const status = await h.env.client.getStatus(instanceId);
      assert.equal(status?.name, 'approval');
      assert.deepEqual(status?.input, APPROVAL);
    });

    it('answers 404 for an unknown instance, 400 for a bad body and 403 without the admin scope', async () => {
      await startViaApi(h, 'helloSequence', { instanceId: 'done', input: [] });
      await h.env.waitForCompletion('done');
      await assertRejectedWithoutChange(
        h,
        { method: 'POST', url: '/api/instances/nope/restart' },
        404,
        'INSTANCE_NOT_FOUND',
      );
      await assertRejectedWithoutChange(
        h,
        { method: 'POST', url: '/api/instances/done/restart', payload: { newInstanceId: 'yes' } },
        400,
        'VALIDATION',
      );
      await assertRejectedWithoutChange(
        h,
        { method: 'POST', url: '/api/instances/done/restart', payload: { newId: true } },
        400,
        'VALIDATION',
      );
      await assertRejectedWithoutChange(
        h,
        { method: 'POST', url: '/api/instances/done/restart', headers: { authorization: `Bearer ${WRITER}` } },
        403,
        'FORBIDDEN',
      );
    });
  });

  describe('GET /api/app', () => {
    it("serves the app's orchestrations with their events, activities and entities with their operations", async () => {
      const response = await h.api.inject({ url: '/api/app', headers: { authorization: `Bearer ${READER}` } });
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(response.json(), describeApp(exampleApp));
      const body = response.json<{ orchestrations: { name: string; events?: string[] }[] }>();
      assert.deepEqual(body.orchestrations.find((o) => o.name === 'approval')?.events, ['approval']);
    });

    it('answers 404 APP_UNKNOWN when the server was not given its app', async () => {
      const bare = createHttpApi(h.env.client);
      try {
        assertProblem(await bare.inject({ url: '/api/app' }), 404, 'APP_UNKNOWN');
      } finally {
        await bare.close();
      }
    });
  });

  describe('GET /api/openapi.json', () => {
    it('documents the new routes and parameters', async () => {
      const doc = (await h.api.inject({ url: '/openapi.json' })).json<{
        paths: Record<string, Record<string, { parameters?: { name: string }[]; 'x-scope'?: string }>>;
      }>();
      const names = (path: string, method: string): string[] =>
        (doc.paths[path]?.[method]?.parameters ?? []).map((p) => p.name);
      assert.ok(names('/api/instances', 'get').includes('q'));
      assert.ok(names('/api/instances', 'get').includes('stuck'));
      assert.deepEqual(names('/api/instances/counts', 'get').sort(), ['createdFrom', 'createdTo', 'name', 'q']);
      assert.equal(doc.paths['/api/instances/{id}/restart']?.['post']?.['x-scope'], 'admin');
      assert.equal(doc.paths['/api/app']?.['get']?.['x-scope'], 'read');
      assert.equal(doc.paths['/api/stream']?.['get']?.['x-scope'], 'read');
    });
  });

  describe('GET /api/instances/:id: waitingFor', () => {
    it('says what a running instance waits for, and nothing once it has finished', async () => {
      await startViaApi(h, 'approval', { instanceId: 'waits', input: APPROVAL });
      await h.env.settle();
      const running = (await h.api.inject({ url: '/api/instances/waits' })).json<Item>();
      assert.equal(running.status, 'Running');
      assert.equal(running.waitingFor?.length, 1);
      assert.match(running.waitingFor?.[0] ?? '', /^an event, or its timeout at 2026-01-02T00:00:00\.\d{3}Z \(in /);
      await startViaApi(h, 'helloSequence', { instanceId: 'finished', input: ['Oslo'] });
      await h.env.waitForCompletion('finished');
      const done = (await h.api.inject({ url: '/api/instances/finished' })).json<Item>();
      assert.equal(done.waitingFor, undefined);
    });
  });
});

describe('HTTP API: sub-orchestrations in status and history', () => {
  const app = defineApp({
    orchestrations: {
      async child(ctx, _n: number) {
        return ctx.waitForEvent<string>('go');
      },
      async parent(ctx, n: number) {
        return ctx.callSubOrchestration('child', n, { instanceId: 'kid' });
      },
    },
  });
  let env: TestEnvironment;
  afterEach(() => env.close());

  it("names a child's parent and what each waits for; the parent's history names the child", async () => {
    env = TestEnvironment.start(app);
    const api = createHttpApi(env.client);
    try {
      await env.client.start('parent', 3, { instanceId: 'mom' });
      await env.settle();
      const kid = (await api.inject({ url: '/api/instances/kid' })).json<Item>();
      assert.deepEqual(kid.parent, { instanceId: 'mom', name: 'parent' });
      assert.deepEqual(kid.waitingFor, ['an event (no activity, timer or entity call is open)']);
      const mom = (await api.inject({ url: '/api/instances/mom' })).json<Item>();
      assert.equal(mom.parent, undefined);
      assert.match(mom.waitingFor?.[0] ?? '', /^sub-orchestration child kid \(for /);
      const history = (await api.inject({ url: '/api/instances/mom/history' })).json<{
        events: { type: string; instanceId?: string; name?: string }[];
      }>();
      const created = history.events.find((e) => e.type === 'SubOrchestrationCreated');
      assert.deepEqual({ name: created?.name, instanceId: created?.instanceId }, { name: 'child', instanceId: 'kid' });
    } finally {
      await api.close();
    }
  });
});

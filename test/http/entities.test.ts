import assert from 'node:assert/strict';
import type { Harness } from './helpers.js';
import { assertProblem, assertRejectedWithoutChange, startHarness } from './helpers.js';

interface EntityBody {
  entityId: string;
  state: unknown;
  lastModified: string;
  links: { self: string; signal: string };
}

describe('HTTP API: entities', () => {
  let h: Harness;
  beforeEach(() => {
    h = startHarness();
  });
  afterEach(() => h.close());

  const signal = (path: string, payload?: unknown) => ({
    method: 'POST' as const,
    url: `/api/entities/${path}`,
    ...(payload !== undefined
      ? { payload: JSON.stringify(payload), headers: { 'content-type': 'application/json' } }
      : {}),
  });

  it('signals an operation (202) and the entity applies it', async () => {
    const response = await h.api.inject(signal('counter/home/add', { input: 5 }));
    assert.equal(response.statusCode, 202, response.body);
    assert.equal(response.json<{ entityId: string }>().entityId, 'counter@home');
    await h.env.settle();
    assert.equal((await h.env.client.readEntityState('counter@home'))?.state, 5);
  });

  it('delivers a signal with `at` only once the time comes', async () => {
    const at = new Date(h.env.clock.now() + 3_600_000).toISOString();
    const response = await h.api.inject(signal('counter/later/add', { input: 2, at }));
    assert.equal(response.statusCode, 202, response.body);
    assert.equal(response.json<{ at: string }>().at, at);
    await h.env.settle();
    assert.equal(await h.env.client.readEntityState('counter@later'), undefined);
    await h.env.advance(3_600_000);
    assert.equal((await h.env.client.readEntityState('counter@later'))?.state, 2);
  });

  it('applies a signal sent twice with the same signalId once', async () => {
    for (let i = 0; i < 2; i++) {
      const response = await h.api.inject(signal('counter/once/add', { input: 1, signalId: 'webhook-7' }));
      assert.equal(response.statusCode, 202);
    }
    await h.env.settle();
    assert.equal((await h.env.client.readEntityState('counter@once'))?.state, 1);
  });

  it('reads an entity with its state, last change and links, and answers 404 for one without state', async () => {
    await h.api.inject(signal('account/alice@example.com/deposit', { input: 100 }));
    await h.env.settle();
    const response = await h.api.inject({ method: 'GET', url: '/api/entities/account/alice@example.com' });
    assert.equal(response.statusCode, 200);
    const body = response.json<EntityBody>();
    assert.equal(body.entityId, 'account@alice@example.com');
    assert.equal(body.state, 100);
    assert.equal(body.lastModified, new Date(h.env.clock.now()).toISOString());
    assert.equal(body.links.self, '/api/entities/account/alice%40example.com');
    assertProblem(await h.api.inject({ method: 'GET', url: '/api/entities/account/bob' }), 404, 'ENTITY_NOT_FOUND');
  });

  it('lists entities, filtered by name and paged', async () => {
    for (const path of ['counter/a/add', 'counter/b/add', 'account/c/deposit']) {
      await h.api.inject(signal(path, { input: 1 }));
    }
    await h.env.settle();
    const all = await h.api.inject({ method: 'GET', url: '/api/entities' });
    assert.equal(all.statusCode, 200);
    const ids = (r: typeof all) =>
      r
        .json<{ items: EntityBody[] }>()
        .items.map((i) => i.entityId)
        .sort();
    assert.deepEqual(ids(all), ['account@c', 'counter@a', 'counter@b']);
    assert.deepEqual(ids(await h.api.inject({ method: 'GET', url: '/api/entities?name=counter' })), [
      'counter@a',
      'counter@b',
    ]);
    const first = await h.api.inject({ method: 'GET', url: '/api/entities?limit=2' });
    const page = first.json<{ items: EntityBody[]; links: { next: string } }>();
    assert.equal(page.items.length, 2);
    const rest = await h.api.inject({ method: 'GET', url: page.links.next });
    assert.equal(rest.json<{ items: EntityBody[] }>().items.length, 1);
  });

  it('refuses entity names the app does not register with 422, for signals and reads, changing nothing', async () => {
    await assertRejectedWithoutChange(h, signal('rocket/one/launch', { input: 1 }), 422, 'UNKNOWN_ENTITY');
    await assertRejectedWithoutChange(h, { method: 'GET', url: '/api/entities/rocket/one' }, 422, 'UNKNOWN_ENTITY');
  });

  it('refuses malformed signals with 400, changing nothing', async () => {
    const bad = [
      signal('counter/home/add', { input: 1, at: 'tomorrow' }),
      signal('counter/home/add', { input: 1, at: 12 }),
      signal('counter/home/add', { input: 1, signalId: 'a b' }),
      signal('counter/home/add', { input: 1, extra: 1 }),
      signal('counter/home/constructor', { input: 1 }),
      signal('counter/home/__proto__', { input: 1 }),
      signal('counter/home/a%00b', { input: 1 }),
      signal('count%20er/home/add', { input: 1 }),
      signal('counter/ho%2Fme/add', { input: 1 }),
      signal(`counter/${'k'.repeat(201)}/add`, { input: 1 }),
      signal('counter/home/add', [1]),
    ];
    for (const request of bad) await assertRejectedWithoutChange(h, request, 400, 'VALIDATION');
  });

  it('refuses bad list parameters with 400', async () => {
    for (const query of ['limit=0', 'limit=x', 'name=a%20b', 'cursor=!!', 'includeDeleted=true']) {
      assertProblem(await h.api.inject({ method: 'GET', url: `/api/entities?${query}` }), 400, 'VALIDATION');
    }
  });
});

import assert from 'node:assert/strict';
import { BeanstalkdTubes, encodeTubePart } from '../../src/backends/beanstalkd/beanstalkd-tubes.js';
import { loadConfig } from '../../src/config/config.js';
import { defineApp } from '../../src/engine/app.js';
import type { EntityContext } from '../../src/engine/entity.js';
import type { Message } from '../../src/engine/messages.js';
import { resolveServes } from '../../src/host/serves.js';

const app = defineApp({
  activities: {
    async charge(amount: number) {
      return amount;
    },
    async ship(order: string) {
      return order;
    },
  },
  orchestrations: {
    async order(ctx, amount: number) {
      return ctx.callActivity('charge', amount);
    },
  },
  entities: {
    counter: {
      initial: (): number => 0,
      add(ctx: EntityContext<number>, n: number): void {
        ctx.setState(ctx.state + n);
      },
    },
  },
});

const embedded = loadConfig({});
const byKind = loadConfig({ DURABLE_QUEUE_URL: 'beanstalkd://q:11300' });
const byFunction = loadConfig({ DURABLE_QUEUE_URL: 'beanstalkd://q:11300', DURABLE_TUBES: 'function' });

describe('what a worker serves', () => {
  it('serves everything by default, on every backend', () => {
    for (const config of [embedded, byKind]) {
      assert.deepEqual(resolveServes(app, config), {
        selection: { kinds: ['orchestrations', 'entities', 'activities'] },
        loops: { orchestrations: true, activities: true },
      });
    }
  });

  it('lists the app’s activities and entity types as tubes to watch with per-function routing', () => {
    assert.deepEqual(resolveServes(app, byFunction).selection, {
      kinds: ['orchestrations', 'entities', 'activities'],
      functions: { entities: ['counter'], activities: ['charge', 'ship'] },
    });
    assert.deepEqual(resolveServes(app, byFunction, { kinds: ['activities'], functions: ['ship'] }), {
      selection: { kinds: ['activities'], functions: { entities: [], activities: ['ship'] } },
      loops: { orchestrations: false, activities: true },
    });
  });

  it('runs the turn loop for a worker that serves entities only, on Beanstalkd', () => {
    assert.deepEqual(resolveServes(app, byKind, { kinds: ['entities'] }), {
      selection: { kinds: ['entities'] },
      loops: { orchestrations: true, activities: false },
    });
  });

  it('refuses orchestrations without entities on the embedded queue, where they share one queue', () => {
    assert.throws(() => resolveServes(app, embedded, { kinds: ['orchestrations', 'activities'] }), /DURABLE_QUEUE_URL/);
  });

  it('refuses functions without per-function tubes, and names the app does not have', () => {
    assert.throws(() => resolveServes(app, byKind, { functions: ['charge'] }), /DURABLE_TUBES=function/);
    assert.throws(
      () => resolveServes(app, byFunction, { functions: ['charge', 'refund'] }),
      /no activity or entity of the app: refund/,
    );
  });
});

describe('Beanstalkd tube routing', () => {
  const entityOp = (type: 'EntityOperation' | 'EntityUnlock', instanceId: string): Message =>
    ({ id: 'm', queue: 'orchestrations', instanceId, body: { type, sender: { id: 'client' } } }) as unknown as Message;
  const reply: Message = {
    id: 'r',
    queue: 'orchestrations',
    instanceId: 'order-1',
    body: { type: 'EntityResponse', generation: 0, seq: 1, result: 1 },
  };
  const work: Message = {
    id: 'a',
    queue: 'activities',
    instanceId: 'order-1',
    body: { type: 'ActivityRequest', name: 'charge', input: 1, generation: 0, seq: 1, attempt: 1, idempotencyKey: 'k' },
  };

  it('sends entity-bound messages to the entities tube and entity replies to the orchestrations tube', () => {
    const tubes = new BeanstalkdTubes('shop');
    assert.equal(tubes.tubeOf(entityOp('EntityOperation', 'counter@k1')), 'shop.entities');
    assert.equal(tubes.tubeOf(entityOp('EntityUnlock', 'counter@k1')), 'shop.entities');
    assert.equal(tubes.tubeOf(reply), 'shop.orchestrations');
    assert.equal(tubes.tubeOf(work), 'shop.activities');
  });

  it('names a tube per activity and entity type with per-function routing', () => {
    const tubes = new BeanstalkdTubes('shop', 'function');
    assert.equal(tubes.tubeOf(entityOp('EntityOperation', 'bank account@k@1')), 'shop.entities.bank$20account');
    assert.equal(tubes.tubeOf(work), 'shop.activities.charge');
    assert.deepEqual(tubes.watched('orchestrations', { functions: { entities: ['counter'] } }), [
      'shop.orchestrations',
      'shop.entities.counter',
    ]);
    assert.deepEqual(tubes.watched('activities', { kinds: ['orchestrations', 'entities'] }), []);
  });

  it('escapes every byte a tube name cannot hold, so distinct names never share a tube', () => {
    assert.equal(encodeTubePart('charge-card_v2.(eu)'), 'charge-card_v2.(eu)');
    assert.equal(encodeTubePart('a$b'), 'a$24b');
    assert.equal(encodeTubePart('a b'), 'a$20b');
    assert.notEqual(encodeTubePart('a$20b'), encodeTubePart('a b'));
    assert.equal(encodeTubePart('é'), '$c3$a9');
    assert.throws(
      () =>
        new BeanstalkdTubes('shop', 'function').tubeOf({
          ...work,
          body: { ...work.body, name: 'x'.repeat(200) },
        }),
      /200 bytes/,
    );
  });
});

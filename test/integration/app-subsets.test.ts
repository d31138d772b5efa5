import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/config.js';
import { defineApp } from '../../src/engine/app.js';
import type { EntityContext } from '../../src/engine/entity.js';
import { startHost } from '../../src/host/host.js';
import { loadApp } from '../../src/host/load-app.js';

const counter = {
  initial: () => 0,
  add: (ctx: EntityContext<number>, n: number) => ctx.setState(ctx.state + n),
  get: (ctx: EntityContext<number>) => ctx.state,
};

describe('apps with only some of orchestrations, activities and entities', () => {
  it('defines an app with entities only, the missing parts empty', () => {
    const app = defineApp({ entities: { counter } });
    assert.deepEqual(app.orchestrations, {});
    assert.deepEqual(app.activities, {});
    assert.deepEqual(Object.keys(app.entities), ['counter']);
  });

  it('starts a host for an entities-only app and runs its entity', async () => {
    const host = await startHost({
      app: defineApp({ entities: { counter } }),
      config: loadConfig({ DURABLE_BACKEND: 'memory' }),
    });
    try {
      await host.client.signalEntity('counter@a', 'add', 2);
      let state: unknown;
      for (let i = 0; i < 200 && state !== 2; i++) {
        state = (await host.client.readEntityState('counter@a'))?.state;
        if (state !== 2) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(state, 2);
    } finally {
      await host.stop();
    }
  });

  it('loads an app module that exports entities and no orchestrations', async () => {
    const app = await loadApp(fileURLToPath(new URL('../fixtures/entities-only-app.ts', import.meta.url)));
    assert.deepEqual(app.orchestrations, {});
    assert.deepEqual(Object.keys(app.entities), ['counter']);
  });

  it('still refuses a module that exports none of the three', async () => {
    await assert.rejects(loadApp(fileURLToPath(new URL('../fixtures/beanstalkd-server.ts', import.meta.url))), {
      code: 'BAD_APP',
    });
  });
});

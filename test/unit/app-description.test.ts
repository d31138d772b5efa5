import assert from 'node:assert/strict';
import { defineApp, Entity } from '../../src/index.js';
import type { EntityContext } from '../../src/index.js';
import type { EntityDefinition } from '../../src/engine/entity.js';
import { describeApp } from '../../src/http/app-description.js';
import { resolveOperation } from '../../src/engine/entity.js';

class Base extends Entity<number> {
  add(n: number): void {
    this.state += n;
  }
  protected _hidden(): void {}
}
class Tally extends Base {
  get total(): number {
    return this.state;
  }
  reset(): void {
    this.state = 0;
  }
}

describe('what the API says an app registers', () => {
  const counter = {
    initial: (): number => 0,
    add: (ctx: EntityContext<number>, n: number) => ctx.setState(ctx.state + n),
    get: (ctx: EntityContext<number>) => ctx.state,
  };
  // A stray non-function field, as plain JavaScript could declare: not an operation.
  Object.assign(counter, { label: 'not an operation' });
  const app = defineApp({
    orchestrations: { async b() {}, async a() {} },
    activities: { async z() {}, async y() {} },
    entities: { tally: Tally, counter },
    events: { b: ['approved'] },
  });

  it('lists names sorted, events where declared, and exactly the operations an entity runs', () => {
    const described = describeApp(app);
    assert.deepEqual(described, {
      orchestrations: [{ name: 'a' }, { name: 'b', events: ['approved'] }],
      activities: ['y', 'z'],
      entities: [
        { name: 'counter', operations: ['add', 'get'] },
        { name: 'tally', operations: ['add', 'reset'] },
      ],
    });
    const definitions: Record<string, EntityDefinition> = app.entities;
    for (const { name, operations } of described.entities) {
      const definition = definitions[name];
      assert.ok(definition, name);
      for (const operation of operations) assert.ok(resolveOperation(definition, operation), operation);
      for (const refused of ['initial', 'constructor', '_hidden', 'total', 'label', 'toString']) {
        assert.equal(resolveOperation(definition, refused), undefined, `${name}.${refused}`);
      }
    }
  });
});

import assert from 'node:assert/strict';
import { SerializationError } from '../../src/engine/errors.js';
import { findNonJson, requireJson } from '../../src/engine/json-value.js';

describe('JSON value checker', () => {
  it('accepts what JSON carries, including undefined, non-finite numbers, dates and shared objects', () => {
    const shared = { a: 1 };
    const values: unknown[] = [
      null,
      undefined,
      0,
      'text',
      true,
      [1, 'two', null, undefined],
      { nested: { deep: [{ x: 1 }] }, missing: undefined },
      { nan: NaN, inf: Infinity },
      new Date(0),
      { left: shared, right: shared },
      new Map([['k', 1]]),
    ];
    for (const value of values) assert.equal(findNonJson(value, 'value'), undefined, String(value));
  });

  it('names the path of a BigInt', () => {
    const output = { items: [{ total: 1 }, { total: 2 }, { total: 3 }, { total: 10n }] };
    assert.equal(findNonJson(output, 'output'), 'output.items[3].total is a BigInt');
    assert.equal(findNonJson(10n, 'output'), 'output is a BigInt');
  });

  it('names the path of a symbol and of a function, in objects and in arrays', () => {
    assert.equal(findNonJson({ tag: Symbol('x') }, 'input'), 'input.tag is a Symbol');
    assert.equal(findNonJson([1, () => 2], 'input'), 'input[1] is a function');
  });

  it('quotes keys that are not identifiers', () => {
    assert.equal(findNonJson({ 'line items': { 'a-b': 1n } }, 'output'), 'output["line items"]["a-b"] is a BigInt');
  });

  it('reports a cycle and where it points back to', () => {
    const a: Record<string, unknown> = { name: 'a' };
    const b = { name: 'b', back: a };
    a.child = b;
    assert.equal(
      findNonJson({ root: a }, 'result'),
      'result.root.child.back is a cycle (it refers back to result.root)',
    );
  });

  it('checks what toJSON returns, and reports a toJSON or a getter that throws', () => {
    assert.equal(findNonJson({ when: { toJSON: () => 5n } }, 'output'), 'output.when is a BigInt');
    const broken = {
      get value(): number {
        throw new Error('no value');
      },
    };
    assert.equal(findNonJson({ broken }, 'output'), 'output.broken.value cannot be read (no value)');
  });

  it('throws a SerializationError with code VALIDATION and the path', () => {
    assert.throws(
      () => requireJson({ n: 1n }, 'input', "The input of callActivity('x')"),
      (error: unknown) =>
        error instanceof SerializationError &&
        error.code === 'VALIDATION' &&
        error.name === 'SerializationError' &&
        error.message === "The input of callActivity('x') cannot be serialised as JSON: input.n is a BigInt." &&
        error.details?.path === 'input.n is a BigInt',
    );
  });
});

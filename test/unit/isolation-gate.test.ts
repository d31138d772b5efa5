import assert from 'node:assert/strict';
import type { Delivery } from '../../src/backends/queue.js';
import { IsolationGate } from '../../src/runtime/isolation-gate.js';

function delivery(id: string, attempt: number): Delivery {
  return {
    message: { id, queue: 'orchestrations', instanceId: id, body: { type: 'x' } } as unknown as Delivery['message'],
    receipt: id,
    attempt,
  };
}

/** A promise and the function that resolves it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('the isolation gate of redelivered messages', () => {
  it('keeps first deliveries and those due for the dead letters ordinary, and claims one redelivered message', () => {
    const gate = new IsolationGate();
    const sorted = gate.sort([delivery('a', 1), delivery('b', 2), delivery('c', 11), delivery('d', 3)], 10);
    assert.deepEqual(
      sorted.ordinary.map((d) => d.receipt),
      ['a', 'c'],
    );
    assert.equal(sorted.isolated?.receipt, 'b');
    assert.deepEqual(
      sorted.giveBack.map((d) => d.receipt),
      ['d'],
    );
    assert.equal(gate.closed, true);
  });

  it('gives every redelivered message back while another one is claimed', () => {
    const gate = new IsolationGate();
    gate.sort([delivery('a', 2)], 10);
    const second = gate.sort([delivery('b', 2), delivery('c', 1)], 10);
    assert.equal(second.isolated, undefined);
    assert.deepEqual(
      second.giveBack.map((d) => d.receipt),
      ['b'],
    );
  });

  it('runs a claimed message only once ordinary work has finished, and ordinary work received meanwhile after it', async () => {
    const gate = new IsolationGate();
    const order: string[] = [];
    const slow = deferred();
    const running = gate.ordinary(async () => {
      await slow.promise;
      order.push('ordinary');
    });
    const { isolated } = gate.sort([delivery('r', 2)], 10);
    assert.ok(isolated);
    const alone = deferred();
    const isolatedRun = gate.isolated(async () => {
      order.push('isolated started');
      await alone.promise;
      order.push('isolated ended');
    }, 10_000);
    let opened = false;
    const opening = gate.opened().then(() => (opened = true));
    await tick();
    assert.equal(order.join(', '), '', 'the isolated run waits for running ordinary work');
    slow.resolve();
    await running;
    await tick();
    assert.equal(order.join(', '), 'ordinary, isolated started');
    const late = gate.ordinary(async () => {
      order.push('late ordinary');
    });
    await tick();
    assert.equal(opened, false, 'loops receive nothing while the message is claimed');
    assert.equal(order.join(', '), 'ordinary, isolated started', 'ordinary work received meanwhile waits');
    alone.resolve();
    await Promise.all([isolatedRun, late, opening]);
    assert.equal(order.join(', '), 'ordinary, isolated started, isolated ended, late ordinary');
    assert.equal(gate.closed, false);
  });

  it('gives the claim up when the isolated run throws', async () => {
    const gate = new IsolationGate();
    gate.sort([delivery('r', 2)], 10);
    await assert.rejects(
      gate.isolated(() => Promise.reject(new Error('boom')), 10_000),
      /boom/,
    );
    assert.equal(gate.closed, false);
    assert.equal(gate.sort([delivery('s', 2)], 10).isolated?.receipt, 's');
  });

  it('runs beside hung ordinary work after the bound, and reopens the gate when the isolated run hangs too', async () => {
    const gate = new IsolationGate();
    const never = new Promise<void>(() => undefined);
    void gate.ordinary(() => never);
    gate.sort([delivery('r', 2)], 10);
    let started = false;
    void gate.isolated(async () => {
      started = true;
      await never;
    }, 30);
    await tick();
    assert.equal(started, false);
    await gate.opened(); // the bound passes twice: once waiting, once running alone
    assert.equal(started, true);
    assert.equal(gate.closed, false);
    let ran = false;
    await gate.ordinary(async () => {
      ran = true;
    });
    assert.equal(ran, true, 'ordinary work runs again');
  });
});

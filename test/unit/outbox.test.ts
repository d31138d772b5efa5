import assert from 'node:assert/strict';
import type { InstanceRecord } from '../../src/backends/store.js';
import { outboxMayBeUnsent, SENT_WITH_COMMIT, toResend } from '../../src/runtime/outbox.js';

function record(
  lockEpoch: string | undefined,
  outbox: InstanceRecord['outbox'] = [activityRequest(0)],
): InstanceRecord {
  return {
    instanceId: 'i',
    version: 3,
    name: 'n',
    generation: 0,
    status: 'Running',
    createdAt: 0,
    updatedAt: 0,
    historyLength: 2,
    tail: { instanceId: 'i', generation: 0, fromIndex: 0, events: [] },
    outbox,
    ...(lockEpoch !== undefined ? { lockEpoch } : {}),
  };
}

function activityRequest(seq: number): InstanceRecord['outbox'][number] {
  return {
    id: `i/0/activity/${seq}`,
    queue: 'activities',
    instanceId: 'i',
    body: {
      type: 'ActivityRequest',
      name: 'a',
      input: seq,
      generation: 0,
      seq,
      attempt: 1,
      idempotencyKey: `i/0/${seq}`,
    },
  };
}

describe('outbox recovery: when the next owner sends an outbox again', () => {
  it('trusts a clean release in the epoch the record was committed under, and nothing else', () => {
    assert.equal(outboxMayBeUnsent(record('sqlite'), 'clean', 'sqlite'), false);
    assert.equal(outboxMayBeUnsent(record('sqlite'), 'taken-over', 'sqlite'), true, 'its holder never released it');
    assert.equal(outboxMayBeUnsent(record('memory:a'), 'clean', 'memory:b'), true, 'another process held it');
    assert.equal(outboxMayBeUnsent(record(undefined), 'clean', 'sqlite'), true, 'committed before epochs existed');
  });

  it('never sends again an outbox committed with its sends in one transaction, nor an empty one', () => {
    assert.equal(outboxMayBeUnsent(record(SENT_WITH_COMMIT), 'taken-over', 'memory:b'), false);
    assert.equal(outboxMayBeUnsent(record('sqlite', []), 'taken-over', 'sqlite'), false);
    assert.equal(outboxMayBeUnsent(undefined, 'taken-over', 'sqlite'), false);
  });

  it('leaves out the messages whose answer is arriving in the same batch', () => {
    const r = record('x', [activityRequest(0), activityRequest(1)]);
    const answer = { ...activityRequest(1), id: 'i/0/activity-result/1' };
    assert.deepEqual(
      toResend(r, [answer]).map((m) => m.id),
      ['i/0/activity/0'],
    );
  });
});

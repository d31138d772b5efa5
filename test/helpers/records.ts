/**
 * A freshly created instance record (version 1, Running, no history), for tests that write records straight to a
 * store. `fields` overrides any field.
 * @example
 * await store.compareAndSet(runningRecord('order-1', { name: 'checkout' }), 0);
 */
import type { InstanceRecord } from '../../src/backends/store.js';

export function runningRecord(instanceId: string, fields: Partial<InstanceRecord> = {}): InstanceRecord {
  const now = Date.now();
  return {
    instanceId,
    version: 1,
    name: 'job',
    generation: 0,
    status: 'Running',
    createdAt: now,
    updatedAt: now,
    historyLength: 0,
    tail: { instanceId, generation: 0, fromIndex: 0, events: [] },
    outbox: [],
    ...fields,
  };
}

/** Dead letters for tests that drive a running `durable dev`. */
import assert from 'node:assert/strict';
import { SystemClock } from '../../src/backends/clock.js';
import { SqliteDatabase } from '../../src/backends/sqlite/sqlite-database.js';
import { SqliteQueue } from '../../src/backends/sqlite/sqlite-queue.js';
import type { OrchestrationMessage } from '../../src/engine/messages.js';

/**
 * Parks an approval event for `instanceId` as a dead letter in the SQLite file of a running `durable dev`, the way its
 * worker parks a poison message (received, then dead-lettered), without that worker ever seeing it: the send, the
 * receive and the dead-lettering happen inside one write transaction held here (the adapters' own transactions nest
 * as savepoints), and the event's priority puts it ahead of anything else ready. Returns the message id.
 */
export async function parkApproval(file: string, instanceId: string, by: string): Promise<string> {
  const database = SqliteDatabase.open({ path: file, durability: 'normal' });
  const queue = new SqliteQueue({ database, clock: new SystemClock() });
  const message: OrchestrationMessage = {
    id: `${instanceId}/event/parked-${by}`,
    queue: 'orchestrations',
    instanceId,
    body: { type: 'EventRaised', name: 'approval', input: { approved: true, by } },
    priority: -1,
  };
  database.connection.exec('BEGIN IMMEDIATE');
  try {
    await queue.send([message]);
    const [delivery] = await queue.receive('orchestrations', 1, { visibilityTimeoutMs: 60_000 });
    assert.equal(delivery?.message.id, message.id);
    await queue.deadLetter(delivery, 'parked by the test');
    database.connection.exec('COMMIT');
  } finally {
    if (database.connection.inTransaction) database.connection.exec('ROLLBACK');
    await queue.close();
    database.close();
  }
  return message.id;
}

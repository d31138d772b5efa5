/**
 * The SQLite queue against the reference: the same pseudo-random sequence of sends (delayed, prioritised),
 * receives (short visibility timeouts, so reservations expire), acks, releases, dead letters, settles and clock
 * moves is run on a MemoryQueue and a SqliteQueue, and after every step they must agree on what was delivered
 * (message and attempt), on depth, on nextVisibleAt and on the dead letters.
 *
 * One documented divergence is kept out of the comparison: the memory queue applies expiry only when it looks
 * at a queue, so a release on a reservation that expired unobserved keeps its attempt there, while the SQLite
 * queue counts that expiry (attempt depends on time only). The test looks at the memory queue before every step.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/backends/clock.js';
import { MemoryQueue } from '../../src/backends/memory/memory-queue.js';
import type { Delivery } from '../../src/backends/queue.js';
import { SqliteQueue } from '../../src/backends/sqlite/sqlite-queue.js';
import type { Message, QueueName } from '../../src/engine/messages.js';
import { tempDatabaseFile } from '../fixtures/sqlite-files.js';

const QUEUES: readonly QueueName[] = ['orchestrations', 'activities'];

/** A small deterministic generator (LCG), so a failure names a seed that reproduces it. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

describe('SqliteQueue compared with MemoryQueue', function () {
  this.timeout(30_000);

  for (const seed of [1, 2, 3, 4]) {
    it(`agrees with the memory queue on 300 random operations (seed ${seed})`, async () => {
      const next = random(seed);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
      const file = await tempDatabaseFile();
      const memoryClock = new ManualClock(0);
      const sqliteClock = new ManualClock(0);
      const memory = new MemoryQueue({ clock: memoryClock });
      const sqlite = new SqliteQueue({ database: { path: file.path, durability: 'normal' }, clock: sqliteClock });
      const held: [Delivery, Delivery][] = [];
      let sent = 0;
      try {
        for (let step = 0; step < 300; step++) {
          const queue = pick(QUEUES);
          await memory.depth(queue); // applies time to the memory queue (see the note above)
          const op = next();
          if (op < 0.25) {
            const messages = Array.from({ length: 1 + Math.floor(next() * 3) }, (): Message => {
              const deliverAt = next() < 0.3 ? memoryClock.now() + Math.floor(next() * 50) : undefined;
              const priority = next() < 0.5 ? pick([0, 10, 100, 5.5]) : undefined;
              // The body does not matter to the queue; one shape serves both queues.
              const message = { id: `m${sent++}`, queue, instanceId: 'i', body: { type: 'Resume' } };
              return {
                ...message,
                ...(deliverAt !== undefined ? { deliverAt } : {}),
                ...(priority !== undefined ? { priority } : {}),
              } as Message;
            });
            await memory.send(messages);
            await sqlite.send(messages);
          } else if (op < 0.5) {
            const max = 1 + Math.floor(next() * 3);
            const visibilityTimeoutMs = Math.floor(next() * 40);
            const fromMemory = await memory.receive(queue, max, { visibilityTimeoutMs });
            const fromSqlite = await sqlite.receive(queue, max, { visibilityTimeoutMs });
            const view = (ds: Delivery[]): unknown[] => ds.map((d) => [d.message, d.attempt]);
            assert.deepEqual(view(fromSqlite), view(fromMemory), `receive at step ${step}`);
            fromMemory.forEach((d, i) => held.push([d, fromSqlite[i] as Delivery]));
          } else if (op < 0.75 && held.length > 0) {
            const [m, s] = held.splice(Math.floor(next() * held.length), 1)[0] as [Delivery, Delivery];
            const kind = next();
            if (kind < 0.4) {
              await memory.ack(m);
              await sqlite.ack(s);
            } else if (kind < 0.8) {
              const delay = Math.floor(next() * 30);
              await memory.release(m, delay);
              await sqlite.release(s, delay);
            } else {
              await memory.deadLetter(m, `reason ${step}`);
              await sqlite.deadLetter(s, `reason ${step}`);
            }
          } else if (op < 0.8 && held.length > 1) {
            const [[ackM, ackS], [relM, relS]] = held.splice(0, 2) as [[Delivery, Delivery], [Delivery, Delivery]];
            await memory.settle({ ack: [ackM], release: [{ delivery: relM, delayMs: 7 }] });
            await sqlite.settle({ ack: [ackS], release: [{ delivery: relS, delayMs: 7 }] });
          } else {
            const ms = Math.floor(next() * 20);
            memoryClock.advance(ms);
            sqliteClock.advance(ms);
          }
          for (const name of QUEUES) {
            assert.deepEqual(await sqlite.depth(name), await memory.depth(name), `depth at step ${step}`);
            assert.equal(await sqlite.nextVisibleAt(name), await memory.nextVisibleAt(name), `next at step ${step}`);
            assert.deepEqual(await sqlite.deadLetters(name), await memory.deadLetters(name), `dead at step ${step}`);
          }
        }
      } finally {
        await memory.close();
        await sqlite.close();
        await file.cleanup();
      }
    });
  }
});

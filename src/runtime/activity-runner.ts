/**
 * Runs one activity delivery: call the registered function, send its result (or failure) to the orchestration,
 * then acknowledge. Activities are at least once: a worker that dies mid-activity never acknowledges, the
 * reservation expires and another worker runs it again with the same idempotency key.
 *
 * The reservation is a lease, renewed while the activity runs (lease-keeper.ts).
 */
import type { App } from '../engine/app.js';
import type { FailureDetails } from '../engine/errors.js';
import { toFailureDetails } from '../engine/errors.js';
import { requireJson } from '../engine/json-value.js';
import type { ActivityMessage, Message, OrchestrationMessage } from '../engine/messages.js';
import { messageId, PRIORITY } from '../engine/messages.js';
import type { Delivery, Queue } from '../backends/queue.js';
import { LOG_EVENTS } from '../observability/log-events.js';
import type { Logger } from '../observability/logger.js';
import type { LeaseKeeper } from './lease-keeper.js';

export interface ActivityDeps {
  readonly app: App;
  readonly queue: Queue;
  /** Keeps the reservation of the running activity alive (see lease-keeper.ts). */
  readonly leases: LeaseKeeper;
  readonly logger: Logger;
  /** A request delivered more often than this (its runs keep crashing or timing out) fails the call for good. */
  readonly maxDeliveries: number;
  /** Sends the result, then acknowledges the request (the worker batches these). */
  readonly complete: (reply: Message, delivery: Delivery) => Promise<void>;
}

export async function runActivity(deps: ActivityDeps, delivery: Delivery): Promise<void> {
  const message = delivery.message as ActivityMessage;
  const request = message.body;
  const log = { instanceId: message.instanceId, activity: request.name, seq: request.seq, attempt: request.attempt };

  if (delivery.attempt > deps.maxDeliveries) {
    const reason = `Delivered ${delivery.attempt} times without finishing (the worker crashed or timed out each time).`;
    deps.logger.error({ event: LOG_EVENTS.deadLettered, ...log, messageId: message.id, reason });
    // Tell the orchestration first, then park the message: the instance shows why, instead of waiting forever.
    await deps.queue.send([
      reply(message, { name: 'PoisonMessage', message: reason, code: 'POISON_MESSAGE', nonRetryable: true }),
    ]);
    await deps.queue.deadLetter(delivery, reason);
    return;
  }

  const release = deps.leases.hold(delivery);
  try {
    await execute(deps, delivery, log);
  } finally {
    release();
  }
}

async function execute(deps: ActivityDeps, delivery: Delivery, log: Record<string, unknown>): Promise<void> {
  const message = delivery.message as ActivityMessage;
  const request = message.body;
  const fn = deps.app.activities[request.name];
  let outcome: { ok: true; result: unknown } | { ok: false; failure: FailureDetails };
  if (!fn) {
    outcome = {
      ok: false,
      failure: {
        name: 'UnknownActivityError',
        code: 'UNKNOWN_ACTIVITY',
        message: `No activity named '${request.name}' is registered on this worker.`,
        nonRetryable: true,
      },
    };
  } else {
    try {
      const result: unknown = await fn(request.input, {
        instanceId: message.instanceId,
        name: request.name,
        attempt: request.attempt,
        idempotencyKey: request.idempotencyKey,
      });
      outcome = { ok: true, result };
    } catch (error) {
      outcome = { ok: false, failure: toFailureDetails(error) };
    }
    if (outcome.ok) {
      // A result JSON cannot carry would make the reply's send throw, for every reply sent with it, run after run
      // until the request is dead-lettered. Running again cannot change it: it fails the call, once.
      try {
        requireJson(outcome.result, 'result', `The result of activity '${request.name}'`);
      } catch (error) {
        outcome = { ok: false, failure: { ...toFailureDetails(error), nonRetryable: true } };
      }
    }
  }
  if (outcome.ok) deps.logger.debug({ event: LOG_EVENTS.activityCompleted, ...log });
  else deps.logger.warn({ event: LOG_EVENTS.activityFailed, ...log, error: outcome.failure.message });
  await deps.complete(
    outcome.ok ? reply(message, undefined, outcome.result) : reply(message, outcome.failure),
    delivery,
  );
}

function reply(request: ActivityMessage, failure: FailureDetails | undefined, result?: unknown): OrchestrationMessage {
  const { generation, seq } = request.body;
  return {
    id: messageId(request.instanceId, generation, 'activity-result', seq),
    queue: 'orchestrations',
    instanceId: request.instanceId,
    // Back to the creation of the instance that asked: a purged and re-created id drops it.
    ...(request.incarnation ? { incarnation: request.incarnation } : {}),
    body: failure
      ? { type: 'TaskFailed', generation, seq, failure }
      : { type: 'TaskCompleted', generation, seq, result },
    priority: PRIORITY.reply,
  };
}

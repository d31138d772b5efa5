/**
 * Outbox recovery. A turn commits its record (with the messages it produced, the outbox) and only then sends
 * those messages. A worker that dies in between leaves an outbox nobody sent; a worker that lives has sent it.
 * The next worker to take the instance must tell the two apart: re-sending a sent outbox runs every activity
 * of a fan-out twice, and not re-sending an unsent one loses them.
 *
 * The evidence is the instance lock. A worker releases an instance's lock only after everything it committed
 * under it has been sent (a batch that fails leaves its locks to expire). So a `'clean'` acquire, in the epoch
 * the record was committed under, proves the outbox was sent; a `'taken-over'` acquire (or another epoch: an
 * in-process lock forgets everything when its process dies) means it may not have been, and it is sent again.
 * Receivers drop the repeats by message id.
 */
import type { Message } from '../engine/messages.js';
import { messageId } from '../engine/messages.js';
import type { LockAcquisition } from '../backends/lock.js';
import type { InstanceRecord } from '../backends/store.js';

/**
 * The `lockEpoch` of a record committed by group commit (SQLite): its outbox was sent in the commit's own
 * transaction, so it is never unsent, whatever happened to the lock (a restarted `durable dev` would otherwise send
 * every in-flight outbox again once, as its in-process lock is new).
 */
export const SENT_WITH_COMMIT = 'sent-with-commit';

/** Whether `record`'s outbox may never have been sent, judged from how its lock was acquired. */
export function outboxMayBeUnsent(
  record: InstanceRecord | undefined,
  acquisition: Exclude<LockAcquisition, false>,
  epoch: string,
): boolean {
  if (!record || record.outbox.length === 0 || record.lockEpoch === SENT_WITH_COMMIT) return false;
  return acquisition === 'taken-over' || record.lockEpoch !== epoch;
}

/**
 * The outbox messages to send again: all of them except those whose answer is in `arriving` (they obviously
 * arrived; sending them again would only run them twice).
 */
export function toResend(record: InstanceRecord, arriving: readonly Message[]): Message[] {
  const answered = new Set(arriving.map((m) => m.id));
  return record.outbox.filter((m) => !answered.has(answerId(m)));
}

/** The id of the message that answers `message` (a timer, or a message nobody answers, is its own answer). */
function answerId(message: Message): string {
  const body = message.body;
  switch (body.type) {
    case 'ActivityRequest':
      return messageId(message.instanceId, body.generation, 'activity-result', body.seq);
    case 'EntityOperation':
      return body.replyTo
        ? messageId(body.replyTo.instanceId, body.replyTo.generation, 'entity-result', body.replyTo.seq)
        : message.id;
    case 'EntityLock':
      return messageId(body.holder.instanceId, body.holder.generation, 'entity-result', body.holder.seq);
    case 'ExecutionStarted':
      return body.parent
        ? messageId(body.parent.instanceId, body.parent.generation, 'sub-result', body.parent.seq)
        : message.id;
    default:
      return message.id;
  }
}

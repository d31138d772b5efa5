/**
 * Group commit. A worker plans the turns of every instance in a batch, then commits them together:
 *   1. one `commitMany` (each turn its own archive + compare-and-set, decided independently);
 *   2. one `send` of every committed turn's outbox;
 *   3. one `settle` acknowledging what the committed turns consumed and releasing the rest.
 * A message is acknowledged only after the commit that consumed it, so group commit gives up no durability;
 * with SQLite it turns a hundred fsyncs into three.
 */
import type { Message } from '../engine/messages.js';
import type { Delivery, Queue, Release } from '../backends/queue.js';
import type { GroupCommit, QueueWrites } from '../backends/group-commit.js';
import type { CasResult, Store, TurnCommit } from '../backends/store.js';

export interface TurnPlan {
  readonly instanceId: string;
  /** The state change to commit; absent when the turn changes nothing (duplicates, early messages). */
  readonly commit?: TurnCommit;
  /** Sent after a successful commit (or at once when there is nothing to commit). */
  readonly messages: readonly Message[];
  readonly ack: readonly Delivery[];
  readonly release: readonly Release[];
  /** Every delivery of the turn: released at once if the commit loses a version race. */
  readonly deliveries: readonly Delivery[];
  /** Told whether the commit won (cache the executor) or lost (forget it). */
  readonly settled?: (committed: boolean) => void;
  /** Best-effort work after everything is sent and acknowledged. */
  readonly cleanup?: () => Promise<void>;
}

export interface PlanResult {
  readonly committed: number;
  readonly conflicts: string[];
}

/**
 * Commits, sends and settles a batch of planned turns: with `groupCommit`, all in one atomic write; otherwise in
 * three (commitMany, send, settle).
 */
export async function commitPlans(
  store: Store,
  queue: Queue,
  plans: readonly TurnPlan[],
  groupCommit?: GroupCommit,
): Promise<PlanResult> {
  const writing = plans.filter((p) => p.commit !== undefined);
  const commits = writing.map((p) => p.commit as TurnCommit);
  const won = new Set<TurnPlan>();
  const conflicts: string[] = [];
  const decide = (results: readonly CasResult[]): QueueWrites => {
    writing.forEach((plan, i) => {
      if (results[i]?.ok) won.add(plan);
      else conflicts.push(plan.instanceId);
    });
    return queueWrites(plans, won);
  };
  if (groupCommit) {
    await groupCommit.commit(commits, decide);
  } else {
    const writes = decide(commits.length > 0 ? await store.commitMany(commits) : []);
    if (writes.send.length > 0) await queue.send(writes.send);
    if (writes.ack.length > 0 || writes.release.length > 0) await queue.settle(writes);
  }
  for (const plan of plans) plan.settled?.(plan.commit === undefined || won.has(plan));
  for (const plan of plans) {
    if (plan.cleanup && (plan.commit === undefined || won.has(plan))) await plan.cleanup();
  }
  return { committed: won.size, conflicts };
}

function queueWrites(plans: readonly TurnPlan[], won: ReadonlySet<TurnPlan>): QueueWrites {
  const send: Message[] = [];
  const ack: Delivery[] = [];
  const release: Release[] = [];
  for (const plan of plans) {
    if (plan.commit === undefined || won.has(plan)) {
      send.push(...plan.messages);
      ack.push(...plan.ack);
      release.push(...plan.release);
    } else {
      // Someone committed first (a worker whose lock we took over, a client start): our turn never happened.
      release.push(...plan.deliveries.map((delivery) => ({ delivery, delayMs: 0 })));
    }
  }
  return { send, ack, release };
}

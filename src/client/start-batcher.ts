/**
 * Group commit for `client.start`: starts requested in the same tick are created with one `getMany`, one
 * `commitMany` and one `send`, instead of a compare-and-set and a send each. Each start still succeeds or fails
 * on its own (a taken id fails only its own start).
 */
import { randomUUID } from 'node:crypto';
import { ValidationError } from '../engine/errors.js';
import type { OrchestrationMessage } from '../engine/messages.js';
import type { RuntimeStatus } from '../engine/status.js';
import { isTerminal } from '../engine/status.js';
import type { Clock } from '../backends/clock.js';
import type { Queue } from '../backends/queue.js';
import type { InstanceRecord, Store, TurnCommit } from '../backends/store.js';
import { pendingStartMessage } from '../backends/store.js';

export type ReusePolicy = 'allow-terminal' | 'allow-failed' | 'reject';

export interface StartRequest {
  readonly instanceId: string;
  readonly name: string;
  readonly input: unknown;
  readonly reuse: ReusePolicy;
}

interface Pending extends StartRequest {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class StartBatcher {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(
    private readonly store: Store,
    private readonly queue: Queue,
    private readonly clock: Clock,
  ) {}

  submit(request: StartRequest): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ ...request, resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    // Two starts of one id in one batch would race each other: the later one waits for the next batch.
    const batch: Pending[] = [];
    const later: Pending[] = [];
    const ids = new Set<string>();
    for (const p of this.pending.splice(0)) {
      (ids.has(p.instanceId) ? later : batch).push(p);
      ids.add(p.instanceId);
    }
    if (later.length > 0) {
      this.pending.push(...later);
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
    try {
      const existing = await this.store.getMany(batch.map((p) => p.instanceId)); // unique within a batch
      const commits: Array<{ request: Pending; commit: TurnCommit; message: OrchestrationMessage }> = [];
      const resends: Array<{ request: Pending; message: OrchestrationMessage }> = [];
      const now = this.clock.now();
      for (const request of batch) {
        const current = existing.get(request.instanceId);
        if (current && isRetryOfPendingStart(current, request)) {
          // The same start again, before a worker took it (the first caller may have died before sending it):
          // send the start message again. Same deterministic id, so a second copy is dropped.
          resends.push({
            request,
            message: pendingStartMessage(current),
          });
        } else if (current && !mayReuse(current.status, request.reuse)) {
          request.reject(
            new ValidationError(
              `Instance ${request.instanceId} already exists (${current.status}); the '${request.reuse}' policy does not allow reusing it.`,
              { instanceId: request.instanceId, status: current.status, reuse: request.reuse },
              'INSTANCE_EXISTS',
            ),
          );
        } else {
          const generation = current ? current.generation + 1 : 0;
          // A new record is a new creation of the id: its own incarnation. A restart is a new generation of the
          // same creation (generations already keep its executions apart).
          const next = pendingRecord(request, current, generation, now, current?.incarnation ?? randomUUID());
          commits.push({
            request,
            commit: { next, expectedVersion: current?.version ?? 0 },
            message: pendingStartMessage(next),
          });
        }
      }
      const results = commits.length > 0 ? await this.store.commitMany(commits.map((c) => c.commit)) : [];
      const created = commits.filter((c, i) => {
        if (results[i]?.ok) return true;
        c.request.reject(
          new ValidationError(
            `Instance ${c.request.instanceId} was created concurrently.`,
            { instanceId: c.request.instanceId },
            'INSTANCE_EXISTS',
          ),
        );
        return false;
      });
      const messages = [...created.map((c) => c.message), ...resends.map((r) => r.message)];
      if (messages.length > 0) await this.queue.send(messages);
      for (const c of created) c.request.resolve();
      for (const r of resends) r.request.resolve();
    } catch (error) {
      for (const p of batch) p.reject(error); // settled promises ignore this
    }
  }
}

function pendingRecord(
  request: StartRequest,
  current: InstanceRecord | undefined,
  generation: number,
  now: number,
  incarnation: string,
): InstanceRecord {
  const { instanceId, name, input } = request;
  return JSON.parse(
    JSON.stringify({
      instanceId,
      version: (current?.version ?? 0) + 1,
      name,
      generation,
      incarnation,
      status: 'Pending',
      input,
      createdAt: now,
      updatedAt: now,
      historyLength: 0,
      tail: { instanceId, incarnation, generation, fromIndex: 0, events: [] },
      // The client sends the start itself, right after this commit; a worker re-sending it on its first load
      // would only produce a duplicate.
      outbox: [],
    }),
  ) as InstanceRecord;
}

function isRetryOfPendingStart(record: InstanceRecord, request: StartRequest): boolean {
  return (
    record.status === 'Pending' &&
    record.historyLength === 0 &&
    record.name === request.name &&
    JSON.stringify(record.input) === JSON.stringify(request.input)
  );
}

function mayReuse(status: RuntimeStatus, reuse: ReusePolicy): boolean {
  if (reuse === 'reject') return false;
  if (reuse === 'allow-failed') return status === 'Failed' || status === 'Terminated';
  return isTerminal(status);
}

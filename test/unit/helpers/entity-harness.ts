/**
 * Test helpers for the entity engine: builders for the messages an entity receives (operations, lock requests,
 * unlocks), a harness that runs batches through `executeEntityBatch` while keeping the stored data between
 * them, and filters for the outbox.
 */
import type { App } from '../../../src/engine/app.js';
import type { EntityData, EntityStepResult } from '../../../src/engine/entity-executor.js';
import { EMPTY_ENTITY, executeEntityBatch } from '../../../src/engine/entity-executor.js';
import type { FailureDetails } from '../../../src/engine/errors.js';
import type { EntityMessage, Message, OrchestrationMessage, ReplyTo } from '../../../src/engine/messages.js';
import { messageId } from '../../../src/engine/messages.js';
import { T0 } from './harness.js';

export { T0 };

/** The orchestration most test calls come from. */
export const CALLER = 'caller-1';

export function replyTo(seq: number, instanceId = CALLER, generation = 0): ReplyTo {
  return { instanceId, generation, seq };
}

let counter = 0;
const freshId = (): string => `test-message-${++counter}`;

interface OpOptions {
  /** Sender id (default: the caller orchestration's generation 0, `caller-1/0`). */
  readonly from?: string;
  /** Position in the sender's stream; omit for an unnumbered message. */
  readonly n?: number;
  /** Message id (default: a fresh unique one). */
  readonly id?: string;
  readonly replyTo?: ReplyTo;
  readonly lockId?: string;
}

/** Builders for entity messages, as the engine's senders make them. */
export const em = {
  /** An operation: a call when `replyTo` is given, otherwise a signal. */
  op(target: string, operation: string, input?: unknown, options: OpOptions = {}): EntityMessage {
    return {
      id: options.id ?? freshId(),
      queue: 'orchestrations',
      instanceId: target,
      body: {
        type: 'EntityOperation',
        operation,
        ...(input !== undefined ? { input } : {}),
        sender: { id: options.from ?? `${CALLER}/0`, ...(options.n !== undefined ? { n: options.n } : {}) },
        ...(options.replyTo ? { replyTo: options.replyTo } : {}),
        ...(options.lockId !== undefined ? { lockId: options.lockId } : {}),
      },
    };
  },
  lock(
    target: string,
    options: {
      lockId: string;
      entities: readonly string[];
      index?: number;
      holder?: ReplyTo;
      from?: string;
      n?: number;
      id?: string;
    },
  ): EntityMessage {
    const holder = options.holder ?? replyTo(0);
    return {
      id: options.id ?? freshId(),
      queue: 'orchestrations',
      instanceId: target,
      body: {
        type: 'EntityLock',
        lockId: options.lockId,
        holder,
        entities: options.entities,
        index: options.index ?? 0,
        sender: { id: options.from ?? `${holder.instanceId}/${holder.generation}`, n: options.n ?? 1 },
      },
    };
  },
  unlock(target: string, lockId: string, options: { from?: string; n?: number; id?: string } = {}): EntityMessage {
    return {
      id: options.id ?? freshId(),
      queue: 'orchestrations',
      instanceId: target,
      body: {
        type: 'EntityUnlock',
        lockId,
        sender: { id: options.from ?? `${CALLER}/0`, ...(options.n !== undefined ? { n: options.n } : {}) },
      },
    };
  },
};

/** Runs batches against one entity, keeping its data between batches as the runtime would commit it. */
export class EntityHarness {
  data: EntityData = EMPTY_ENTITY;
  readonly results: EntityStepResult[] = [];

  constructor(
    readonly entityId: string,
    readonly app: App,
  ) {}

  async run(batch: EntityMessage | readonly EntityMessage[], now = T0): Promise<EntityStepResult> {
    const list = Array.isArray(batch) ? batch : [batch as EntityMessage];
    const result = await executeEntityBatch(this.entityId, this.app, this.data, list, now);
    this.data = result.data;
    this.results.push(result);
    return result;
  }
}

export interface ResponseView {
  readonly to: string;
  readonly seq: number;
  readonly result?: unknown;
  readonly failure?: FailureDetails;
}

/** The `EntityResponse` replies of an outbox, in order. */
export function responses(messages: readonly Message[]): ResponseView[] {
  const out: ResponseView[] = [];
  for (const m of messages) {
    if (m.queue !== 'orchestrations' || m.body.type !== 'EntityResponse') continue;
    const body = m.body;
    out.push({
      to: m.instanceId,
      seq: body.seq,
      ...('result' in body ? { result: body.result } : {}),
      ...(body.failure !== undefined ? { failure: body.failure } : {}),
    });
  }
  return out;
}

/** The results of the successful responses of an outbox, in order. */
export function results(messages: readonly Message[]): unknown[] {
  return responses(messages).map((r) => (r.failure ? { failed: r.failure.code ?? r.failure.name } : r.result));
}

/** Messages addressed to entities (operations, lock requests, unlocks). */
export function entityMessages(messages: readonly Message[]): EntityMessage[] {
  return messages.filter(
    (m): m is EntityMessage =>
      m.queue === 'orchestrations' &&
      (m.body.type === 'EntityOperation' || m.body.type === 'EntityLock' || m.body.type === 'EntityUnlock'),
  );
}

/** Orchestration starts in an outbox. */
export function starts(messages: readonly Message[]): OrchestrationMessage[] {
  return messages.filter(
    (m): m is OrchestrationMessage => m.queue === 'orchestrations' && m.body.type === 'ExecutionStarted',
  );
}

/** `EntityLockGranted` replies in an outbox. */
export function grants(messages: readonly Message[]): OrchestrationMessage[] {
  return messages.filter(
    (m): m is OrchestrationMessage => m.queue === 'orchestrations' && m.body.type === 'EntityLockGranted',
  );
}

/** Builders for the replies an orchestration gets from entities. */
export const entityReply = {
  response(
    instanceId: string,
    seq: number,
    outcome: { result?: unknown; failure?: FailureDetails },
    generation = 0,
  ): OrchestrationMessage {
    return {
      id: messageId(instanceId, generation, 'entity-result', seq),
      queue: 'orchestrations',
      instanceId,
      body: { type: 'EntityResponse', generation, seq, ...outcome },
    };
  },
  granted(instanceId: string, seq: number, generation = 0): OrchestrationMessage {
    return {
      id: messageId(instanceId, generation, 'entity-result', seq),
      queue: 'orchestrations',
      instanceId,
      body: { type: 'EntityLockGranted', generation, seq },
    };
  },
};

/** A compact view of entity messages: target, body type, operation, input, sender number, lock id, replyTo. */
export function sentToEntities(messages: readonly Message[]): Record<string, unknown>[] {
  return entityMessages(messages).map((m) => {
    const body = m.body;
    const view: Record<string, unknown> = { to: m.instanceId, type: body.type, n: body.sender.n };
    if (body.type === 'EntityOperation') {
      view.operation = body.operation;
      view.input = body.input;
      if (body.replyTo) view.replyTo = body.replyTo.seq;
      if (body.lockId !== undefined) view.lockId = body.lockId;
    } else {
      view.lockId = body.lockId;
    }
    if (m.deliverAt !== undefined) view.deliverAt = m.deliverAt;
    return view;
  });
}

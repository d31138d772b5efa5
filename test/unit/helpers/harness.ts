/**
 * Test helpers for the replay executor: message builders, and a harness that feeds messages through one
 * executor turn by turn while accumulating the committed history, so a test can replay it into a fresh
 * executor at any point.
 */
import type { App } from '../../../src/engine/app.js';
import type { FailureDetails } from '../../../src/engine/errors.js';
import type { ExecutorOptions, StepResult } from '../../../src/engine/executor.js';
import { OrchestrationExecutor } from '../../../src/engine/executor.js';
import type { HistoryEvent, ParentRef } from '../../../src/engine/history.js';
import type { ActivityMessage, Message, OrchestrationMessage } from '../../../src/engine/messages.js';
import { messageId } from '../../../src/engine/messages.js';

/** A fixed, readable epoch: 2026-01-01T00:00:00Z. */
export const T0 = Date.UTC(2026, 0, 1);

type Body = OrchestrationMessage['body'];

function msg(instanceId: string, id: string, body: Body): OrchestrationMessage {
  return { id, queue: 'orchestrations', instanceId, body };
}

/** Builders for the messages an instance receives. */
export const send = {
  start(
    instanceId: string,
    name: string,
    input?: unknown,
    extra: { generation?: number; parent?: ParentRef; id?: string } = {},
  ): OrchestrationMessage {
    const generation = extra.generation ?? 0;
    return msg(instanceId, extra.id ?? messageId(instanceId, generation, 'start', 0), {
      type: 'ExecutionStarted',
      name,
      input,
      generation,
      ...(extra.parent ? { parent: extra.parent } : {}),
    });
  },
  taskCompleted(instanceId: string, seq: number, result?: unknown, generation = 0): OrchestrationMessage {
    return msg(instanceId, messageId(instanceId, generation, 'activity-result', seq), {
      type: 'TaskCompleted',
      generation,
      seq,
      result,
    });
  },
  taskFailed(instanceId: string, seq: number, failure: FailureDetails, generation = 0): OrchestrationMessage {
    return msg(instanceId, messageId(instanceId, generation, 'activity-result', seq), {
      type: 'TaskFailed',
      generation,
      seq,
      failure,
    });
  },
  subCompleted(instanceId: string, seq: number, result?: unknown, generation = 0): OrchestrationMessage {
    return msg(instanceId, messageId(instanceId, generation, 'sub-result', seq), {
      type: 'SubOrchestrationCompleted',
      generation,
      seq,
      result,
    });
  },
  subFailed(instanceId: string, seq: number, failure: FailureDetails, generation = 0): OrchestrationMessage {
    return msg(instanceId, messageId(instanceId, generation, 'sub-result', seq), {
      type: 'SubOrchestrationFailed',
      generation,
      seq,
      failure,
    });
  },
  timerFired(instanceId: string, seq: number, fireAt: number, generation = 0): OrchestrationMessage {
    return msg(instanceId, messageId(instanceId, generation, 'timer', seq), {
      type: 'TimerFired',
      generation,
      seq,
      fireAt,
    });
  },
  event(instanceId: string, name: string, input: unknown, id: string): OrchestrationMessage {
    return msg(instanceId, id, { type: 'EventRaised', name, input });
  },
  suspend(instanceId: string, reason?: string, id = `${instanceId}/suspend`): OrchestrationMessage {
    return msg(instanceId, id, { type: 'Suspend', ...(reason !== undefined ? { reason } : {}) });
  },
  resume(instanceId: string, reason?: string, id = `${instanceId}/resume`): OrchestrationMessage {
    return msg(instanceId, id, { type: 'Resume', ...(reason !== undefined ? { reason } : {}) });
  },
  terminate(instanceId: string, reason?: string, id = `${instanceId}/terminate`): OrchestrationMessage {
    return msg(instanceId, id, { type: 'Terminate', ...(reason !== undefined ? { reason } : {}) });
  },
};

/** A failure as an activity worker would report it. */
export function failure(name: string, message: string, extra: Partial<FailureDetails> = {}): FailureDetails {
  return { name, message, ...extra };
}

export function activityRequests(messages: readonly Message[]): ActivityMessage[] {
  return messages.filter((m): m is ActivityMessage => m.queue === 'activities');
}

export function orchestrationMessages(messages: readonly Message[]): OrchestrationMessage[] {
  return messages.filter((m): m is OrchestrationMessage => m.queue === 'orchestrations');
}

/** Orchestration messages that carry a TimerFired body (the executor's durable timers). */
export function timerMessages(messages: readonly Message[]): OrchestrationMessage[] {
  return orchestrationMessages(messages).filter((m) => m.body.type === 'TimerFired');
}

/** Event types of a list of history events, for compact assertions. */
export function types(history: readonly HistoryEvent[]): string[] {
  return history.map((e) => e.type);
}

/**
 * Drives one executor turn by turn and keeps the committed history, the way a runtime would: each
 * step's new events are appended, and `replay()` loads that history into a fresh executor.
 */
export class Harness {
  readonly history: HistoryEvent[] = [];
  readonly results: StepResult[] = [];
  executor: OrchestrationExecutor;

  constructor(
    readonly instanceId: string,
    readonly app: App,
    readonly options: ExecutorOptions = {},
  ) {
    this.executor = new OrchestrationExecutor(instanceId, app, options);
  }

  async step(messages: OrchestrationMessage | readonly OrchestrationMessage[], now: number): Promise<StepResult> {
    const list = Array.isArray(messages) ? messages : [messages as OrchestrationMessage];
    const result = await this.executor.step(list, now);
    this.history.push(...result.newEvents);
    this.results.push(result);
    return result;
  }

  async start(name: string, input: unknown, now = T0): Promise<StepResult> {
    return this.step(send.start(this.instanceId, name, input), now);
  }

  /** A fresh executor with this harness's history loaded (same app, optionally other options). */
  async replay(options: ExecutorOptions = this.options): Promise<OrchestrationExecutor> {
    const fresh = new OrchestrationExecutor(this.instanceId, this.app, options);
    await fresh.load(this.history);
    return fresh;
  }
}

/**
 * The orchestration context: the API orchestration code sees. It validates arguments and builds retries out
 * of the executor's primitives (activities, sub-orchestrations, timers, event waits); the executor decides
 * what is replayed and what is new.
 */
import type { CriticalSection, OrchestrationContext, ReplaySafeLogger } from './app.js';
import type { CallOptions, ContinueAsNewOptions, SubOrchestrationOptions, WaitForEventOptions } from './app.js';
import type { EntityCallProxy } from './entity.js';
import { entityId as makeEntityId, operationProxy, parseEntityId } from './entity.js';
import { ActivityFailedError, SubOrchestrationFailedError, ValidationError } from './errors.js';
import type { TimerPurpose } from './history.js';
import { requireJson } from './json-value.js';
import type { RetryPolicy } from './retry.js';
import { nextRetryDelay, validateRetryPolicy } from './retry.js';
import { DurableTask } from './task.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** What the context needs from the executor. */
export interface ContextHost {
  readonly instanceId: string;
  readonly name: string;
  readonly generation: number;
  readonly isReplaying: boolean;
  /** The time of the event being applied (epoch ms). */
  readonly currentTime: number;
  hasActivity(name: string): boolean;
  hasOrchestration(name: string): boolean;
  /**
   * Schedules one attempt. `key` is the idempotency key shared by all attempts of one call: undefined for the
   * first attempt (the executor derives it from the attempt's sequence number and returns it).
   */
  scheduleActivity(
    name: string,
    input: unknown,
    attempt: number,
    key: string | undefined,
  ): { task: DurableTask<unknown>; idempotencyKey: string };
  scheduleSubOrchestration(
    name: string,
    input: unknown,
    instanceId: string | undefined,
    attempt: number,
  ): DurableTask<unknown>;
  scheduleTimer(fireAt: number, purpose: TimerPurpose): DurableTask<void>;
  waitForEvent(name: string, timeoutAt: number | undefined): DurableTask<unknown>;
  setCustomStatus(value: unknown): void;
  continueAsNew(input: unknown, options: ContinueAsNewOptions): never;
  log(level: LogLevel, message: string, fields: Record<string, unknown> | undefined): void;
  random(): number;
  newGuid(): string;
  hasEntity(name: string): boolean;
  scheduleEntityCall(entityId: string, operation: string, input: unknown): DurableTask<unknown>;
  scheduleEntitySignal(entityId: string, operation: string, input: unknown, deliverAt: number | undefined): void;
  requestLock(entityIds: readonly string[]): DurableTask<CriticalSection>;
  readonly inCriticalSection: boolean;
}

export type { CriticalSection };

/** Builds the context object handed to orchestration code. */
export function createContext(host: ContextHost): OrchestrationContext {
  const log: ReplaySafeLogger = {
    debug: (m, f) => host.log('debug', m, f),
    info: (m, f) => host.log('info', m, f),
    warn: (m, f) => host.log('warn', m, f),
    error: (m, f) => host.log('error', m, f),
  };
  const ctx: OrchestrationContext = {
    get instanceId() {
      return host.instanceId;
    },
    get name() {
      return host.name;
    },
    get generation() {
      return host.generation;
    },
    get isReplaying() {
      return host.isReplaying;
    },
    log,
    callActivity(name: string, input?: unknown, options?: CallOptions): DurableTask<any> {
      requireName(name, 'activity');
      if (!host.hasActivity(name)) {
        throw new ValidationError(`Unknown activity '${name}'.`, { activity: name }, 'UNKNOWN_ACTIVITY');
      }
      requireJson(input, 'input', `The input of callActivity('${name}')`);
      const policy = options?.retry;
      if (!policy) return host.scheduleActivity(name, input, 1, undefined).task;
      validateRetryPolicy(policy);
      let key: string | undefined;
      return withRetry(host, policy, (attempt) => {
        const scheduled = host.scheduleActivity(name, input, attempt, key);
        key = scheduled.idempotencyKey;
        return scheduled.task;
      });
    },
    callSubOrchestration(name: string, input: unknown, options?: SubOrchestrationOptions): DurableTask<any> {
      requireName(name, 'orchestration');
      if (!host.hasOrchestration(name)) {
        throw new ValidationError(`Unknown orchestration '${name}'.`, { orchestration: name }, 'UNKNOWN_ORCHESTRATION');
      }
      if (options?.instanceId !== undefined) requireName(options.instanceId, 'instance id');
      requireJson(input, 'input', `The input of callSubOrchestration('${name}')`);
      const policy = options?.retry;
      if (!policy) return host.scheduleSubOrchestration(name, input, options?.instanceId, 1);
      validateRetryPolicy(policy);
      return withRetry(host, policy, (attempt) =>
        host.scheduleSubOrchestration(name, input, options?.instanceId, attempt),
      );
    },
    createTimer(at: number | Date): DurableTask<void> {
      return host.scheduleTimer(toEpoch(at, host.currentTime, 'createTimer'), 'timer');
    },
    waitForEvent<T>(name: string, options?: WaitForEventOptions): DurableTask<T> {
      requireName(name, 'event');
      const timeout = options?.timeout;
      const at = timeout === undefined ? undefined : toEpoch(timeout, host.currentTime, 'waitForEvent timeout');
      return host.waitForEvent(name, at) as DurableTask<T>;
    },
    setCustomStatus: (value) => {
      requireJson(value, 'customStatus', 'The value given to setCustomStatus');
      host.setCustomStatus(value);
    },
    continueAsNew: (input, options) => {
      requireJson(input, 'input', 'The input of continueAsNew');
      return host.continueAsNew(input, options ?? {});
    },
    now: () => new Date(host.currentTime),
    newGuid: () => host.newGuid(),
    random: () => host.random(),
    callEntity(id: string, operation: string, input?: unknown): DurableTask<any> {
      const entity = requireEntity(host, id);
      return host.scheduleEntityCall(entity, requireOperation(operation), entityInput(entity, operation, input));
    },
    signalEntity(id: string, operation: string, input?: unknown, options?: { at?: Date | number }): void {
      const at = options?.at === undefined ? undefined : toEpoch(options.at, host.currentTime, 'signalEntity at');
      const entity = requireEntity(host, id);
      host.scheduleEntitySignal(entity, requireOperation(operation), entityInput(entity, operation, input), at);
    },
    lock(...ids: string[]): DurableTask<CriticalSection> {
      return host.requestLock(ids.map((id) => requireEntity(host, id)));
    },
    entity<T>(name: string, key: string): EntityCallProxy<T> {
      const id = requireEntity(host, makeEntityId(name, key));
      return operationProxy<EntityCallProxy<T>>((operation, input) =>
        host.scheduleEntityCall(id, operation, entityInput(id, operation, input)),
      );
    },
    get isInCriticalSection() {
      return host.inCriticalSection;
    },
  };
  return ctx;
}

/**
 * Runs attempts until one succeeds or the policy gives up. Each wait is a durable timer (purpose `retry`), so
 * the schedule is in the history and replays exactly; elapsed time is measured with event times only.
 */
function withRetry<T>(
  host: ContextHost,
  policy: RetryPolicy,
  attemptFn: (attempt: number) => DurableTask<T>,
): DurableTask<T> {
  const outer = new DurableTask<T>();
  const startedAt = host.currentTime;
  const run = async (): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await attemptFn(attempt);
      } catch (error) {
        if (!(error instanceof ActivityFailedError || error instanceof SubOrchestrationFailedError)) throw error;
        const delay = nextRetryDelay(policy, attempt, error.failure, host.currentTime - startedAt);
        if (delay === undefined) throw error;
        await host.scheduleTimer(host.currentTime + delay, 'retry');
      }
    }
  };
  // `run` schedules the first attempt synchronously (before its first await), like a call without retries,
  // so the call takes the next sequence number at the point the code made it.
  run().then(
    (value) => outer.resolve(value),
    (error: unknown) => outer.reject(error),
  );
  return outer;
}

/** Checked before the executor numbers the message: a refused call must leave no gap in the entity's order. */
function entityInput(entityId: string, operation: unknown, input: unknown): unknown {
  requireJson(input, 'input', `The input of operation '${String(operation)}' on entity ${entityId}`);
  return input;
}

function requireEntity(host: ContextHost, id: string): string {
  const parsed = parseEntityId(id);
  if (!host.hasEntity(parsed.name)) {
    throw new ValidationError(`Unknown entity '${parsed.name}'.`, { entity: parsed.name }, 'UNKNOWN_ENTITY');
  }
  return parsed.id;
}

function requireOperation(operation: unknown): string {
  requireName(operation, 'operation');
  return operation as string;
}

function requireName(value: unknown, what: string): void {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ValidationError(`The ${what} name must be a non-empty string.`, { [what]: value });
  }
}

function toEpoch(at: number | Date, now: number, what: string): number {
  if (at instanceof Date) {
    const t = at.getTime();
    if (Number.isNaN(t)) throw new ValidationError(`${what}: invalid date.`);
    return t;
  }
  if (typeof at !== 'number' || !Number.isFinite(at) || at < 0) {
    throw new ValidationError(`${what}: expected a delay in ms (a finite number >= 0) or a Date, got ${String(at)}.`);
  }
  return now + at;
}

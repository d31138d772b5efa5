/**
 * Errors say what they mean for retries. Every error Durable raises is a {@link DurableError} with a
 * stable string `code`; the HTTP edge maps codes to statuses, nothing below it does.
 */

/** Stable error codes. Clients and the HTTP API match on these, never on messages. */
export type ErrorCode =
  | 'DURABLE_ERROR'
  | 'TERMINAL'
  | 'RETRYABLE'
  | 'VALIDATION'
  | 'NON_DETERMINISM'
  | 'ACTIVITY_FAILED'
  | 'SUB_ORCHESTRATION_FAILED'
  | 'EVENT_TIMEOUT'
  | 'TIMEOUT'
  | 'UNKNOWN_ORCHESTRATION'
  | 'UNKNOWN_EVENT'
  | 'UNKNOWN_ACTIVITY'
  | 'INSTANCE_NOT_FOUND'
  | 'INSTANCE_EXISTS'
  | 'INVALID_STATE'
  | 'TASK_CANCELLED'
  | 'UNKNOWN_ENTITY'
  | 'UNKNOWN_OPERATION'
  | 'ENTITY_OPERATION_FAILED'
  | 'LOCKING_RULES_VIOLATED'
  | 'NOT_ALLOWED';

/** The serialisable shape of a failure, as stored in history and instance status. */
export interface FailureDetails {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly code?: string;
  /** Set when the failure must not be retried (a {@link TerminalError}, or a non-retryable policy match). */
  readonly nonRetryable?: boolean;
  /** From a {@link RetryableError}: wait this long before the next attempt, whatever the policy's backoff. */
  readonly retryAfterMs?: number;
  readonly cause?: FailureDetails;
}

/**
 * The brand every Durable error carries: the names of its classes, most derived first. It is registered
 * globally (`Symbol.for`), so two copies of Durable in one process (an app that loaded the package from another
 * path than the runtime's) still recognise each other's errors, where the identity of classes would not.
 */
const BRAND: unique symbol = Symbol.for('durable.error') as never;

/** The class names an error is branded with, or `undefined` for anything that is not a Durable error. */
function brandOf(value: unknown): readonly string[] | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const brand = (value as { [BRAND]?: unknown })[BRAND];
  return Array.isArray(brand) ? (brand as string[]) : undefined;
}

/**
 * Base of every error Durable raises. `instanceof` on it and on every subclass (an app's own included) checks
 * the brand, so it holds across two copies of Durable in one process.
 * @example
 * try { await client.start('nope', 1); } catch (e) { if (e instanceof DurableError) console.log(e.code); }
 */
export class DurableError extends Error {
  declare readonly [BRAND]: readonly string[];
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    const names: string[] = [];
    for (let c: unknown = new.target; typeof c === 'function' && c !== Error; c = Object.getPrototypeOf(c)) {
      names.push((c as { name: string }).name);
    }
    // Not enumerable: the brand is for `instanceof`, not for logs or serialised failures.
    Object.defineProperty(this, BRAND, { value: names });
  }

  /** True for instances of this class made by any copy of Durable: the brand names the class. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    return brandOf(value)?.includes(this.name) ?? false;
  }
}

/**
 * Whether `value` is a {@link TerminalError} (from any copy of Durable): a failure never retried.
 * @example
 * if (isTerminalError(error)) return { nonRetryable: true };
 */
export function isTerminalError(value: unknown): value is TerminalError {
  return value instanceof TerminalError;
}

/**
 * Whether `value` is a {@link RetryableError} (from any copy of Durable).
 * @example
 * if (isRetryableError(error)) wait(error.retryAfterMs);
 */
export function isRetryableError(value: unknown): value is RetryableError {
  return value instanceof RetryableError;
}

/**
 * An error that must not be retried: thrown by an activity, it fails the call at once whatever the retry policy.
 * @example
 * async function charge(card: Card) { if (card.expired) throw new TerminalError('card expired'); }
 */
export class TerminalError extends DurableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TERMINAL', message, options);
  }
}

/**
 * An error worth retrying, optionally after a given delay (which overrides the policy's backoff for that attempt).
 * @example
 * throw new RetryableError('rate limited', { retryAfterMs: 30_000 });
 */
export class RetryableError extends DurableError {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super('RETRYABLE', message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/**
 * Bad input from a caller: nothing was changed.
 * @example
 * if (!id) throw new ValidationError('instance id is required', { field: 'instanceId' });
 */
export class ValidationError extends DurableError {
  readonly details: Record<string, unknown> | undefined;
  constructor(message: string, details?: Record<string, unknown>, code: ErrorCode = 'VALIDATION') {
    super(code, message);
    this.details = details;
  }
}

/**
 * A value JSON cannot carry (a BigInt, a cycle, a function…) was about to leave an orchestration or an activity.
 * `details.path` says where it sits, e.g. `output.items[3].total is a BigInt`. Code `VALIDATION`, never retried.
 * @example
 * try { await ctx.callActivity('report', 1); } catch (e) { if (e instanceof ActivityFailedError && e.failure.name === 'SerializationError') … }
 */
export class SerializationError extends ValidationError {
  constructor(message: string, details: { path: string }) {
    super(message, details);
  }
}

/**
 * The orchestration code and its recorded history disagree. No events are committed; the instance keeps
 * its last good state and resumes once code that matches the history is deployed.
 * @example
 * if (status.failure?.code === 'NON_DETERMINISM') console.log('deploy the previous version');
 */
export class NonDeterminismError extends DurableError {
  readonly instanceId: string;
  readonly sequence: number;
  readonly expected: string;
  readonly actual: string;
  constructor(instanceId: string, sequence: number, expected: string, actual: string) {
    super(
      'NON_DETERMINISM',
      `Non-deterministic orchestration ${instanceId}: at sequence ${sequence} the history has ${expected}, ` +
        `but the code now does ${actual}.`,
    );
    this.instanceId = instanceId;
    this.sequence = sequence;
    this.expected = expected;
    this.actual = actual;
  }
}

/** Common shape of errors that carry a remote failure (an activity's or a sub-orchestration's). */
abstract class RemoteFailureError extends DurableError {
  /** The original error's details: name, message and stack as the failing code raised them. */
  readonly failure: FailureDetails;
  constructor(code: ErrorCode, message: string, failure: FailureDetails) {
    super(code, message);
    this.failure = failure;
  }
}

/**
 * An activity failed (after its retries). `failure.name` and `failure.message` are the original error's.
 * @example
 * try { await ctx.callActivity('charge', card); } catch (e) { if (e instanceof ActivityFailedError) e.failure.name; }
 */
export class ActivityFailedError extends RemoteFailureError {
  readonly activityName: string;
  constructor(activityName: string, failure: FailureDetails) {
    super('ACTIVITY_FAILED', `Activity ${activityName} failed: ${failure.name}: ${failure.message}`, failure);
    this.activityName = activityName;
  }
}

/**
 * A sub-orchestration failed or was terminated.
 * @example
 * try { await ctx.callSubOrchestration('child', 1); } catch (e) { if (e instanceof SubOrchestrationFailedError) e.failure; }
 */
export class SubOrchestrationFailedError extends RemoteFailureError {
  readonly orchestrationName: string;
  readonly instanceId: string;
  constructor(orchestrationName: string, instanceId: string, failure: FailureDetails) {
    super(
      'SUB_ORCHESTRATION_FAILED',
      `Sub-orchestration ${orchestrationName} (${instanceId}) failed: ${failure.name}: ${failure.message}`,
      failure,
    );
    this.orchestrationName = orchestrationName;
    this.instanceId = instanceId;
  }
}

/**
 * An entity operation called by an orchestration threw. The entity's state change was rolled back.
 * @example
 * try { await ctx.callEntity('account@alice', 'withdraw', 500); } catch (e) { if (e instanceof EntityOperationFailedError) e.failure.message; }
 */
export class EntityOperationFailedError extends RemoteFailureError {
  readonly entityId: string;
  readonly operation: string;
  constructor(entityId: string, operation: string, failure: FailureDetails) {
    super(
      'ENTITY_OPERATION_FAILED',
      `Operation ${operation} on entity ${entityId} failed: ${failure.name}: ${failure.message}`,
      failure,
    );
    this.entityId = entityId;
    this.operation = operation;
  }
}

/**
 * `waitForEvent` timed out before the event arrived.
 * @example
 * try { await ctx.waitForEvent('approval', { timeout: 60_000 }); } catch (e) { if (e instanceof EventTimeoutError) escalate(); }
 */
export class EventTimeoutError extends DurableError {
  readonly eventName: string;
  constructor(eventName: string, timeoutMs: number) {
    super('EVENT_TIMEOUT', `No event '${eventName}' arrived within ${timeoutMs} ms.`);
    this.eventName = eventName;
  }
}

/**
 * A wait (for example `waitForCompletion`) ran out of time. The instance itself is not affected.
 * @example
 * await client.waitForCompletion(id, { timeoutMs: 5000 }).catch((e) => e instanceof TimeoutError);
 */
export class TimeoutError extends DurableError {
  constructor(message: string) {
    super('TIMEOUT', message);
  }
}

/** Causes kept below a failure: enough to explain it, bounded so that details stay small. */
const MAX_CAUSES = 8;

/**
 * Serialise any thrown value into {@link FailureDetails}, keeping name, message, stack and code, and the chain of
 * causes up to {@link MAX_CAUSES} deep. A cause already in the chain (a→b→a) ends it: a cycle would otherwise
 * recurse until the stack overflows, and the turn or activity that failed would fail again on every retry.
 */
export function toFailureDetails(error: unknown): FailureDetails {
  return failureOf(error, [], 0);
}

function failureOf(error: unknown, chain: unknown[], depth: number): FailureDetails {
  if (!(error instanceof Error)) {
    return { name: 'Error', message: typeof error === 'string' ? error : safeStringify(error) };
  }
  chain.push(error);
  const code = (error as { code?: unknown }).code;
  const cause = error.cause;
  const keepCause = cause !== undefined && depth < MAX_CAUSES && !chain.includes(cause);
  // Name and message are written as strings whatever they hold, so the details are always JSON.
  return {
    name: String(error.name),
    message: String(error.message),
    ...(typeof error.stack === 'string' ? { stack: error.stack } : {}),
    ...(typeof code === 'string' ? { code } : {}),
    ...(isTerminalError(error) ? { nonRetryable: true } : {}),
    ...(isRetryableError(error) && error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
    ...(keepCause ? { cause: failureOf(cause, chain, depth + 1) } : {}),
  };
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

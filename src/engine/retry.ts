/**
 * Retry policies for activities and sub-orchestrations. Each wait between attempts is a durable timer in
 * the history, so a retry schedule survives crashes and replays exactly.
 */
import type { FailureDetails } from './errors.js';
import { ValidationError } from './errors.js';

/**
 * How a failed call is retried.
 * @example
 * await ctx.callActivity('charge', card, {
 *   retry: { maxAttempts: 5, firstRetryIntervalMs: 1000, backoffCoefficient: 2, nonRetryableErrors: ['CardDeclined'] },
 * });
 */
export interface RetryPolicy {
  /** Total attempts, the first included (>= 1). */
  readonly maxAttempts: number;
  /** Wait before the second attempt, in ms (>= 0). */
  readonly firstRetryIntervalMs: number;
  /** Each wait is the previous one times this (>= 1; default 2). */
  readonly backoffCoefficient?: number;
  /** Upper bound for one wait, in ms (default: unbounded). */
  readonly maxRetryIntervalMs?: number;
  /** Give up once this long has passed since the first attempt was scheduled, in ms (default: unbounded). */
  readonly retryTimeoutMs?: number;
  /** Errors never retried: by error name, or a predicate over the failure. `TerminalError` is never retried. */
  readonly nonRetryableErrors?: readonly string[] | ((failure: FailureDetails) => boolean);
}

/** Checks a policy's numbers; throws a {@link ValidationError} naming the bad field. */
export function validateRetryPolicy(policy: RetryPolicy): void {
  const check = (ok: boolean, field: string, rule: string): void => {
    if (!ok) throw new ValidationError(`retry.${field} ${rule}`, { field: `retry.${field}` });
  };
  check(Number.isInteger(policy.maxAttempts) && policy.maxAttempts >= 1, 'maxAttempts', 'must be an integer >= 1');
  check(
    Number.isFinite(policy.firstRetryIntervalMs) && policy.firstRetryIntervalMs >= 0,
    'firstRetryIntervalMs',
    'must be >= 0',
  );
  const c = policy.backoffCoefficient;
  check(c === undefined || (Number.isFinite(c) && c >= 1), 'backoffCoefficient', 'must be >= 1');
  const m = policy.maxRetryIntervalMs;
  check(m === undefined || (Number.isFinite(m) && m >= 0), 'maxRetryIntervalMs', 'must be >= 0');
  const t = policy.retryTimeoutMs;
  check(t === undefined || (Number.isFinite(t) && t >= 0), 'retryTimeoutMs', 'must be >= 0');
}

/**
 * The delay before the next attempt, or `undefined` to give up.
 * @param attempt the attempt that just failed (1-based)
 * @param elapsedMs time since the first attempt was scheduled, at the failing attempt's completion
 */
export function nextRetryDelay(
  policy: RetryPolicy,
  attempt: number,
  failure: FailureDetails,
  elapsedMs: number,
): number | undefined {
  if (failure.nonRetryable) return undefined;
  if (attempt >= policy.maxAttempts) return undefined;
  const never = policy.nonRetryableErrors;
  if (typeof never === 'function' ? never(failure) : never?.includes(failure.name)) return undefined;
  const coefficient = policy.backoffCoefficient ?? 2;
  let delay = policy.firstRetryIntervalMs * Math.pow(coefficient, attempt - 1);
  if (policy.maxRetryIntervalMs !== undefined) delay = Math.min(delay, policy.maxRetryIntervalMs);
  const retryAfter = failure.retryAfterMs;
  if (typeof retryAfter === 'number' && retryAfter >= 0) delay = retryAfter;
  if (policy.retryTimeoutMs !== undefined && elapsedMs + delay > policy.retryTimeoutMs) return undefined;
  return Math.round(delay);
}

/**
 * What a turn of the orchestration executor returns, and what it is configured with.
 */
import type { LogLevel } from './context.js';
import type { FailureDetails } from './errors.js';
import type { HistoryEvent, ParentRef } from './history.js';
import type { Message, OrchestrationMessage } from './messages.js';
import type { RuntimeStatus } from './status.js';

/** One log line from orchestration code (never emitted during replay). */
export interface OrchestrationLogRecord {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields?: Record<string, unknown>;
  readonly instanceId: string;
  readonly name: string;
}

export interface ExecutorOptions {
  readonly logSink?: (record: OrchestrationLogRecord) => void;
  /**
   * Yields one macrotask, after which every queued microtask has run: the executor awaits it after each event so
   * that all reactions to that event happen before the next one. Default: `setImmediate` where the host has it,
   * else `setTimeout(0)`. Inject it where neither fits (another runtime, a scheduler under test).
   */
  readonly yieldToEventLoop?: () => Promise<void>;
}

/** The instance as the client sees it, derived from history. */
export interface OrchestrationSnapshot {
  readonly instanceId: string;
  readonly name: string;
  readonly generation: number;
  /** Which creation of the instance id this is; '' for instances created before incarnations existed. */
  readonly incarnation?: string;
  readonly status: RuntimeStatus;
  readonly input?: unknown;
  readonly output?: unknown;
  readonly failure?: FailureDetails;
  readonly customStatus?: unknown;
  readonly parent?: ParentRef;
}

export interface StepResult {
  /** Events to append to history, in order. Empty when every message was a duplicate or deferred. */
  readonly newEvents: HistoryEvent[];
  /** The turn's outbox: send after the commit. */
  readonly messages: Message[];
  /** Messages that cannot apply yet (before the start, or between generations): release them for later. */
  readonly deferred: OrchestrationMessage[];
  /** Duplicates and messages for calls that are no longer open: acknowledge and forget them. */
  readonly dropped: OrchestrationMessage[];
  readonly snapshot: OrchestrationSnapshot;
}

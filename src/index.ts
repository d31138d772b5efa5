/**
 * Durable: durable, stateful workflows for TypeScript.
 *
 * Named re-exports only: this file is the public API.
 */
export { defineApp } from './engine/app.js';
export type {
  CriticalSection,
  ActivityContext,
  ActivityFn,
  App,
  CallOptions,
  ContinueAsNewOptions,
  OrchestrationContext,
  OrchestrationFn,
  ReplaySafeLogger,
  SubOrchestrationOptions,
  WaitForEventOptions,
} from './engine/app.js';
export { Entity, entityId, isEntityId, parseEntityId } from './engine/entity.js';
export type {
  EntityCallProxy,
  EntityContext,
  EntityDefinition,
  EntityId,
  EntityOperationFn,
  EntityOperations,
  EntitySignalProxy,
} from './engine/entity.js';
export { executeEntityBatch } from './engine/entity-executor.js';
export type { EntityData, EntityStepResult } from './engine/entity-executor.js';
export {
  ActivityFailedError,
  EntityOperationFailedError,
  DurableError,
  EventTimeoutError,
  NonDeterminismError,
  RetryableError,
  SerializationError,
  SubOrchestrationFailedError,
  TerminalError,
  TimeoutError,
  ValidationError,
  isRetryableError,
  isTerminalError,
} from './engine/errors.js';
export type { ErrorCode, FailureDetails } from './engine/errors.js';
export { events } from './engine/history.js';
export type { HistoryEvent, HistoryEventType } from './engine/history.js';
export { executeOrchestration, OrchestrationExecutor } from './engine/executor.js';
export type { OrchestrationSnapshot, StepResult } from './engine/executor.js';
export type { Message } from './engine/messages.js';
export type { RetryPolicy } from './engine/retry.js';
export { isTerminal, RUNTIME_STATUSES } from './engine/status.js';
export type { RuntimeStatus } from './engine/status.js';
export type { DurableTask } from './engine/task.js';
export { ManualClock, SystemClock } from './backends/clock.js';
export type { Clock } from './backends/clock.js';
export type { Lock } from './backends/lock.js';
export type { Delivery, Queue, QueueDepth } from './backends/queue.js';
export type { CountQuery, InstanceRecord, ListQuery, StatusCounts, Store } from './backends/store.js';
export { MemoryLock } from './backends/memory/memory-lock.js';
export { MemoryQueue } from './backends/memory/memory-queue.js';
export { MemoryStore } from './backends/memory/memory-store.js';
export { DurableClient, REUSE_POLICIES } from './client/client.js';
export { QUEUE_NAMES } from './engine/messages.js';
export type {
  ClientOptions,
  CountOptions,
  DeadLetterEntry,
  RedriveOptions,
  RedriveResult,
  InstanceStatus,
  ListOptions,
  ListResult,
  ReusePolicy,
  StartOptions,
} from './client/client.js';
export { Worker } from './runtime/worker.js';
export type { WorkerOptions } from './runtime/worker.js';
export { silentLogger } from './observability/logger.js';
export type { Logger } from './observability/logger.js';
export { TestEnvironment } from './testing/test-environment.js';
export { loadConfig } from './config/config.js';
export type { ConfigOverrides, DurableConfig } from './config/config.js';
export { openBackends } from './host/backends.js';
export type { Backends } from './host/backends.js';
export type { GroupCommit } from './backends/group-commit.js';
export { startHost } from './host/host.js';
export { createHttpApi } from './http/http-api.js';
export type { HttpApiOptions } from './http/http-api.js';
export { authRequiredFor } from './http/auth.js';
export type { AuthOptions, Identity, Scope, TokenSpec } from './http/auth.js';
export { authFromEnvironment, createToken, readTokenFile } from './http/token-file.js';
export type { TokenFileEntry } from './http/token-file.js';
export type { Host, HostOptions } from './host/host.js';
export type { TestEnvironmentOptions } from './testing/test-environment.js';

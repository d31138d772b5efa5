/**
 * What users write: an app is a set of named orchestrations and activities. `defineApp` infers the
 * activity and orchestration signatures, so `ctx.callActivity('sayHello', 'Tokyo')` checks the name, the
 * input type and the result type at compile time.
 */
import type { Entities, EntityCallProxy } from './entity.js';
import { ValidationError } from './errors.js';
import type { RetryPolicy } from './retry.js';
import type { DurableTask } from './task.js';

/** An activity: plain async code with side effects, run at least once, retried by policy. */
export type ActivityFn<I = any, O = any> = (input: I, ctx: ActivityContext) => Promise<O> | O;

/** An orchestration: a deterministic async function, replayed from its history. */
export type OrchestrationFn<I = any, O = any, A extends Activities = any, S extends Orchestrations = any> = (
  ctx: OrchestrationContext<A, S>,
  input: I,
) => Promise<O>;

export type Activities = Record<string, ActivityFn>;
export type Orchestrations = Record<string, OrchestrationFn>;

/** What an activity learns about its invocation. */
export interface ActivityContext {
  readonly instanceId: string;
  readonly name: string;
  /** 1 for the first attempt; a policy retry gets the next number. Redeliveries after a crash keep theirs. */
  readonly attempt: number;
  /** `<instance>/<generation>/<seq>`: stable across redeliveries and retries, a ready-made idempotency key. */
  readonly idempotencyKey: string;
}

export interface CallOptions {
  readonly retry?: RetryPolicy;
}

export interface SubOrchestrationOptions extends CallOptions {
  /** The child's instance id. Default: `<parent id>:<seq>`, deterministic. */
  readonly instanceId?: string;
}

export interface WaitForEventOptions {
  /** Reject with `EventTimeoutError` after this many ms (a durable timer), or at this date. */
  readonly timeout?: number | Date;
}

export interface ContinueAsNewOptions {
  /** Carry events raised but not yet consumed into the new generation (default false). */
  readonly keepUnprocessedEvents?: boolean;
}

/** A logger that writes only when the code is not replaying, so each line appears once. */
export interface ReplaySafeLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

type InputOf<F> = F extends (a: infer I, ...rest: any[]) => unknown ? I : never;
type OrchestrationInputOf<F> = F extends (ctx: any, input: infer I) => unknown ? I : never;
type OutputOf<F> = F extends (...args: any[]) => infer R ? Awaited<R> : never;
type Keys<R> = Extract<keyof R, string>;

/**
 * The orchestration's view of the world. Everything on it is deterministic: the same history gives the same
 * answers on every replay.
 * @example
 * async function approval(ctx: OrchestrationContext, req: Request) {
 *   await ctx.callActivity('notify', req);
 *   try { return await ctx.waitForEvent<boolean>('approved', { timeout: 86_400_000 }); }
 *   catch { return false; }
 * }
 */
export interface OrchestrationContext<A extends Activities = any, S extends Orchestrations = any> {
  readonly instanceId: string;
  readonly name: string;
  /** 0 for the first execution; +1 on each `continueAsNew`. */
  readonly generation: number;
  /** True while the code re-runs over events it has already seen. */
  readonly isReplaying: boolean;
  readonly log: ReplaySafeLogger;

  callActivity<K extends Keys<A>>(name: K, input: InputOf<A[K]>, options?: CallOptions): DurableTask<OutputOf<A[K]>>;
  callActivity<K extends Keys<A>>(
    name: K,
    ...rest: undefined extends InputOf<A[K]> ? [input?: InputOf<A[K]>, options?: CallOptions] : never
  ): DurableTask<OutputOf<A[K]>>;
  callSubOrchestration<K extends Keys<S>>(
    name: K,
    input: OrchestrationInputOf<S[K]>,
    options?: SubOrchestrationOptions,
  ): DurableTask<OutputOf<S[K]>>;
  /** A durable timer: after `delayMs` milliseconds, or at a date. */
  createTimer(at: number | Date): DurableTask<void>;
  /** The next event with this name, in arrival order; events raised before the wait are kept for it. */
  waitForEvent<T = unknown>(name: string, options?: WaitForEventOptions): DurableTask<T>;
  setCustomStatus(value: unknown): void;
  /** Restart with fresh history and a new input. Ends the current execution: `return ctx.continueAsNew(x)`. */
  continueAsNew(input: unknown, options?: ContinueAsNewOptions): never;
  /** The time of the event the code is reacting to (deterministic). */
  now(): Date;
  /** A deterministic UUID (v4 format), different on each call, identical on replay. */
  newGuid(): string;
  /** A deterministic number in [0, 1). */
  random(): number;

  /** Runs an entity operation and returns its result (or rejects with `EntityOperationFailedError`). */
  callEntity<R = any>(entityId: string, operation: string, input?: unknown): DurableTask<R>;
  /** One-way message to an entity, optionally delivered later (`at`: a date or a delay in ms). */
  signalEntity(entityId: string, operation: string, input?: unknown, options?: { at?: Date | number }): void;
  /**
   * Locks entities for a critical section: while it is held, only this orchestration's calls run on them.
   * Locks are taken in one global order (no deadlocks) and released by `release()` or when the execution ends.
   * @example
   * const section = await ctx.lock('account@alice', 'account@bob');
   * try { … } finally { section.release(); }
   */
  lock(...entityIds: string[]): DurableTask<CriticalSection>;
  /** A typed proxy: `await ctx.entity<Counter>('counter', 'k').add(5)` calls `add` with a checked input. */
  entity<T>(name: string, key: string): EntityCallProxy<T>;
  /** Whether a critical section is held. */
  readonly isInCriticalSection: boolean;
}

/** A held critical section (see {@link OrchestrationContext.lock}). */
export interface CriticalSection {
  /** The locked entity ids, in lock order. */
  readonly entities: readonly string[];
  /** Releases every lock of the section (idempotent). */
  release(): void;
}

/**
 * An app: its orchestrations and activities by name.
 * @example
 * export default defineApp({
 *   orchestrations: { async hello(ctx, who: string) { return ctx.callActivity('greet', who); } },
 *   activities: { async greet(who: string) { return `Hello ${who}`; } },
 * });
 */
export interface App<
  O extends Orchestrations = Orchestrations,
  A extends Activities = Activities,
  E extends Entities = Entities,
> {
  readonly orchestrations: O;
  readonly activities: A;
  readonly entities: E;
  /**
   * The events each orchestration accepts, for the orchestrations that declare them: raising any other event on
   * one of their instances is refused (`UNKNOWN_EVENT`, HTTP 422) and changes nothing. An orchestration without a
   * declaration accepts any event name, as in Durable Functions.
   */
  readonly events: EventDeclarations;
}

/** Orchestration name → the event names its instances accept. */
export type EventDeclarations = Readonly<Record<string, readonly string[]>>;

/**
 * Declares an app: any subset of orchestrations, activities and entities. When the activities are declared first as their own constant, orchestrations get a
 * context typed by them: activity names, inputs and results are checked at compile time. Declared inline,
 * the context is loosely typed (names are strings, results `any`).
 * @example
 * const app = defineApp({
 *   orchestrations: {
 *     async helloSequence(ctx, cities: string[]) {
 *       const out: string[] = [];
 *       for (const c of cities) out.push(await ctx.callActivity('sayHello', c));
 *       return out;
 *     },
 *   },
 *   activities: { async sayHello(name: string) { return `Hello ${name}`; } },
 *   events: { approval: ['approved', 'rejected'] }, // optional: the events an orchestration accepts
 * });
 */
export function defineApp<
  A extends Activities,
  O extends Record<string, (ctx: OrchestrationContext<A>, input: any) => Promise<any>>,
  E extends Entities = Record<never, never>,
>(app: {
  activities?: A;
  orchestrations?: O;
  entities?: E;
  events?: { readonly [K in keyof O]?: readonly string[] };
}): App<O, A, E> {
  const events: Record<string, readonly string[]> = {};
  for (const [name, names] of Object.entries(app.events ?? {}) as [string, unknown][]) {
    if (!Object.hasOwn(app.orchestrations ?? {}, name)) {
      throw new ValidationError(`events: '${name}' is not an orchestration of this app.`, { name });
    }
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string' && n.length > 0)) {
      throw new ValidationError(`events.${name} must be a list of event names.`, { name });
    }
    events[name] = Object.freeze([...(names as string[])]);
  }
  // Any subset of the three may be given (an entities-only app, an activity pool); the rest of Durable reads all
  // three, so the missing ones are empty, never undefined.
  return {
    orchestrations: app.orchestrations ?? ({} as O),
    activities: app.activities ?? ({} as A),
    entities: app.entities ?? ({} as E),
    events: Object.freeze(events),
  };
}

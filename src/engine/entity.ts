/**
 * Entities: durable actors. An entity is identified by `name@key`, holds a state, and runs operations one at
 * a time. Users write an entity either as an object of operations `(ctx, input) => result` or as a class whose
 * public methods are the operations; either way a typed proxy (`ctx.entity<Counter>('counter', 'k').add(5)`)
 * checks operation names, inputs and results at compile time.
 */
import { ValidationError } from './errors.js';
import type { DurableTask } from './task.js';

/** `name@key`. */
export type EntityId = `${string}@${string}`;

const ENTITY_NAME = /^[A-Za-z0-9_.:#~-]{1,100}$/;
const ENTITY_KEY = /^[A-Za-z0-9_.:#~@-]{1,200}$/;

/**
 * Builds an entity id, checking both parts.
 * @example
 * const id = entityId('account', 'alice'); // 'account@alice'
 */
export function entityId(name: string, key: string): EntityId {
  if (typeof name !== 'string' || !ENTITY_NAME.test(name)) {
    throw new ValidationError(
      `Entity name must be 1-100 characters: letters, digits and _ . : # ~ - (got ${JSON.stringify(name)}).`,
      {
        entityName: name,
      },
    );
  }
  if (typeof key !== 'string' || !ENTITY_KEY.test(key)) {
    throw new ValidationError(
      `Entity key must be 1-200 characters: letters, digits and _ . : # ~ @ - (got ${JSON.stringify(key)}).`,
      {
        entityKey: key,
      },
    );
  }
  return `${name}@${key}`;
}

/** Splits and validates `name@key` (the key may itself contain `@`; the name may not). */
export function parseEntityId(id: unknown): { name: string; key: string; id: EntityId } {
  if (typeof id !== 'string') throw new ValidationError(`An entity id must be a string 'name@key'.`, { entityId: id });
  const at = id.indexOf('@');
  if (at <= 0)
    throw new ValidationError(`An entity id must look like 'name@key' (got ${JSON.stringify(id)}).`, { entityId: id });
  const name = id.slice(0, at);
  const key = id.slice(at + 1);
  return { name, key, id: entityId(name, key) };
}

/** Whether an instance id addresses an entity (orchestration ids never contain `@`). */
export function isEntityId(instanceId: string): boolean {
  return instanceId.includes('@');
}

/** What an entity operation can see and do. */
export interface EntityContext<S = any> {
  /** `name@key`. */
  readonly id: EntityId;
  readonly name: string;
  readonly key: string;
  /** The operation being run. */
  readonly operation: string;
  /** The current state: the entity's `initial()` (or `undefined`) until something is stored. */
  readonly state: S;
  /** Whether the entity has stored state. */
  readonly hasState: boolean;
  setState(state: S): void;
  /** Deletes the state: the entity reads as "not found" until an operation sets it again. */
  deleteState(): void;
  /** One-way message to an entity (this one included), optionally delivered at a later time. */
  signalEntity(id: string, operation: string, input?: unknown, options?: { at?: Date | number }): void;
  /** Starts an orchestration once this operation commits; returns its instance id. */
  startOrchestration(name: string, input?: unknown, options?: { instanceId?: string }): string;
  /** A typed one-way proxy: `ctx.entity<Counter>('counter', 'k').add(1)` signals. */
  entity<T>(name: string, key: string): EntitySignalProxy<T>;
  /** The time of the turn (deterministic within it). */
  now(): Date;
  /**
   * Not allowed: an entity cannot wait for a response while it holds its turn (as in Durable Functions).
   * Always throws `NOT_ALLOWED`; use `signalEntity`, or call from an orchestration.
   */
  callEntity(...args: unknown[]): never;
}

/**
 * Base class for class-style entities: public methods are operations (names starting with `_` are not);
 * `this.state` reads and writes the state; `initial()` gives the state of a new entity.
 * @example
 * class Counter extends Entity<number> {
 *   initial() { return 0; }
 *   add(n: number) { this.state += n; return this.state; }
 *   get() { return this.state; }
 * }
 * defineApp({ entities: { counter: Counter }, orchestrations: {} });
 */
export abstract class Entity<S = unknown> {
  /** @internal set by the executor before each operation. */
  declare __ctx: EntityContext<S>;

  /** The entity's context: its id, signals, orchestration starts, time. */
  protected get ctx(): EntityContext<S> {
    return this.__ctx;
  }

  get state(): S {
    return this.__ctx.state;
  }

  set state(value: S) {
    this.__ctx.setState(value);
  }

  /** The state of an entity that has none stored yet. */
  initial?(): S;
}

/** An object-style entity operation. */
export type EntityOperationFn<S = any, I = any, R = any> = (ctx: EntityContext<S>, input: I) => R | Promise<R>;

/** An object-style entity: operations by name, plus an optional `initial()`. */
export type EntityObject = { readonly initial?: () => unknown } & {
  readonly [operation: string]: EntityOperationFn | (() => unknown) | undefined;
};

/** A class-style entity. */
export type EntityClass = abstract new () => Entity<any>;

export type EntityDefinition = EntityObject | EntityClass;
export type Entities = Record<string, EntityDefinition>;

type BaseMembers = keyof Entity<any> | '__ctx' | 'initial' | 'constructor';

/** The operations of an entity type, as `(input?) => result` signatures. */
export type EntityOperations<T> = T extends abstract new () => infer I
  ? EntityOperations<I>
  : T extends Entity<any>
    ? {
        [
          K in Exclude<keyof T, BaseMembers> as K extends `_${string}`
            ? never
            : T[K] extends (...args: any[]) => any
              ? K
              : never
        ]: T[K];
      }
    : {
        [K in Exclude<keyof T, 'initial'> as T[K] extends (ctx: any, ...args: any[]) => any ? K : never]: T[K] extends (
          ctx: any,
          ...args: infer P
        ) => infer R
          ? (...args: P) => R
          : never;
      };

/** A proxy whose methods call the entity's operations and return their results as durable tasks. */
export type EntityCallProxy<T> = {
  [K in keyof EntityOperations<T>]: EntityOperations<T>[K] extends (...args: infer P) => infer R
    ? (...args: P) => DurableTask<Awaited<R>>
    : never;
};

/** A proxy whose methods signal the entity's operations (one-way). */
export type EntitySignalProxy<T, Result = void> = {
  [K in keyof EntityOperations<T>]: EntityOperations<T>[K] extends (...args: infer P) => unknown
    ? (...args: P) => Result
    : never;
};

/** Builds a proxy that turns `proxy.op(input)` into `invoke(op, input)`. It is not a thenable. */
export function operationProxy<P>(invoke: (operation: string, input: unknown) => unknown): P {
  return new Proxy(Object.create(null) as object, {
    get(_target, property) {
      // `then` must stay undefined, or `await proxy` would call it.
      if (typeof property !== 'string' || property === 'then') return undefined;
      return (input?: unknown) => invoke(property, input);
    },
  }) as P;
}

/** How the executor runs one operation of a definition; `undefined` when the operation does not exist. */
export function resolveOperation(
  definition: EntityDefinition,
  operation: string,
): ((ctx: EntityContext, input: unknown) => unknown) | undefined {
  if (typeof definition === 'function') {
    if (operation.startsWith('_') || operation === 'constructor' || operation === 'initial') return undefined;
    const method = ownMethod(definition.prototype as object, operation);
    if (!method) return undefined;
    return (ctx, input) => {
      const instance = new (definition as new () => Entity<any>)();
      instance.__ctx = ctx;
      return method.call(instance, input);
    };
  }
  if (operation === 'initial' || !Object.hasOwn(definition, operation)) return undefined;
  const fn = definition[operation];
  return typeof fn === 'function' ? (fn as EntityOperationFn) : undefined;
}

/**
 * The operations a definition accepts, sorted: exactly the names {@link resolveOperation} resolves.
 * @example
 * entityOperations({ initial: () => 0, add(ctx, n: number) {}, get(ctx) {} }); // ['add', 'get']
 */
export function entityOperations(definition: EntityDefinition): string[] {
  const names = new Set<string>();
  if (typeof definition === 'function') {
    for (
      let p = definition.prototype as object | null;
      p && p !== Entity.prototype && p !== Object.prototype;
      p = Object.getPrototypeOf(p) as object | null
    ) {
      for (const name of Object.getOwnPropertyNames(p)) names.add(name);
    }
  } else {
    for (const name of Object.keys(definition)) names.add(name);
  }
  return [...names].filter((name) => resolveOperation(definition, name) !== undefined).sort();
}

/**
 * A method declared by the entity class or a user-defined ancestor: found by descriptor (so getters never run),
 * stopping at `Entity.prototype` (so base members and `Object.prototype` methods are not operations).
 */
function ownMethod(prototype: object | null, name: string): ((input: unknown) => unknown) | undefined {
  for (
    let p = prototype;
    p && p !== Entity.prototype && p !== Object.prototype;
    p = Object.getPrototypeOf(p) as object | null
  ) {
    const descriptor = Object.getOwnPropertyDescriptor(p, name);
    if (descriptor)
      return typeof descriptor.value === 'function' ? (descriptor.value as (input: unknown) => unknown) : undefined;
  }
  return undefined;
}

/** The state a new entity of this definition starts with. */
export function initialState(definition: EntityDefinition): unknown {
  if (typeof definition === 'function') {
    const instance = new (definition as new () => Entity<any>)();
    return instance.initial?.();
  }
  return definition.initial?.();
}

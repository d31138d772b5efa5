/**
 * Failpoints: wrap any backend (store, queue, lock) so that a chosen call fails, the way a real backend fails
 * (a timeout, a 5xx, a 429 from an API server, a database failover).
 *
 * Calls are numbered across every wrapped object, in the order they are made. `failAt(n, mode)` fails call `n`:
 * - `before`: the call is refused and does nothing (a connection error, a 429);
 * - `after`: the call takes effect, then the caller is told it failed (a timeout after the server committed),
 *   the harder case: the caller must not assume the write did not happen.
 */
export type FailMode = 'before' | 'after';

export class InjectedFailure extends Error {
  constructor(readonly call: string) {
    super(`injected failure in ${call}`);
    this.name = 'InjectedFailure';
  }
}

export class Failpoints {
  /** Every wrapped call made so far, as `object.method`. */
  readonly calls: string[] = [];
  /** The calls that were failed. */
  readonly failed: string[] = [];
  private readonly plan = new Map<number, FailMode>();

  /** Fails call number `n` (1-based, across all wrapped objects). */
  failAt(n: number, mode: FailMode): this {
    this.plan.set(n, mode);
    return this;
  }

  /** A proxy of `target` whose async methods (those that return a promise) go through the failpoints. */
  wrap<T extends object>(name: string, target: T): T {
    return new Proxy(target, {
      get: (object, property, receiver) => {
        const value: unknown = Reflect.get(object, property, receiver);
        if (typeof value !== 'function' || typeof property !== 'string' || property === 'close') return value;
        return (...args: unknown[]) => this.call(`${name}.${property}`, () => value.apply(object, args) as unknown);
      },
    });
  }

  private call(label: string, invoke: () => unknown): unknown {
    this.calls.push(label);
    const mode = this.plan.get(this.calls.length);
    if (mode === undefined) return invoke();
    this.failed.push(label);
    if (mode === 'before') return Promise.reject(new InjectedFailure(label));
    const result = invoke();
    // Only asynchronous calls can time out after taking effect; a synchronous one just fails before.
    if (!(result instanceof Promise)) throw new InjectedFailure(label);
    return result.then(
      () => Promise.reject(new InjectedFailure(label)),
      () => Promise.reject(new InjectedFailure(label)),
    );
  }
}

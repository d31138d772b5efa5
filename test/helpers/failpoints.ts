/**
 * Failpoints: wrap any backend (store, queue, lock) so that a chosen call fails, the way a real backend fails
 * (a timeout, a 5xx, a 429 from an API server, a database failover).
 *
 * Calls are numbered across every wrapped object, in the order they are made. `failAt(n, mode)` fails call `n`:
 * - `before`: the call is refused and does nothing (a connection error, a 429);
 * - `after`: the call takes effect, then the caller is told it failed (a timeout after the server committed),
 *   the harder case: the caller must not assume the write did not happen;
 * - `hang`: the call is refused and never answers, like a process that died in it, until `unhang()`.
 */
export type FailMode = 'before' | 'after' | 'hang';

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
  private readonly byMethod = new Map<string, { occurrence: number; mode: FailMode }>();
  private readonly hanging: Array<() => void> = [];
  private every: { n: number; mode: FailMode } | undefined;

  /** Fails call number `n` (1-based, across all wrapped objects). */
  failAt(n: number, mode: FailMode): this {
    this.plan.set(n, mode);
    return this;
  }

  /** Fails the `occurrence`-th call (1-based) of one method, e.g. `failOn('queue.send', 1, 'hang')`. */
  failOn(label: string, occurrence: number, mode: FailMode): this {
    this.byMethod.set(label, { occurrence, mode });
    return this;
  }

  /** Fails every `n`-th call (across all wrapped objects), a steady rate of backend errors. */
  failEvery(n: number, mode: Exclude<FailMode, 'hang'>): this {
    this.every = { n, mode };
    return this;
  }

  /** Ends every hanging call with a failure (the test is done with the "dead" caller). */
  unhang(): void {
    for (const reject of this.hanging.splice(0)) reject();
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
    const byMethod = this.byMethod.get(label);
    const occurrence = this.calls.filter((c) => c === label).length;
    const periodic = this.every && this.calls.length % this.every.n === 0 ? this.every.mode : undefined;
    const mode =
      this.plan.get(this.calls.length) ?? (byMethod?.occurrence === occurrence ? byMethod.mode : undefined) ?? periodic;
    if (mode === undefined) return invoke();
    this.failed.push(label);
    if (mode === 'before') return Promise.reject(new InjectedFailure(label));
    if (mode === 'hang') {
      return new Promise((_resolve, reject) => this.hanging.push(() => reject(new InjectedFailure(label))));
    }
    const result = invoke();
    // Only asynchronous calls can time out after taking effect; a synchronous one just fails before.
    if (!(result instanceof Promise)) throw new InjectedFailure(label);
    return result.then(
      () => Promise.reject(new InjectedFailure(label)),
      () => Promise.reject(new InjectedFailure(label)),
    );
  }
}

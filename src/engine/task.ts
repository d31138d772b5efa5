/**
 * Durable tasks: the awaitable handles orchestration code gets from `ctx.callActivity`, `ctx.createTimer`…
 *
 * A task is settled only by the executor, while it applies a history event, so the order in which tasks
 * settle is the history order on the first run and on every replay. Tasks are thenables (not native
 * promises) so that the executor can tell whether anyone still waits on a task: that is what lets a timer
 * that lost a `Promise.race` be cancelled instead of waking the instance later.
 */
import { DurableError } from './errors.js';

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Settlement of the `Promise.race`/`Promise.any` calls a task takes part in; see {@link holdRaceCancellation}. */
class RaceToken {
  settled = false;
  /** The task whose settlement decided the race (its value was used). */
  winner: DurableTask<unknown> | undefined;
  readonly tasks: DurableTask<unknown>[] = [];

  /**
   * `race` is decided by the first task to settle either way; `any` only by the first to fulfil. A rejection
   * decides no `any`: a rejected task that claimed the win would leave the task whose value `any` returns
   * counted as a loser, and a buffered event it took would go back to the buffer and be delivered twice.
   */
  constructor(readonly kind: 'race' | 'any') {}
}

export interface DurableTaskHooks {
  /** Called once when the task is cancelled before settling (the executor drops the timer or the waiter). */
  readonly onCancel?: () => void;
  /**
   * Called once when the task had settled but its value was never used: it lost every race it was in and
   * nothing else subscribed (a buffered event goes back to the buffer for a later wait).
   */
  readonly onUnused?: () => void;
}

/**
 * A durable operation's result. Await it, or combine it with `Promise.all`, `Promise.race`, `Promise.any`
 * and `Promise.allSettled`: the combination resolves the same way on replay as on the first run.
 *
 * `then`, `catch` and `finally` return durable tasks too, so `Promise.race([ctx.createTimer(ms).then(() =>
 * 'late'), …])` still cancels the timer when it loses.
 * @example
 * const [a, b] = await Promise.all([ctx.callActivity('a', 1), ctx.callActivity('b', 2)]);
 */
export class DurableTask<T> implements PromiseLike<T> {
  private outcome: Settled<T> | undefined;
  private cancelled = false;
  private readonly reactions: Array<(outcome: Settled<T>) => void> = [];
  /** Subscriptions made outside a race (a plain `await`, `Promise.all`, a derived task…). */
  private plainSubscribers = 0;
  private readonly races: RaceToken[] = [];
  private wonRace = false;

  constructor(private readonly hooks: DurableTaskHooks = {}) {}

  get isSettled(): boolean {
    return this.outcome !== undefined;
  }

  get isCancelled(): boolean {
    return this.cancelled;
  }

  /** Whether settling this task may run orchestration code (someone subscribed). */
  get hasSubscribers(): boolean {
    return this.reactions.length > 0;
  }

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): DurableTask<R1 | R2> {
    this.plainSubscribers++;
    // The derived task stands for this one in races: if it is abandoned, this one may be too.
    const derived = new DurableTask<R1 | R2>({
      onCancel: () => {
        this.plainSubscribers--;
        this.abandonIfUnwanted();
      },
    });
    this.subscribe()
      .then(onFulfilled, onRejected)
      .then(
        (value) => derived.resolve(value),
        (error: unknown) => derived.reject(error),
      );
    return derived;
  }

  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): DurableTask<T | R> {
    return this.then(undefined, onRejected);
  }

  finally(onFinally?: (() => void) | null): DurableTask<T> {
    return this.then(
      (value) => {
        onFinally?.();
        return value;
      },
      (error: unknown) => {
        onFinally?.();
        throw error;
      },
    );
  }

  /** @internal Subscription on behalf of a race; it stops counting once the race is decided. */
  subscribeInRace(token: RaceToken): Promise<T> {
    this.races.push(token);
    token.tasks.push(this as DurableTask<unknown>);
    const claim = (): void => {
      if (token.winner || token.settled) return;
      token.winner = this as DurableTask<unknown>;
      this.wonRace = true;
    };
    return this.subscribe().then(
      (value) => {
        claim();
        return value;
      },
      (error: unknown) => {
        if (token.kind === 'race') claim();
        throw error;
      },
    );
  }

  /** @internal */
  resolve(value: T): void {
    this.settle({ ok: true, value });
  }

  /** @internal */
  reject(error: unknown): void {
    this.settle({ ok: false, error });
  }

  /**
   * @internal Called when a race this task took part in is decided. If every race it was in is decided, it
   * won none of them and nothing else subscribed, nobody will ever use it: cancel it (or, if it had already
   * settled, hand its value back). A cancelled task rejects with `TASK_CANCELLED` if awaited later.
   */
  cancelIfUnwanted(): void {
    if (this.races.length === 0) return;
    this.abandonIfUnwanted();
  }

  private abandonIfUnwanted(): void {
    if (this.cancelled || this.wonRace || this.plainSubscribers > 0) return;
    if (this.races.some((r) => !r.settled)) return;
    this.cancelled = true;
    if (this.outcome) {
      this.hooks.onUnused?.();
      return;
    }
    this.hooks.onCancel?.();
    this.settle({ ok: false, error: new DurableError('TASK_CANCELLED', 'The task was cancelled: it lost a race.') });
  }

  private subscribe(): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // The rejection reason is whatever the operation failed with (always an Error from the executor).
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      const react = (o: Settled<T>): void => (o.ok ? resolve(o.value) : reject(o.error));
      if (this.outcome) react(this.outcome);
      else this.reactions.push(react);
    });
  }

  private settle(outcome: Settled<T>): void {
    if (this.outcome) return;
    this.outcome = outcome;
    for (const react of this.reactions.splice(0)) react(outcome);
  }
}

/** Whether a value is a durable task. */
export function isDurableTask(value: unknown): value is DurableTask<unknown> {
  return value instanceof DurableTask;
}

type Combinator = (values: Iterable<unknown>) => Promise<unknown>;

/** The functions the durable-aware `Promise.race`/`Promise.any` replaced, while they are in place. */
let replaced: { race: Combinator; any: Combinator } | undefined;
/** Executors currently running orchestration code (their turns interleave at awaits). */
let holders = 0;

function makeDurableAware(native: Combinator, kind: RaceToken['kind']): Combinator {
  return function durableAware(this: unknown, values: Iterable<unknown>): Promise<unknown> {
    const items = Array.from(values);
    // Without a durable task this is the native call, on the same receiver (subclasses keep working).
    if (!items.some(isDurableTask)) return native.call(this, items);
    const token = new RaceToken(kind);
    const subscribed = items.map((x) => (isDurableTask(x) ? x.subscribeInRace(token) : x));
    const result = native.call(this, subscribed);
    const decide = (): void => {
      token.settled = true;
      for (const task of token.tasks) task.cancelIfUnwanted();
    };
    result.then(decide, decide);
    return result;
  };
}

/**
 * Puts durable-aware `Promise.race` and `Promise.any` in place while orchestration code runs, so that once a
 * race over durable tasks is decided, the losing tasks that nobody else awaits are cancelled (a losing timer
 * never fires into the instance; a losing `waitForEvent` stops waiting, leaving later events for later waits).
 * Cancellation happens in a microtask after the race settles, which is part of the executor's drain, so it is
 * deterministic and identical on replay.
 *
 * The globals are replaced only while at least one executor holds the patch (from applying an event until its
 * drain ends) and are restored when the last holder releases it: code outside orchestrations sees the native
 * functions whenever no turn is mid-drain. Holders are counted because executors run concurrently in one process
 * and their turns interleave at awaits; an install/restore pair per executor would restore too early. While
 * patched, calls without a durable task fall through to the native functions unchanged.
 * @returns the release; calling it more than once releases once.
 */
export function holdRaceCancellation(): () => void {
  if (holders++ === 0) {
    // Kept unbound on purpose: they are put back as they were, and called with the caller's receiver.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const native = { race: Promise.race as Combinator, any: Promise.any as Combinator };
    Promise.race = makeDurableAware(native.race, 'race') as typeof Promise.race;
    Promise.any = makeDurableAware(native.any, 'any') as typeof Promise.any;
    replaced = native;
  }
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    if (--holders > 0 || !replaced) return;
    Promise.race = replaced.race as typeof Promise.race;
    Promise.any = replaced.any as typeof Promise.any;
    replaced = undefined;
  };
}

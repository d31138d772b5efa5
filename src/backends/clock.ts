/**
 * Time, injected. Everything that reads the time or waits goes through a `Clock`, so a test can run a
 * 30-day monitoring orchestration in milliseconds by moving a {@link ManualClock} forward instead of sleeping.
 */

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /**
   * Resolves once the clock has moved `ms` forward (at once for `ms <= 0`), or when `signal` aborts
   * (it never rejects: callers re-check their own state after waking).
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * Wall-clock time.
 * @example
 * const clock = new SystemClock(); await clock.sleep(100);
 */
export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}

interface Sleeper {
  readonly until: number;
  readonly wake: () => void;
}

/**
 * A clock that moves only when told to. Sleepers wake, in deadline order, as `advance` passes their deadline.
 * @example
 * const clock = new ManualClock(Date.UTC(2026, 0, 1));
 * const slept = clock.sleep(60_000);
 * clock.advance(60_000); // `slept` resolves
 */
export class ManualClock implements Clock {
  private time: number;
  private sleepers: Sleeper[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const sleeper: Sleeper = {
        until: this.time + ms,
        wake: () => {
          signal?.removeEventListener('abort', sleeper.wake);
          this.sleepers = this.sleepers.filter((s) => s !== sleeper);
          resolve();
        },
      };
      this.sleepers.push(sleeper);
      signal?.addEventListener('abort', sleeper.wake, { once: true });
    });
  }

  /** Moves time forward by `ms` and wakes every sleeper whose deadline has passed. */
  advance(ms: number): void {
    this.advanceTo(this.time + ms);
  }

  /** Moves time to `epochMs` (never backwards) and wakes every sleeper whose deadline has passed. */
  advanceTo(epochMs: number): void {
    if (epochMs <= this.time) return;
    this.time = epochMs;
    const due = this.sleepers.filter((s) => s.until <= this.time).sort((a, b) => a.until - b.until);
    for (const s of due) s.wake();
  }

  /** The earliest deadline anyone sleeps until, if any (time skipping jumps there when all else is idle). */
  nextWakeAt(): number | undefined {
    let next: number | undefined;
    for (const s of this.sleepers) if (next === undefined || s.until < next) next = s.until;
    return next;
  }
}

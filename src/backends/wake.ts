/**
 * Waiting for messages: a receive sleeps on the clock and is woken early when its process sends or releases
 * to the queue. Shared by the queue adapters.
 */
import type { Clock } from './clock.js';

/**
 * The reason a waiter is woken: a constant, because `abort()` without one builds a DOMException (with a stack
 * trace) per wake-up, which showed up at several percent of CPU under load.
 */
const WAKE = 'wake';

/** Sleeps on `clock` for `ms`, waking early when `wakeAll(waiters)` is called or when `signal` aborts. */
export async function sleepUnlessWoken(
  clock: Clock,
  waiters: Set<AbortController>,
  ms: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const waiter = new AbortController();
  const onAbort = (): void => waiter.abort(WAKE);
  waiters.add(waiter);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await clock.sleep(ms, waiter.signal);
  } finally {
    waiters.delete(waiter);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** Wakes every waiter of the set. */
export function wakeAll(waiters: Iterable<AbortController>): void {
  for (const waiter of [...waiters]) waiter.abort(WAKE);
}

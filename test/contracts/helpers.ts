/**
 * Small helpers shared by the contract suites. Nothing here sleeps in real time: tests move a ManualClock.
 */
import { randomUUID } from 'node:crypto';
import type { ManualClock } from '../../src/backends/clock.js';

/** A fresh id, unique across test runs, so suites can share a database with other tests and runs. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${randomUUID()}`;
}

/** Lets pending callbacks and I/O run once. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Yields until `condition` holds, for at most `budgetMs` of real time (adapters that talk to a server need
 * more than one tick). This is a bounded poll, not a sleep: it returns as soon as the condition holds.
 */
export async function eventually(condition: () => boolean, budgetMs = 2000): Promise<boolean> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > budgetMs) return false;
    await tick();
  }
  return true;
}

/** Waits until something sleeps on the clock (e.g. a receive that started waiting); fails the test otherwise. */
export async function untilSleeping(clock: ManualClock): Promise<void> {
  if (!(await eventually(() => clock.nextWakeAt() !== undefined))) {
    throw new Error('Nothing started waiting on the clock.');
  }
}

/** Tracks whether a promise has settled yet, without changing its result. */
export function track<T>(promise: Promise<T>): { readonly promise: Promise<T>; readonly settled: () => boolean } {
  let settled = false;
  const tracked = promise.finally(() => {
    settled = true;
  });
  return { promise: tracked, settled: () => settled };
}

/**
 * Runs redelivered messages alone, so that a poison message dies alone.
 *
 * A message delivered before (`attempt > 1`) may be the one whose run kills the worker process (an exit, an
 * uncaught throw, running out of memory). Every message the dead process had reserved comes back with it, at once
 * on Beanstalkd (the connection closes) and after the reservation on the other queues; taken together again, they
 * would share every crash and all reach the dead-letter limit with the poison. So such a message runs in
 * isolation: no other work of this process runs while it does, on either loop, since a crash kills both.
 *
 * It is guaranteed that (within a bound, see {@link IsolationGate.isolated}):
 * - an isolated run starts only once no ordinary work is running, and ordinary work that was already received
 *   waits while it runs;
 * - at most one message per process is claimed for isolation at a time, and while it is claimed the loops receive
 *   nothing (`opened`), so no other reservation shares its crash but those already taken;
 * - the normal path (no redelivered message) costs no backend call and never waits.
 *
 * A bystander therefore dies at most once with each poison message (on that message's first delivery, when it ran
 * with ordinary work) and then runs alone and succeeds; only the poison message keeps dying, up to `maxDeliveries`.
 */
import type { Delivery } from '../backends/queue.js';

/** What a loop does with the messages of one receive. */
export interface SortedDeliveries {
  /** First deliveries, and those due for the dead letters (their handling runs no user code): run as usual. */
  readonly ordinary: Delivery[];
  /** The one redelivered message this loop has claimed to run alone, after `ordinary`. */
  readonly isolated: Delivery | undefined;
  /** Redelivered messages that must not wait here: release them at once (a release keeps `attempt`). */
  readonly giveBack: Delivery[];
}

/**
 * @example
 * const gate = new IsolationGate();
 * const { ordinary, isolated, giveBack } = gate.sort(deliveries, 10);
 * await gate.ordinary(() => run(ordinary));
 * if (isolated) await gate.isolated(() => run([isolated]), 2000);
 */
export class IsolationGate {
  private running = 0;
  private claimed = false;
  private alone = false;
  private waiters: Array<() => void> = [];

  /** True while a redelivered message is claimed or runs alone: loops must not receive. */
  get closed(): boolean {
    return this.claimed;
  }

  /** Resolves once no message is claimed for isolation (at once in the normal path). */
  async opened(): Promise<void> {
    while (this.claimed) await this.changed();
  }

  /**
   * Splits one receive. A redelivered message is claimed for isolation if no other is; the others are given back,
   * so that none of them dies with the one that runs alone. A caller that gets `isolated` must call
   * {@link isolated} for it (that gives the claim up), whatever happens to `ordinary`.
   */
  sort(deliveries: readonly Delivery[], maxDeliveries: number): SortedDeliveries {
    const ordinary: Delivery[] = [];
    const giveBack: Delivery[] = [];
    let isolated: Delivery | undefined;
    for (const delivery of deliveries) {
      if (delivery.attempt === 1 || delivery.attempt > maxDeliveries) ordinary.push(delivery);
      else if (isolated === undefined && !this.claimed) {
        this.claimed = true;
        isolated = delivery;
      } else giveBack.push(delivery);
    }
    return { ordinary, isolated, giveBack };
  }

  /** Runs ordinary work; it waits only while a message runs alone (it was received before the claim). */
  async ordinary<T>(fn: () => Promise<T>): Promise<T> {
    while (this.alone) await this.changed();
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.notify();
    }
  }

  /**
   * Runs the claimed message alone, once no ordinary work runs, then gives the claim up. Both waits are bounded by
   * `boundMs` (real time), because ordinary work may hang, and so may the isolated run itself (an activity whose
   * previous worker died while it hung): after `boundMs` the message runs beside the work still running, and a
   * run still going after `boundMs` counts as ordinary work from then on, so the worker takes new work again. Only a
   * poison message that takes longer than that to kill its worker takes bystanders with it again.
   */
  async isolated<T>(fn: () => Promise<T>, boundMs: number): Promise<T> {
    let claimHeld = true;
    const giveUpClaim = (): void => {
      if (!claimHeld) return;
      claimHeld = false;
      this.alone = false;
      this.claimed = false;
      this.notify();
    };
    try {
      const waitUntil = Date.now() + boundMs;
      while (this.running > 0 && Date.now() < waitUntil) await this.changedOr(waitUntil - Date.now());
      this.alone = true;
      const run = fn();
      const done = run.then(
        () => 'done' as const,
        () => 'done' as const,
      );
      if ((await this.race(done, boundMs)) === 'done') return await run;
      giveUpClaim();
      return await this.ordinary(() => run);
    } finally {
      giveUpClaim();
    }
  }

  /** Waits for a change, or `ms` at most. */
  private changedOr(ms: number): Promise<void> {
    return this.race(this.changed(), ms).then(() => undefined);
  }

  private async race<T>(promise: Promise<T>, ms: number): Promise<T | 'late'> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), Math.max(ms, 0))));
    try {
      return await Promise.race([promise, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private notify(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}

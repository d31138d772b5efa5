/**
 * Keeps the reservations of running activities alive: one loop per worker renews (`Queue.touch`) every delivery
 * held for a third of the lease or more, so an activity may run for hours while a dead worker's activity comes
 * back within one lease. One loop rather than a timer per activity: most activities end long before their first
 * renewal, so holding one costs a map insertion and a deletion, and no timer.
 *
 * A renewal that fails (the backend hiccups) is tried again on the next round. One refused (the lease already
 * expired and the message went to another worker) stops renewing that delivery: this run's result is still sent,
 * and the orchestration keeps the first result it receives.
 */
import type { Clock } from '../backends/clock.js';
import type { Delivery, Queue } from '../backends/queue.js';
import { LOG_EVENTS } from '../observability/log-events.js';
import type { Logger } from '../observability/logger.js';

export interface LeaseKeeperOptions {
  readonly queue: Queue;
  readonly clock: Clock;
  /** The reservation's length; renewed once a third of it has passed. */
  readonly leaseMs: number;
  readonly logger: Logger;
}

/**
 * @example
 * const leases = new LeaseKeeper({ queue, clock, leaseMs: 60_000, logger });
 * const release = leases.hold(delivery);
 * try { await run(delivery); } finally { release(); }
 */
export class LeaseKeeper {
  /** Each held delivery and when its lease was last (re)started. */
  private readonly held = new Map<Delivery, number>();
  private loop: Promise<void> | undefined;
  private readonly stopped = new AbortController();

  constructor(private readonly options: LeaseKeeperOptions) {}

  /** Keeps `delivery`'s reservation alive until the returned function is called. */
  hold(delivery: Delivery): () => void {
    this.held.set(delivery, this.options.clock.now());
    // Started on first use and kept until `close` (one timer per third of a lease): a loop that ended whenever
    // nothing was held could miss a hold made between its last check and its end.
    this.loop ??= this.renewUntilClosed();
    return () => {
      this.held.delete(delivery);
    };
  }

  /** Stops renewing (the worker is stopping; what is still held comes back after its lease). */
  close(): void {
    this.stopped.abort();
  }

  private async renewUntilClosed(): Promise<void> {
    const { queue, clock, leaseMs, logger } = this.options;
    const every = leaseMs / 3;
    while (!this.stopped.signal.aborted) {
      await clock.sleep(every, this.stopped.signal);
      if (this.stopped.signal.aborted) return;
      const now = clock.now();
      const due = [...this.held].filter(([, since]) => now - since >= every).map(([delivery]) => delivery);
      await Promise.all(
        due.map(async (delivery) => {
          const renewed = await queue.touch(delivery, leaseMs).catch(() => undefined);
          if (!this.held.has(delivery) || renewed === undefined) return;
          if (renewed) {
            this.held.set(delivery, now);
            return;
          }
          this.held.delete(delivery);
          logger.warn({
            event: LOG_EVENTS.activityLeaseLost,
            instanceId: delivery.message.instanceId,
            messageId: delivery.message.id,
          });
        }),
      );
    }
  }
}

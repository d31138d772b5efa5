/**
 * Raised events and the waits for them. Events nobody waits for are kept in arrival order; a wait takes the
 * oldest event with its name or waits for the next one. Event ids seen are remembered to drop repeats.
 */
import type { HistoryEventOf } from './history.js';
import { DurableTask } from './task.js';

type Raised = HistoryEventOf<'EventRaised'>;

/**
 * How many event ids an instance remembers across continue-as-new: the newest 256. An event raised again with the
 * same id is dropped if its first copy is among them (in practice: raised in the last 256 events, whatever the
 * generation); an older repeat is delivered again. Within one generation every id is remembered.
 */
export const EVENT_ID_WINDOW = 256;

interface Waiter {
  readonly name: string;
  readonly task: DurableTask<unknown>;
  /** Cancels the wait's timeout timer, if it has one. */
  readonly cancelTimeout: () => void;
}

export class EventInbox {
  private readonly seen = new Set<string>();
  /** `order` restores arrival order when an event is handed back. */
  private readonly buffered: Array<{ readonly event: Raised; readonly order: number }> = [];
  private readonly waiters: Waiter[] = [];
  private arrivals = 0;

  hasSeen(messageId: string): boolean {
    return this.seen.has(messageId);
  }

  /** Ids carried over from the previous generations: their repeats are dropped here too. */
  rememberSeen(ids: readonly string[]): void {
    for (const id of ids) this.seen.add(id);
  }

  /** The newest {@link EVENT_ID_WINDOW} event ids seen, oldest first: what the next generation remembers. */
  recentIds(): string[] {
    return [...this.seen].slice(-EVENT_ID_WINDOW);
  }

  /** Notes an event as arrived (also while it is held during a suspension), so a second copy is dropped. */
  noteArrival(event: Raised): void {
    this.seen.add(event.messageId);
  }

  /** Whether an event with this name is waiting to be taken. */
  hasBuffered(name: string): boolean {
    return this.buffered.some((b) => b.event.name === name);
  }

  /** Delivers an event: to the oldest wait for its name (returns true), or into the buffer. */
  deliver(event: Raised): boolean {
    this.seen.add(event.messageId);
    const index = this.waiters.findIndex((w) => w.name === event.name);
    const waiter = index >= 0 ? this.waiters.splice(index, 1)[0] : undefined;
    if (!waiter) {
      this.buffered.push({ event, order: this.arrivals++ });
      return false;
    }
    waiter.cancelTimeout();
    waiter.task.resolve(event.input);
    return true;
  }

  /**
   * A wait for `name`: settled at once with the oldest buffered event, or pending until one arrives. A wait that
   * loses a race gives its event back (if it had one) or stops waiting (so a later wait gets the next event).
   */
  wait(name: string, cancelTimeout: () => void): DurableTask<unknown> {
    const index = this.buffered.findIndex((b) => b.event.name === name);
    const taken = index >= 0 ? this.buffered.splice(index, 1)[0] : undefined;
    if (taken) {
      const ready = new DurableTask<unknown>({
        onUnused: () => {
          const at = this.buffered.findIndex((b) => b.order > taken.order);
          this.buffered.splice(at < 0 ? this.buffered.length : at, 0, taken);
        },
      });
      ready.resolve(taken.event.input);
      return ready;
    }
    const task: DurableTask<unknown> = new DurableTask<unknown>({
      onCancel: () => {
        this.removeWaiter(waiter);
        cancelTimeout();
      },
    });
    const waiter: Waiter = { name, task, cancelTimeout };
    this.waiters.push(waiter);
    return task;
  }

  /** Ends a wait with an error (its timeout fired) if it is still waiting. */
  expire(task: DurableTask<unknown>, error: Error): void {
    const waiter = this.waiters.find((w) => w.task === task);
    if (!waiter) return;
    this.removeWaiter(waiter);
    task.reject(error);
  }

  /** Takes every buffered event (continue-as-new with `keepUnprocessedEvents`). */
  takeAll(): Raised[] {
    return this.buffered.splice(0).map((b) => b.event);
  }

  /** Puts events carried over from the previous generation in the buffer, in their order. */
  carryIn(carried: readonly Raised[]): void {
    for (const event of carried) {
      this.seen.add(event.messageId);
      this.buffered.push({ event, order: this.arrivals++ });
    }
  }

  private removeWaiter(waiter: Waiter): void {
    const i = this.waiters.indexOf(waiter);
    if (i >= 0) this.waiters.splice(i, 1);
  }
}

/**
 * A complete Durable in one process, on in-memory backends and a manual clock: for tests of orchestrations.
 *
 * Time moves only when the environment moves it. `waitForCompletion` skips time: whenever every queue is empty
 * and the worker is idle, it jumps the clock to the next timer, so a 30-day monitoring orchestration finishes in
 * milliseconds. Between waits the clock stands still, so a test can start an instance, `settle()`, raise an
 * event, and only then let time run (Temporal's time-skipping test environment works the same way).
 */
import type { App } from '../engine/app.js';
import { TimeoutError } from '../engine/errors.js';
import { QUEUE_NAMES } from '../engine/messages.js';
import { isTerminal } from '../engine/status.js';
import { ManualClock } from '../backends/clock.js';
import { MemoryLock } from '../backends/memory/memory-lock.js';
import { MemoryQueue } from '../backends/memory/memory-queue.js';
import { MemoryStore } from '../backends/memory/memory-store.js';
import type { InstanceStatus } from '../client/client.js';
import { DurableClient } from '../client/client.js';
import type { Logger } from '../observability/logger.js';
import type { WorkerOptions } from '../runtime/worker.js';
import { Worker } from '../runtime/worker.js';

export interface TestEnvironmentOptions {
  /** Initial clock time (epoch ms). Default 2026-01-01T00:00:00Z. */
  readonly startAt?: number;
  readonly logger?: Logger;
  /** Worker tuning (concurrency, max deliveries…). */
  readonly worker?: Partial<Omit<WorkerOptions, 'app' | 'store' | 'queue' | 'lock' | 'clock' | 'logger'>>;
  /** Start the default worker (default true). Set false to add workers yourself with `startWorker`. */
  readonly startWorker?: boolean;
}

/**
 * A further worker on the environment's backends; `store`, `queue` and `lock` may wrap the shared ones (fault
 * injection).
 */
export type ExtraWorkerOptions = Partial<Omit<WorkerOptions, 'clock'>>;

/**
 * @example
 * const env = TestEnvironment.start(app);
 * const id = await env.client.start('monitor', { checks: 30 });
 * const done = await env.waitForCompletion(id); // 30 days of timers, in milliseconds
 * await env.close();
 */
export class TestEnvironment {
  readonly clock: ManualClock;
  readonly store = new MemoryStore();
  readonly queue: MemoryQueue;
  readonly lock: MemoryLock;
  readonly worker: Worker;
  readonly client: DurableClient;
  private readonly workers = new Set<Worker>();

  private constructor(
    private readonly app: App,
    private readonly options: TestEnvironmentOptions,
  ) {
    this.clock = new ManualClock(options.startAt);
    this.queue = new MemoryQueue({ clock: this.clock });
    this.lock = new MemoryLock({ clock: this.clock });
    this.worker = new Worker({
      app,
      store: this.store,
      queue: this.queue,
      lock: this.lock,
      clock: this.clock,
      ...(options.logger ? { logger: options.logger } : {}),
      ...options.worker,
    });
    this.client = new DurableClient({
      store: this.store,
      queue: this.queue,
      clock: this.clock,
      orchestrations: Object.keys(app.orchestrations),
      entities: Object.keys(app.entities),
      events: app.events,
    });
  }

  /** Creates the environment and starts its worker. */
  static start(app: App, options: TestEnvironmentOptions = {}): TestEnvironment {
    const env = new TestEnvironment(app, options);
    if (options.startWorker !== false) {
      env.workers.add(env.worker);
      env.worker.start();
    }
    return env;
  }

  /** Starts another worker on the same backends (a second process, or a new version of the code). */
  startWorker(options: ExtraWorkerOptions = {}): Worker {
    const worker = new Worker({
      app: this.app,
      store: this.store,
      queue: this.queue,
      ...(this.options.logger ? { logger: this.options.logger } : {}),
      ...this.options.worker,
      lock: this.lock,
      ...options,
      clock: this.clock,
    });
    this.workers.add(worker);
    worker.start();
    return worker;
  }

  /** Stops a worker gracefully (it finishes what it runs) and forgets it. */
  async stopWorker(worker: Worker): Promise<void> {
    await worker.stop();
    this.workers.delete(worker);
  }

  /** Resolves once nothing can happen without time moving: no visible messages, every worker idle. */
  async settle(): Promise<void> {
    for (let quiet = 0, round = 0; quiet < 3; round++) {
      // Yield to the event loop: short for the first rounds, then 1 ms so real-time activities don't spin a core.
      await new Promise((resolve) => (round < 50 ? setImmediate(resolve) : setTimeout(resolve, 1)));
      quiet = (await this.isIdle()) ? quiet + 1 : 0;
    }
  }

  /** Moves the clock forward by `ms`, firing every timer due by then, and settles. */
  async advance(ms: number): Promise<void> {
    await this.settle();
    const target = this.clock.now() + ms;
    for (;;) {
      const next = await this.nextDueAt();
      if (next === undefined || next > target) break;
      this.clock.advanceTo(Math.max(next, this.clock.now()));
      await this.settle();
    }
    this.clock.advanceTo(target);
    await this.settle();
  }

  /**
   * Runs the instance to its end, skipping time whenever everything is idle. Throws if it can never end
   * (idle, no timer pending: it waits for an event nobody will raise) or if more than `timeoutMs` of virtual
   * time would pass.
   */
  async waitForCompletion(instanceId: string, options: { timeoutMs?: number } = {}): Promise<InstanceStatus> {
    const deadline = options.timeoutMs === undefined ? Infinity : this.clock.now() + options.timeoutMs;
    for (;;) {
      await this.settle();
      const status = await this.client.getStatus(instanceId);
      if (!status) throw new Error(`No instance ${instanceId}.`);
      if (isTerminal(status.status)) return status;
      const next = await this.nextDueAt();
      if (next === undefined) {
        throw new Error(
          `Instance ${instanceId} is ${status.status} and idle with no timer pending: it waits for something (an event?) that nothing will send.`,
        );
      }
      if (next > deadline) {
        throw new TimeoutError(
          `Instance ${instanceId} did not complete within ${options.timeoutMs} ms of virtual time.`,
        );
      }
      this.clock.advanceTo(Math.max(next, this.clock.now()));
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.workers].map((w) => w.stop()));
    this.workers.clear();
    await this.queue.close();
    await this.store.close();
    await this.lock.close();
  }

  private async isIdle(): Promise<boolean> {
    // Reserved messages count as idle once every worker is idle: their worker "crashed" (a test did that on
    // purpose) and only time, by expiring the reservation, brings them back.
    const workersIdle = (): boolean => [...this.workers].every((w) => w.idle);
    if (!workersIdle()) return false;
    for (const name of QUEUE_NAMES) {
      if ((await this.queue.depth(name)).ready > 0) return false;
    }
    return workersIdle();
  }

  private async nextDueAt(): Promise<number | undefined> {
    const times = await Promise.all([
      this.queue.nextVisibleAt('orchestrations'),
      this.queue.nextVisibleAt('activities'),
    ]);
    const due = times.filter((t): t is number => t !== undefined);
    return due.length > 0 ? Math.min(...due) : undefined;
  }
}

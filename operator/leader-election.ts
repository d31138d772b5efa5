/**
 * Leader election on a `coordination.k8s.io/v1` Lease, with the semantics of client-go's `leaderelection` package,
 * so that two operator replicas never reconcile at once.
 *
 * WHAT IS IN IT
 * - A candidate tries every `retryPeriodMs` (plus up to 20 % jitter). It takes the Lease when it does not exist
 *   (create), when nobody holds it (`holderIdentity` empty: released), or when it has expired **as this observer
 *   sees it**: the record has not changed for `leaseDurationSeconds` since this elector first saw its current
 *   `resourceVersion`. Another machine's `renewTime` is never compared with our clock, so clock skew cannot make a
 *   live Lease look expired. Every write is conditional on the `resourceVersion` read: a 409 means someone else
 *   won, which is an outcome, not an error.
 * - The leader renews every `retryPeriodMs`. Its term ends locally `renewDeadlineMs` after the last renewal that
 *   succeeded was *sent*; others can see the Lease expire no earlier than `leaseDurationMs` after that write
 *   reached the server, so the leader steps down (aborts the term's signal, calls `onStoppedLeading`) at least
 *   `leaseDurationMs - renewDeadlineMs` before anyone else can take over. A request still pending at the deadline
 *   is abandoned, and {@link LeaderElector.isLeader} turns false at the deadline even if the process was paused
 *   past it.
 * - A 429 pauses every request for its Retry-After; any other failure costs one attempt. Nothing throws out of the
 *   loop, and no failure makes it retry sooner than `retryPeriodMs`.
 * - After stepping down the elector campaigns again, once the term's `onStartedLeading` has settled (so two terms
 *   of this process never overlap). client-go's `Run` returns instead and the process exits.
 * - `stop()`: the term's signal aborts; the Lease is kept (renewed) until `onStartedLeading` settles, then released
 *   (`holderIdentity` empty, `leaseDurationSeconds` 1, as client-go's `ReleaseOnCancel`), so a standby takes over
 *   within one retry period, and never while the old leader's work still runs.
 *
 * WHAT IS DELIBERATELY NOT
 * - No fencing: work that ignores the abort signal can outlive the term. Safety needs the work to stop within
 *   `leaseDurationMs - renewDeadlineMs` of the signal (the reconciles' own writes are conditional anyway).
 * - No protection against the Lease being deleted or rewritten by hand (a 404 or a foreign holder on renewal ends
 *   the term at once, but a candidate may have acted first), or two processes sharing one identity.
 * - No Lease `preferredHolder`/coordinated election (KEP-3962): any candidate may win.
 */
import { Observable, type CoordinationV1Api, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';
import { SystemClock, type Clock } from '../src/backends/clock.js';
import { abortableOptions, errorInfo, retryAfterMs } from '../src/backends/kubernetes/api-calls.js';
import { LOG_EVENTS, type LogEventName } from '../src/observability/log-events.js';
import { silentLogger, type Logger } from '../src/observability/logger.js';

export interface LeaderElectorOptions {
  readonly api: CoordinationV1Api;
  /** Where the Lease lives (the operator's own namespace). */
  readonly namespace: string;
  /** The Lease's name, e.g. `durable-operator`. */
  readonly name: string;
  /** This candidate's `holderIdentity`; unique per process (the pod name). */
  readonly identity: string;
  /** How long others wait after the Lease last changed before taking it. Default 15 000 ms (client-go's). */
  readonly leaseDurationMs?: number;
  /** How long the leader keeps leading without a successful renewal. Default 10 000 ms; less than the lease. */
  readonly renewDeadlineMs?: number;
  /** Between attempts to acquire or renew. Default 2 000 ms; less than the renew deadline. */
  readonly retryPeriodMs?: number;
  /** Measures the lease and waits between attempts; must be monotonic. Default `performance.now()` based. */
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export interface LeaderCallbacks {
  /**
   * This process now leads. `signal` aborts when it stops leading; the work must then stop promptly. A returned
   * promise is awaited before the Lease is released on `stop()` and before the elector campaigns again.
   */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  /** This process no longer leads (lost, or stopped): called once per term, right after the signal aborted. */
  onStoppedLeading(): void;
  /** The observed holder changed (this process included); not called when the Lease is released. */
  onNewLeader?(identity: string): void;
}

interface Observation {
  readonly resourceVersion: string;
  /** Our clock when this version was first seen: the lease runs from here for us, whatever its `renewTime` says. */
  readonly seenAt: number;
  readonly lease: V1Lease;
}

interface Term {
  readonly controller: AbortController;
  /** Our clock: the end of the term unless a renewal sent before it succeeds. */
  deadline: number;
}

type CallResult<T> = { ok: true; value: T } | { ok: false; status?: number };
type RenewOutcome = 'renewed' | 'failed' | 'lost';

const systemClock = new SystemClock();
/** Epoch-based like `Date.now()`, but never jumps when the system clock is set. */
const monotonicClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  sleep: (ms, signal) => systemClock.sleep(ms, signal),
};

/**
 * @example
 * const elector = new LeaderElector({
 *   api: kc.makeApiClient(CoordinationV1Api), namespace: process.env.POD_NAMESPACE!, name: 'durable-operator',
 *   identity: process.env.POD_NAME!,
 * });
 * const running = elector.run({
 *   onStartedLeading: (signal) => controllers.run(signal),
 *   onStoppedLeading: () => logger.info({ event: 'leader.lost' }),
 * });
 * process.on('SIGTERM', () => void elector.stop());
 * await running;
 */
export class LeaderElector {
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  private readonly leaseSeconds: number;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private observed: Observation | undefined;
  /** Our last successful write, while leading: renewals are conditional on its resourceVersion. */
  private lastWritten: V1Lease | undefined;
  private term: Term | undefined;
  private reportedLeader: string | undefined;
  private pausedUntil = 0;
  private stopped = false;
  private running: Promise<void> | undefined;
  private wakeSleeper: AbortController | undefined;

  constructor(private readonly options: LeaderElectorOptions) {
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (!(this.retryPeriodMs > 0 && this.retryPeriodMs < this.renewDeadlineMs)) {
      throw new RangeError(
        `retryPeriodMs (${this.retryPeriodMs}) must be positive and less than renewDeadlineMs (${this.renewDeadlineMs})`,
      );
    }
    if (!(this.renewDeadlineMs < this.leaseDurationMs)) {
      throw new RangeError(
        `renewDeadlineMs (${this.renewDeadlineMs}) must be less than leaseDurationMs (${this.leaseDurationMs}), ` +
          'so that a leader steps down before the others can see its lease expire',
      );
    }
    if (!options.identity) throw new RangeError('identity must be a non-empty string (the pod name)');
    this.leaseSeconds = Math.ceil(this.leaseDurationMs / 1000);
    this.clock = options.clock ?? monotonicClock;
    this.logger = options.logger ?? silentLogger;
  }

  /** Whether this process leads now: false from the moment its term's deadline passes, whatever the timers did. */
  isLeader(): boolean {
    const term = this.term;
    return term !== undefined && !term.controller.signal.aborted && this.clock.now() < term.deadline;
  }

  /** The holder last observed on the Lease (this process when it leads); undefined when nobody holds it. */
  leader(): string | undefined {
    return this.reportedLeader;
  }

  /** Campaigns, leads, and campaigns again after losing, until {@link stop}; resolves once stopped. Once only. */
  run(callbacks: LeaderCallbacks): Promise<void> {
    if (this.running) throw new Error('LeaderElector.run() was called already');
    this.running = this.campaign(callbacks);
    return this.running;
  }

  /** Stops campaigning; a leader releases the Lease once its work has settled. Resolves when `run()` has ended. */
  stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    return this.running ?? Promise.resolve();
  }

  private async campaign(callbacks: LeaderCallbacks): Promise<void> {
    while (!this.stopped) {
      let acquiredAt: number | undefined;
      try {
        acquiredAt = await this.tryAcquire(callbacks);
      } catch (error) {
        // Every API failure is handled in call(); this is a bug, which must not end the election.
        this.logger.warn({ event: LOG_EVENTS.leaderAcquireFailed, lease: this.options.name, error: errorInfo(error) });
      }
      if (acquiredAt !== undefined) {
        await this.lead(callbacks, acquiredAt);
        continue;
      }
      if (this.stopped) break;
      const jittered = this.retryPeriodMs * (1 + 0.2 * Math.random());
      await this.sleepUntil(Math.max(this.clock.now() + jittered, this.pausedUntil));
    }
  }

  /** One attempt as a candidate: the local time the acquiring write was sent, if it succeeded. */
  private async tryAcquire(callbacks: LeaderCallbacks): Promise<number | undefined> {
    const { api, namespace, name } = this.options;
    const read = await this.call(LOG_EVENTS.leaderAcquireFailed, this.renewDeadlineMs, (o) =>
      api.readNamespacedLease({ name, namespace }, o),
    );
    if (!read.ok) return read.status === 404 ? this.create(callbacks) : undefined;
    this.observe(read.value, callbacks);
    const observed = this.observed!;
    const holder = observed.lease.spec?.holderIdentity;
    const expired = this.clock.now() >= this.expiresAt(observed);
    if (holder && holder !== this.options.identity && !expired) return undefined;
    const how = !holder ? 'free' : holder === this.options.identity ? 'own' : 'expired';
    const sentAt = this.clock.now();
    const written = await this.replace(this.acquiring(observed.lease), LOG_EVENTS.leaderAcquireFailed);
    if (!written.ok) return undefined;
    this.lastWritten = written.value;
    this.observe(written.value, callbacks);
    this.logger.info({ event: LOG_EVENTS.leaderAcquired, lease: name, how, previous: holder || null });
    return sentAt;
  }

  private async create(callbacks: LeaderCallbacks): Promise<number | undefined> {
    const { api, namespace, name } = this.options;
    const now = new Date();
    const body: V1Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace },
      spec: { ...this.holding(), acquireTime: now, renewTime: now, leaseTransitions: 0 },
    };
    const sentAt = this.clock.now();
    const created = await this.call(LOG_EVENTS.leaderAcquireFailed, this.renewDeadlineMs, (o) =>
      api.createNamespacedLease({ namespace, body }, o),
    );
    if (!created.ok) return undefined; // 409: another candidate created it first
    this.lastWritten = created.value;
    this.observe(created.value, callbacks);
    this.logger.info({ event: LOG_EVENTS.leaderAcquired, lease: name, how: 'created', previous: null });
    return sentAt;
  }

  /** The spec that makes us the holder: a new term (transitions + 1) unless the record already names us. */
  private acquiring(current: V1Lease): V1Lease {
    const spec = current.spec ?? {};
    const now = new Date();
    const ours = spec.holderIdentity === this.options.identity;
    return {
      ...current,
      spec: {
        ...spec,
        ...this.holding(),
        acquireTime: ours ? (spec.acquireTime ?? now) : now,
        renewTime: now,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (ours ? 0 : 1),
      },
    };
  }

  private holding(): Pick<V1LeaseSpec, 'holderIdentity' | 'leaseDurationSeconds'> {
    return { holderIdentity: this.options.identity, leaseDurationSeconds: this.leaseSeconds };
  }

  private async lead(callbacks: LeaderCallbacks, acquiredAt: number): Promise<void> {
    const term: Term = { controller: new AbortController(), deadline: acquiredAt + this.renewDeadlineMs };
    this.term = term;
    if (this.stopped) {
      // Stopped while the acquiring write was in flight: no work was started, hand the Lease back at once.
      this.term = undefined;
      term.controller.abort();
      await this.release(acquiredAt + this.renewDeadlineMs);
      return;
    }
    let settled = false;
    const work = this.startWork(callbacks, term.controller.signal).then(() => {
      settled = true;
      this.wake();
    });
    let nextRenewAt = acquiredAt + this.retryPeriodMs;
    let lost = false;
    for (;;) {
      if (this.stopped) term.controller.abort();
      // Stopped and the work has ended: nothing of this term runs any more, so the Lease can go.
      if ((this.stopped && settled) || lost || this.clock.now() >= term.deadline) break;
      await this.sleepUntil(Math.min(nextRenewAt, term.deadline));
      // Woken early (stopped, or the work settled): check again. A stopped leader keeps renewing until its work ends.
      if (this.clock.now() < nextRenewAt) continue;
      const outcome = await this.renew(callbacks, term);
      lost = outcome === 'lost';
      nextRenewAt = Math.max(this.clock.now() + this.retryPeriodMs, this.pausedUntil);
    }
    // Step down before anything else can wait: isLeader() turns false, the work is told, then the callback.
    const releasable = !lost && this.clock.now() < term.deadline;
    this.term = undefined;
    term.controller.abort();
    if (!this.stopped) {
      this.logger.warn({ event: LOG_EVENTS.leaderLost, lease: this.options.name, lost });
    } else if (releasable) {
      await this.release(term.deadline);
    }
    this.callback(() => callbacks.onStoppedLeading());
    await work;
  }

  private startWork(callbacks: LeaderCallbacks, signal: AbortSignal): Promise<void> {
    return Promise.resolve()
      .then(() => callbacks.onStartedLeading(signal))
      .then(
        () => undefined,
        (error: unknown) =>
          this.logger.error({ event: LOG_EVENTS.leaderCallbackFailed, callback: 'onStartedLeading', error }),
      );
  }

  /** One renewal, abandoned at the term's deadline. `lost`: the Lease names someone else, or is gone. */
  private async renew(callbacks: LeaderCallbacks, term: Term): Promise<RenewOutcome> {
    const { api, namespace, name } = this.options;
    if (this.clock.now() < this.pausedUntil) return 'failed'; // throttled: nothing sent, our last write still stands
    let current = this.lastWritten;
    if (!current) {
      // The last write failed or conflicted: what is on the server now decides whether we still hold it.
      const read = await this.call(LOG_EVENTS.leaderRenewFailed, term.deadline - this.clock.now(), (o) =>
        api.readNamespacedLease({ name, namespace }, o),
      );
      if (!read.ok) return read.status === 404 ? 'lost' : 'failed';
      this.observe(read.value, callbacks);
      if (read.value.spec?.holderIdentity !== this.options.identity) return 'lost';
      current = read.value;
    }
    const body: V1Lease = { ...current, spec: { ...current.spec, ...this.holding(), renewTime: new Date() } };
    const sentAt = this.clock.now();
    const written = await this.replace(body, LOG_EVENTS.leaderRenewFailed, term.deadline - sentAt);
    if (!written.ok) {
      this.lastWritten = undefined;
      return written.status === 404 ? 'lost' : 'failed';
    }
    this.lastWritten = written.value;
    this.observe(written.value, callbacks);
    if (this.term === term) term.deadline = sentAt + this.renewDeadlineMs;
    return 'renewed';
  }

  /** Hands the Lease back, as client-go's ReleaseOnCancel: a candidate sees it free and takes it at once. */
  private async release(deadline: number): Promise<void> {
    const { api, namespace, name } = this.options;
    let current = this.lastWritten;
    if (!current) {
      const read = await this.call(LOG_EVENTS.leaderReleaseFailed, deadline - this.clock.now(), (o) =>
        api.readNamespacedLease({ name, namespace }, o),
      );
      if (!read.ok || read.value.spec?.holderIdentity !== this.options.identity) return;
      current = read.value;
    }
    const now = new Date();
    const body: V1Lease = {
      ...current,
      spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now },
    };
    const released = await this.replace(body, LOG_EVENTS.leaderReleaseFailed, deadline - this.clock.now());
    this.lastWritten = undefined;
    if (released.ok) {
      this.reportedLeader = undefined;
      this.logger.info({ event: LOG_EVENTS.leaderReleased, lease: name });
    }
  }

  private replace(body: V1Lease, event: LogEventName, timeoutMs = this.renewDeadlineMs): Promise<CallResult<V1Lease>> {
    const { api, namespace, name } = this.options;
    return this.call(event, timeoutMs, (o) => api.replaceNamespacedLease({ name, namespace, body }, o));
  }

  /** Records what the Lease says now; a new resourceVersion restarts its lease on our clock. */
  private observe(lease: V1Lease, callbacks: LeaderCallbacks): void {
    const version = lease.metadata?.resourceVersion ?? '';
    if (this.observed?.resourceVersion !== version) {
      this.observed = { resourceVersion: version, seenAt: this.clock.now(), lease };
    }
    const holder = lease.spec?.holderIdentity || undefined;
    if (holder === this.reportedLeader) return;
    this.reportedLeader = holder;
    if (holder === undefined) return;
    this.logger.info({ event: LOG_EVENTS.leaderObserved, lease: this.options.name, holder });
    this.callback(() => callbacks.onNewLeader?.(holder));
  }

  private expiresAt(observed: Observation): number {
    return observed.seenAt + (observed.lease.spec?.leaseDurationSeconds ?? this.leaseSeconds) * 1000;
  }

  /**
   * One API request, abandoned (and its HTTP request aborted) after `timeoutMs`, so a hung API server cannot hold a
   * leader past its deadline. While a 429's Retry-After runs nothing is sent. Failures are logged and returned.
   */
  private async call<T>(
    event: LogEventName,
    timeoutMs: number,
    request: (options: ReturnType<typeof abortableOptions>) => Promise<T>,
  ): Promise<CallResult<T>> {
    if (this.clock.now() < this.pausedUntil || timeoutMs <= 0) return { ok: false };
    const abort = new AbortController();
    const timer = new AbortController();
    const timedOut = new Promise<never>((_, reject) => {
      void this.clock.sleep(timeoutMs, timer.signal).then(() => {
        if (timer.signal.aborted) return;
        abort.abort();
        reject(new Error(`no answer from the API server in ${Math.round(timeoutMs)} ms`));
      });
    });
    const pending = request(abortableOptions(Observable, abort.signal));
    pending.catch(() => undefined); // it may fail after the timeout won the race
    try {
      return { ok: true, value: await Promise.race([pending, timedOut]) };
    } catch (error) {
      return this.failed(event, error);
    } finally {
      timer.abort();
    }
  }

  private failed(event: LogEventName, error: unknown): { ok: false; status?: number } {
    const info = errorInfo(error);
    const wait = retryAfterMs(error);
    if (wait !== undefined) {
      this.pausedUntil = Math.max(this.pausedUntil, this.clock.now() + wait);
      this.logger.warn({ event: LOG_EVENTS.leaderThrottled, lease: this.options.name, retryAfterMs: wait });
    } else if (info.status !== 409 && info.status !== 404) {
      // A 409 is a lost race and a 404 a Lease not created yet: outcomes, not failures worth a warning.
      this.logger.warn({ event, lease: this.options.name, error: info });
    }
    return info.status === undefined ? { ok: false } : { ok: false, status: info.status };
  }

  /** Runs a user callback; one that throws is logged, never allowed to end the election. */
  private callback(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.logger.error({ event: LOG_EVENTS.leaderCallbackFailed, error });
    }
  }

  private sleepUntil(at: number): Promise<void> {
    const ms = at - this.clock.now();
    if (ms <= 0) return Promise.resolve();
    const sleeper = new AbortController();
    this.wakeSleeper = sleeper;
    return this.clock.sleep(ms, sleeper.signal).finally(() => {
      if (this.wakeSleeper === sleeper) this.wakeSleeper = undefined;
    });
  }

  /** Ends the current sleep early (stop, or the term's work settled): the loops re-check their state. */
  private wake(): void {
    this.wakeSleeper?.abort();
  }
}

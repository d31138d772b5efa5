/**
 * {@link PartitionOwnership} on Kubernetes `coordination.k8s.io/v1` Leases: one Lease per partition, one member
 * Lease per worker, and one loop per worker that, every renew interval, lists the app's Leases (one read), renews
 * what it holds (one write per held Lease and one for its member Lease) and rebalances.
 *
 * The Lease fields mean what they mean to Kubernetes leader election (client-go's `leaderelection`):
 * `holderIdentity`, `leaseDurationSeconds`, `acquireTime` (a new holder), `renewTime` (every renewal) and
 * `leaseTransitions` (bumped whenever the holder changes). A release writes an empty `holderIdentity`, as client-go's
 * `ReleaseOnCancel` does. Every write is conditional on the `resourceVersion` read: a 409 means another worker
 * won, and the loop re-reads, never forces.
 *
 * Expiry is judged on the observer's own monotonic clock, never by comparing another machine's `renewTime` with
 * ours: a Lease is expired when its record has not changed for `leaseDurationSeconds` since this process first saw
 * its current version. And this process's own hold ends locally `safetyMarginMs` before that could happen anywhere
 * (counted from when its last successful renewal was *sent*), so a worker paused past its lease stops on waking.
 *
 * Sharing: the live members (member Leases not expired, sorted by identity) split the partitions by count: the
 * first `partitions % members` get one more than `floor(partitions / members)`. A worker over its count drains and
 * releases its highest partitions; one under it takes free or expired ones, starting from a point hashed from its
 * identity so that joiners do not all race for the same Lease. When the members agree the counts sum to exactly
 * `partitions`, so in steady state nothing moves and the only writes are renewals.
 */
import type { ConfigurationOptions, CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import { abortableOptions, errorInfo, retryAfterMs, type ObservableClass } from './api-calls.js';
import type { PartitionHold, PartitionOwnership } from '../partitions.js';
import { DEFAULT_PARTITIONS, MAX_PARTITIONS } from '../partitions.js';
import {
  APP_ANNOTATION,
  APP_LABEL,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  POOL_LABEL,
  PARTITION_LABEL,
  ROLE_LABEL,
  appSegment,
  appSelector,
  memberLeaseName,
  partitionLeaseName,
} from './lease-names.js';

/** The log events of this adapter; each is in the catalogue (`src/observability/log-events.ts`). */
export type PartitionLeaseEvent =
  | 'leases.list_failed'
  | 'leases.renew_failed'
  | 'leases.acquire_failed'
  | 'leases.release_failed'
  | 'leases.member_failed'
  | 'leases.drain_failed'
  | 'leases.throttled'
  | 'leases.acquired'
  | 'leases.released'
  | 'leases.lost';

/**
 * The part of the project's `Logger` (src/observability/logger.ts) this adapter uses. Declared here because
 * backends import nothing above the engine; a `Logger` (or a pino logger) satisfies it as is.
 */
export interface PartitionLeasesLogger {
  info(fields: { readonly event: PartitionLeaseEvent; readonly [field: string]: unknown }, message?: string): void;
  warn(fields: { readonly event: PartitionLeaseEvent; readonly [field: string]: unknown }, message?: string): void;
}

export interface PartitionLeasesOptions {
  readonly api: CoordinationV1Api;
  readonly namespace: string;
  /** The deployment's app name: any string (it is encoded into Lease names and labels). */
  readonly app: string;
  /** Default {@link DEFAULT_PARTITIONS}; every process of the app must use the same number. */
  readonly partitions?: number;
  /** This process's `holderIdentity`: the pod name plus a per-boot id, e.g. `web-7f9c/3b1e…`. */
  readonly identity: string;
  /** Default 15 000 ms; written to the Leases rounded up to whole seconds. */
  readonly leaseDurationMs?: number;
  /** Default 5 000 ms; must be less than half the lease. */
  readonly renewIntervalMs?: number;
  /** Each API request is aborted after this long. Default `min(5000, max(1000, lease / 3))`. */
  readonly requestTimeoutMs?: number;
  readonly logger?: PartitionLeasesLogger;
  /** Awaited before a held partition is released (rebalance or close): finish what was running for it. */
  readonly drain?: (partition: number) => Promise<void>;
  /** The worker pool of this process (`DURABLE_POOL`), written as a label on its member Lease. */
  readonly pool?: string;
}

type HoldState = 'held' | 'draining' | 'drained';

interface Hold {
  how: PartitionHold;
  lease: V1Lease;
  /** Local monotonic time at which the last successful write of this hold was sent. */
  renewedAt: number;
  state: HoldState;
}

interface Observation {
  resourceVersion: string;
  /** Local monotonic time at which this resourceVersion was first seen. */
  seenAt: number;
  lease: V1Lease;
}

const silent: PartitionLeasesLogger = { info: () => undefined, warn: () => undefined };

/**
 * @example
 * const kc = new KubeConfig(); kc.loadFromCluster();
 * const ownership = await PartitionLeases.start({
 *   api: kc.makeApiClient(CoordinationV1Api), namespace: 'shop', app: 'orders',
 *   identity: `${process.env.HOSTNAME}/${randomUUID()}`, drain: (p) => worker.finishPartition(p),
 * });
 * if (ownership.holding(partitionOf(instanceId, ownership.partitions))) await runTurn(instanceId);
 */
export class PartitionLeases implements PartitionOwnership {
  readonly partitions: number;
  readonly leaseDurationMs: number;
  readonly renewIntervalMs: number;
  /**
   * A hold ends locally this long before the Lease could expire for anyone else: `min(max(renewInterval, 2 s),
   * lease - 2 × renewInterval)`, so it always leaves at least two renew intervals of hold after each renewal.
   */
  readonly safetyMarginMs: number;
  private readonly requestTimeoutMs: number;
  private readonly leaseSeconds: number;
  private readonly logger: PartitionLeasesLogger;
  private readonly holds = new Map<number, Hold>();
  private readonly observed = new Map<string, Observation>();
  private readonly listeners = new Set<() => void>();
  private readonly memberName: string;
  private member: V1Lease | undefined;
  private lastHeld = '';
  private pausedUntil = 0;
  private closing = false;
  private closed: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  private readonly stop = new AbortController();
  private wake: (() => void) | undefined;
  /** Set by a poke that came while the loop was not asleep: the next sleep is skipped. */
  private poked = false;

  private constructor(
    private readonly options: PartitionLeasesOptions,
    private readonly ObservableImpl: ObservableClass,
  ) {
    this.partitions = options.partitions ?? DEFAULT_PARTITIONS;
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewIntervalMs = options.renewIntervalMs ?? 5_000;
    if (!Number.isInteger(this.partitions) || this.partitions < 1 || this.partitions > MAX_PARTITIONS) {
      throw new RangeError(`partitions must be an integer from 1 to ${MAX_PARTITIONS}, got ${this.partitions}`);
    }
    if (!(this.renewIntervalMs > 0 && this.renewIntervalMs < this.leaseDurationMs / 2)) {
      throw new RangeError(
        `renewIntervalMs (${this.renewIntervalMs}) must be positive and less than half of leaseDurationMs ` +
          `(${this.leaseDurationMs}), so that a missed renewal can be retried before the lease ends`,
      );
    }
    if (!options.identity) throw new RangeError('identity must be a non-empty string (pod name and boot id)');
    this.leaseSeconds = Math.ceil(this.leaseDurationMs / 1000);
    this.safetyMarginMs = Math.min(
      Math.max(this.renewIntervalMs, 2000),
      this.leaseDurationMs - 2 * this.renewIntervalMs,
    );
    this.requestTimeoutMs = options.requestTimeoutMs ?? Math.min(5000, Math.max(1000, this.leaseDurationMs / 3));
    this.logger = options.logger ?? silent;
    this.memberName = memberLeaseName(options.app, options.identity);
  }

  /** Validates the options, loads the client and starts the loop (its first round runs at once). */
  static async start(options: PartitionLeasesOptions): Promise<PartitionLeases> {
    const { Observable } = await import('@kubernetes/client-node');
    const leases = new PartitionLeases(options, Observable);
    leases.loop = leases.run();
    return leases;
  }

  holding(partition: number): PartitionHold | false {
    const hold = this.holds.get(partition);
    if (!hold || hold.state !== 'held' || this.closing) return false;
    return performance.now() - hold.renewedAt < this.leaseDurationMs - this.safetyMarginMs ? hold.how : false;
  }

  held(): number[] {
    return [...this.holds.keys()].filter((p) => this.holding(p)).sort((a, b) => a - b);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Drains and releases every partition (the loop keeps renewing them while they drain), then deletes the member
   * Lease. Gives up after one lease duration when the API server cannot be reached: by then the Leases have expired.
   */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing = true;
      this.notifyIfChanged();
      this.poke();
      const deadline = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.leaseDurationMs + this.requestTimeoutMs);
        void this.loop?.finally(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      await deadline;
      this.stop.abort();
      this.poke();
      await this.loop;
      this.holds.clear();
      this.notifyIfChanged();
    })();
    return this.closed;
  }

  private async run(): Promise<void> {
    let closingDeadline: number | undefined;
    while (!this.stop.signal.aborted) {
      const started = performance.now();
      if (this.closing) closingDeadline ??= started + this.leaseDurationMs;
      try {
        // Leaving first: the others' counts grow at once, so they take each partition as soon as it is released.
        if (this.closing) await this.deleteMember();
        const listed = await this.list();
        await this.renewMember();
        await this.renewHolds();
        if (listed && !this.closing) {
          await this.deleteExpiredMembers();
          await this.rebalance();
        } else if (this.closing) {
          this.releaseAll();
        }
        this.notifyIfChanged();
        if (this.closing && (this.holds.size === 0 || performance.now() > closingDeadline!)) {
          await this.deleteMember();
          return;
        }
      } catch (error) {
        // Every API error is handled where it happens; this is for a bug, which must not end the renewals.
        this.logger.warn({ event: 'leases.renew_failed', round: true, error: errorInfo(error) });
      }
      await this.sleepUntil(this.nextTickAt(started));
    }
  }

  /** The next round: one renew interval after this one started, earlier if a Lease we may want expires first. */
  private nextTickAt(started: number): number {
    let next = started + this.renewIntervalMs;
    if (!this.closing && this.held().length < this.quota()) {
      for (const o of this.observed.values()) {
        if (o.lease.metadata?.labels?.[ROLE_LABEL] !== 'partition') continue;
        if (!o.lease.spec?.holderIdentity || o.lease.spec.holderIdentity === this.options.identity) continue;
        // Only expiries still ahead: one already past was handled (or failed) this round, and a round that only
        // failed without I/O (API unreachable) must not spin.
        const expiry = this.expiresAt(o) + 1;
        if (expiry > performance.now()) next = Math.min(next, expiry);
      }
    }
    return Math.max(next, this.pausedUntil);
  }

  private sleepUntil(at: number): Promise<void> {
    const ms = at - performance.now();
    const poked = this.poked;
    this.poked = false;
    if (ms <= 0 || poked || this.stop.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    if (wake) wake();
    else this.poked = true;
  }

  /**
   * One API call with a timeout (a hung API server must not keep the loop waiting past a lease), honouring a
   * Retry-After in force: while throttled, nothing is sent. Errors are logged and returned, never thrown.
   */
  private async call<T>(
    event: PartitionLeaseEvent,
    fields: Record<string, unknown>,
    request: (options: ConfigurationOptions) => Promise<T>,
  ): Promise<{ ok: true; value: T } | { ok: false; status?: number }> {
    if (performance.now() < this.pausedUntil) return { ok: false };
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.requestTimeoutMs);
    const options = abortableOptions(this.ObservableImpl, controller.signal);
    try {
      return { ok: true, value: await request(options) };
    } catch (error) {
      const info = errorInfo(error);
      const wait = retryAfterMs(error);
      if (wait !== undefined) {
        this.pausedUntil = Math.max(this.pausedUntil, performance.now() + wait);
        this.logger.warn({ event: 'leases.throttled', ...fields, retryAfterMs: wait });
      }
      // A 409 is the expected outcome of a lost race, not a failure worth a warning.
      if (info.status !== 409 && info.status !== 404) this.logger.warn({ event, ...fields, error: info });
      return info.status === undefined ? { ok: false } : { ok: false, status: info.status };
    } finally {
      clearTimeout(timer);
    }
  }

  private observe(lease: V1Lease): void {
    const name = lease.metadata?.name;
    const version = lease.metadata?.resourceVersion;
    if (!name || !version) return;
    const known = this.observed.get(name);
    if (known?.resourceVersion === version) known.lease = lease;
    else this.observed.set(name, { resourceVersion: version, seenAt: performance.now(), lease });
  }

  private expiresAt(o: Observation): number {
    return o.seenAt + (o.lease.spec?.leaseDurationSeconds ?? this.leaseSeconds) * 1000;
  }

  private expired(o: Observation): boolean {
    return performance.now() >= this.expiresAt(o);
  }

  private async list(): Promise<boolean> {
    const { api, namespace, app } = this.options;
    const result = await this.call('leases.list_failed', {}, (options) =>
      api.listNamespacedLease({ namespace, labelSelector: appSelector(app) }, options),
    );
    if (!result.ok) return false;
    const names = new Set<string>();
    for (const lease of result.value.items) {
      this.observe(lease);
      if (lease.metadata?.name) names.add(lease.metadata.name);
    }
    for (const name of this.observed.keys()) if (!names.has(name)) this.observed.delete(name);
    return true;
  }

  private labels(role: 'partition' | 'member', partition?: number): Record<string, string> {
    const labels: Record<string, string> = {
      [MANAGED_BY_LABEL]: MANAGED_BY,
      [APP_LABEL]: appSegment(this.options.app),
      [ROLE_LABEL]: role,
    };
    if (partition !== undefined) labels[PARTITION_LABEL] = String(partition);
    if (role === 'member' && this.options.pool !== undefined) labels[POOL_LABEL] = this.options.pool;
    return labels;
  }

  private newLease(name: string, role: 'partition' | 'member', partition?: number): V1Lease {
    const now = new Date();
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, labels: this.labels(role, partition), annotations: { [APP_ANNOTATION]: this.options.app } },
      spec: {
        holderIdentity: this.options.identity,
        leaseDurationSeconds: this.leaseSeconds,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: 0,
      },
    };
  }

  private async create(lease: V1Lease, event: PartitionLeaseEvent, fields: Record<string, unknown>) {
    const { api, namespace } = this.options;
    return this.call(event, fields, (options) => api.createNamespacedLease({ namespace, body: lease }, options));
  }

  private async replace(lease: V1Lease, event: PartitionLeaseEvent, fields: Record<string, unknown>) {
    const { api, namespace } = this.options;
    const name = lease.metadata!.name!;
    return this.call(event, fields, (options) => api.replaceNamespacedLease({ name, namespace, body: lease }, options));
  }

  private renewed(lease: V1Lease): V1Lease {
    return { ...lease, spec: { ...lease.spec, renewTime: new Date(), leaseDurationSeconds: this.leaseSeconds } };
  }

  private async renewMember(): Promise<void> {
    if (this.closing) return;
    const current = this.member ?? this.observed.get(this.memberName)?.lease;
    const result = current
      ? await this.replace(
          this.renewed({ ...current, spec: { ...current.spec, holderIdentity: this.options.identity } }),
          'leases.member_failed',
          { lease: this.memberName },
        )
      : await this.create(this.newLease(this.memberName, 'member'), 'leases.member_failed', { lease: this.memberName });
    if (result.ok) {
      this.member = result.value;
      this.observe(result.value);
    } else if (result.status === 409 || result.status === 404) {
      // Deleted as expired by another worker while we were away, or recreated: start again from the next list.
      this.member = undefined;
    }
  }

  private async deleteMember(): Promise<void> {
    const { api, namespace } = this.options;
    const version = this.member?.metadata?.resourceVersion;
    if (!version) return;
    await this.call('leases.member_failed', { lease: this.memberName }, (options) =>
      api.deleteNamespacedLease(
        { name: this.memberName, namespace, body: { preconditions: { resourceVersion: version } } },
        options,
      ),
    );
    this.member = undefined;
  }

  /** Renews every hold (draining ones too: a drain may outlast a renew interval); writes the releases of drained ones. */
  private async renewHolds(): Promise<void> {
    await Promise.all(
      [...this.holds].map(async ([partition, hold]) => {
        if (hold.state === 'drained') return this.release(partition, hold);
        const sentAt = performance.now();
        const result = await this.replace(this.renewed(hold.lease), 'leases.renew_failed', { partition });
        if (this.holds.get(partition) !== hold) return;
        if (result.ok) {
          hold.lease = result.value;
          hold.renewedAt = sentAt;
          this.observe(result.value);
        } else if (result.status === 409 || result.status === 404) {
          await this.reread(partition, hold);
        }
      }),
    );
  }

  /** After a 409: someone else wrote the Lease. Keep the hold only if it still names us (never force). */
  private async reread(partition: number, hold: Hold): Promise<void> {
    const { api, namespace } = this.options;
    const name = hold.lease.metadata!.name!;
    const read = await this.call('leases.renew_failed', { partition }, (options) =>
      api.readNamespacedLease({ name, namespace }, options),
    );
    if (this.holds.get(partition) !== hold) return;
    if (read.ok && read.value.spec?.holderIdentity === this.options.identity) {
      hold.lease = read.value;
      this.observe(read.value);
      return;
    }
    if (read.ok || read.status === 404) {
      this.holds.delete(partition);
      this.logger.warn({ event: 'leases.lost', partition, holder: read.ok ? read.value.spec?.holderIdentity : null });
    }
  }

  private async release(partition: number, hold: Hold): Promise<void> {
    const lease: V1Lease = {
      ...hold.lease,
      spec: { ...hold.lease.spec, holderIdentity: '', renewTime: new Date(), leaseDurationSeconds: this.leaseSeconds },
    };
    const result = await this.replace(lease, 'leases.release_failed', { partition });
    if (result.ok) this.observe(result.value);
    if (result.ok || result.status === 409 || result.status === 404) {
      this.holds.delete(partition);
      this.logger.info({ event: 'leases.released', partition });
    }
  }

  /** Starts draining `partition`; its release is written by the round after the drain ends. */
  private startDrain(partition: number, hold: Hold): void {
    if (hold.state !== 'held') return;
    hold.state = 'draining';
    const drain = this.options.drain ?? (() => Promise.resolve());
    void Promise.resolve()
      .then(() => drain(partition))
      .then(
        () => {
          if (this.holds.get(partition) === hold) hold.state = 'drained';
        },
        (error: unknown) => {
          // The holder cannot vouch for the partition (a turn failed after its commit: an outbox perhaps unsent), so
          // it is not released cleanly: it stops renewing and lets the Lease lapse, and the next holder takes it
          // over, which makes it re-send the outboxes.
          this.logger.warn({ event: 'leases.drain_failed', partition, error: errorInfo(error) }, 'left to lapse');
          if (this.holds.get(partition) === hold) this.holds.delete(partition);
          this.notifyIfChanged();
        },
      )
      .then(() => this.poke());
  }

  private releaseAll(): void {
    for (const [partition, hold] of this.holds) this.startDrain(partition, hold);
  }

  /** The live members' identities, sorted; this process is always one (unless closing). */
  private members(): string[] {
    const live = new Set<string>([this.options.identity]);
    for (const o of this.observed.values()) {
      if (o.lease.metadata?.labels?.[ROLE_LABEL] !== 'member') continue;
      const holder = o.lease.spec?.holderIdentity;
      if (holder && !this.expired(o)) live.add(holder);
    }
    return [...live].sort();
  }

  /** How many partitions this process should hold: the even split, remainders to the first members in order. */
  private quota(): number {
    const members = this.members();
    const index = members.indexOf(this.options.identity);
    return Math.floor(this.partitions / members.length) + (index < this.partitions % members.length ? 1 : 0);
  }

  private async deleteExpiredMembers(): Promise<void> {
    const { api, namespace } = this.options;
    for (const [name, o] of this.observed) {
      if (o.lease.metadata?.labels?.[ROLE_LABEL] !== 'member' || name === this.memberName || !this.expired(o)) continue;
      const resourceVersion = o.resourceVersion;
      // Conditional on the version we judged: a member that renewed meanwhile is not deleted.
      const result = await this.call('leases.member_failed', { lease: name }, (options) =>
        api.deleteNamespacedLease({ name, namespace, body: { preconditions: { resourceVersion } } }, options),
      );
      if (result.ok || result.status === 404) this.observed.delete(name);
    }
  }

  private async rebalance(): Promise<void> {
    const quota = this.quota();
    const active = [...this.holds].filter(([, h]) => h.state === 'held').map(([p]) => p);
    if (active.length > quota) {
      for (const p of active.sort((a, b) => b - a).slice(0, active.length - quota))
        this.startDrain(p, this.holds.get(p)!);
      return;
    }
    const wanted = quota - active.length;
    if (wanted <= 0) return;
    const start = Number.parseInt(memberLeaseName('', this.options.identity).slice(-8), 16) % this.partitions;
    const candidates: { partition: number; current: Observation | undefined }[] = [];
    for (let i = 0; i < this.partitions && candidates.length < wanted; i++) {
      const partition = (start + i) % this.partitions;
      if (this.holds.has(partition)) continue;
      const current = this.observed.get(partitionLeaseName(this.options.app, partition, this.partitions));
      const holder = current?.lease.spec?.holderIdentity;
      if (!current || !holder || holder === this.options.identity || this.expired(current)) {
        candidates.push({ partition, current });
      }
    }
    await Promise.all(candidates.map(({ partition, current }) => this.acquire(partition, current)));
  }

  private async acquire(partition: number, current: Observation | undefined): Promise<void> {
    const name = partitionLeaseName(this.options.app, partition, this.partitions);
    const sentAt = performance.now();
    const previous = current?.lease.spec?.holderIdentity;
    // A hold of our own identity found in the cluster (a restart that kept its identity) is not known to be clean.
    const how: PartitionHold = previous ? 'taken-over' : 'clean';
    let result;
    if (!current) {
      result = await this.create(this.newLease(name, 'partition', partition), 'leases.acquire_failed', { partition });
    } else {
      const spec = current.lease.spec ?? {};
      const now = new Date();
      const changing = previous !== this.options.identity;
      const lease: V1Lease = {
        ...current.lease,
        metadata: {
          ...current.lease.metadata,
          labels: { ...current.lease.metadata?.labels, ...this.labels('partition', partition) },
        },
        spec: {
          ...spec,
          holderIdentity: this.options.identity,
          leaseDurationSeconds: this.leaseSeconds,
          acquireTime: changing ? now : spec.acquireTime,
          renewTime: now,
          leaseTransitions: (spec.leaseTransitions ?? 0) + (changing ? 1 : 0),
        },
      };
      result = await this.replace(lease, 'leases.acquire_failed', { partition });
    }
    if (!result.ok || this.holds.has(partition)) return;
    this.observe(result.value);
    this.holds.set(partition, { how, lease: result.value, renewedAt: sentAt, state: 'held' });
    this.logger.info({ event: 'leases.acquired', partition, how, previous: previous ?? null });
  }

  private notifyIfChanged(): void {
    const now = this.held().join(',');
    if (now === this.lastHeld) return;
    this.lastHeld = now;
    for (const listener of [...this.listeners]) listener();
  }
}

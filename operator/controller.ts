/**
 * The operator's control loop. Informers keep a cache of every Workflow and Entity and of what the operator made
 * for them; any change to either puts the pool's key on a rate-limited work queue, and a reconcile makes the
 * cluster match the pool's spec:
 * 1. a pool being deleted is finalized (its Deployment deleted and drained first, then its Leases);
 * 2. a spec the schema let through but that cannot work sets `Degraded` and stops there (no writes, no retries:
 *    the next spec change brings it back);
 * 3. every rendered object that is not as rendered is server-side applied, with one field manager; objects the
 *    pool no longer needs (an HPA after autoscaling is removed) are deleted;
 * 4. the status is rebuilt from the Deployment, and written only when it changed.
 * Reads come from the informers' caches, so a reconcile with nothing to do makes no request at all.
 */
import type { KubeConfig, KubernetesListObject, KubernetesObject, V1ConfigMap } from '@kubernetes/client-node';
import {
  ApisApi,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  makeInformer,
} from '@kubernetes/client-node';
import type { Informer, ObjectCache } from '@kubernetes/client-node';
import { loadConfig } from '../src/config/config.js';
import { BeanstalkdTubes } from '../src/backends/beanstalkd/beanstalkd-tubes.js';
import {
  APP_LABEL,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  POOL_LABEL,
  ROLE_LABEL,
} from '../src/backends/kubernetes/lease-names.js';
import { LOG_EVENTS } from '../src/observability/log-events.js';
import type { Logger } from '../src/observability/logger.js';
import { canonical, needsApply, withAppliedHash } from './apply.js';
import { collectionPath, OWNED_KINDS, type KindInfo } from './kinds.js';
import type { OperatorMetrics } from './metrics.js';
import type { Pool, PoolKind } from './pool.js';
import {
  API_VERSION,
  FIELD_MANAGER,
  FINALIZER,
  GROUP,
  POOL_KINDS,
  VERSION,
  ownedLabels,
  ownedName,
  poolId,
  servedWork,
  specProblems,
} from './pool.js';
import { render, type PoolTubes } from './render.js';
import { QueueDepthProbe } from './queue-depth.js';
import { poolStatus, statusEqual } from './status.js';
import { WorkQueue } from './work-queue.js';

export interface ControllerOptions {
  readonly kubeconfig: KubeConfig;
  /** Watch only this namespace; all when absent. */
  readonly namespace?: string;
  readonly concurrency?: number;
  readonly logger: Logger;
  readonly metrics?: OperatorMetrics;
  /** Every pool is reconciled again this often (picks up a changed backends ConfigMap). Default 5 minutes. */
  readonly resyncMs?: number;
  /** While a pool's Deployment drains on deletion, it is looked at again this often. Default 2 s. */
  readonly finalizerPollMs?: number;
  /** How often the pools' queue depths are read from Beanstalkd (the Queue column). Default 15 s; 0: never. */
  readonly queueDepthIntervalMs?: number;
  /** First retry delay of a failed reconcile; doubles per failure. Default 50 ms. */
  readonly retryBaseMs?: number;
  /** Longest retry delay. Default 60 s. */
  readonly retryMaxMs?: number;
}

type Cache = Informer<KubernetesObject> & ObjectCache<KubernetesObject>;

/** `Workflow/shop-ns/shop`. */
function keyOf(kind: PoolKind, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

/** A cached pool with its kind and apiVersion, which an object from a list does not carry. */
function asPool(kind: PoolKind, object: KubernetesObject): Pool {
  return { ...(object as Pool), apiVersion: API_VERSION, kind };
}

function poolKey(pool: Pool): string {
  return keyOf(pool.kind, pool.metadata.namespace ?? 'default', pool.metadata.name ?? '');
}

/** Why a reconcile stopped short, reported as `Degraded` (and as an Event) rather than retried as an error. */
class PoolProblem extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/**
 * @example
 * const controller = new Controller({ kubeconfig, logger, metrics });
 * await controller.start(); // informers synced, every pool queued
 * await controller.stop();
 */
export class Controller {
  private readonly objects: KubernetesObjectApi;
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly leases: CoordinationV1Api;
  private readonly pools = new Map<PoolKind, Cache>();
  private readonly owned = new Map<string, { info: KindInfo; cache: Cache }>();
  private readonly queue: WorkQueue;
  /** The last Event message per pool uid and reason: an unchanged problem is not reported again. */
  private readonly reported = new Map<string, string>();
  private resync: NodeJS.Timeout | undefined;
  private depthTimer: NodeJS.Timeout | undefined;
  private readonly depthProbe = new QueueDepthProbe();
  /** The last ready-message count read for each pool key (the status's `queueDepth`). */
  private readonly depths = new Map<string, number>();
  /** The tubes last read for each pool key, and the spec generation they were read for. */
  private readonly tubesRead = new Map<string, { generation: number | undefined; tubes: PoolTubes | undefined }>();
  private stopping = false;
  private synced = false;
  private starting: Promise<void> | undefined;
  /** Each informer's start: resolves at its first successful list. */
  private readonly starters: (() => Promise<void>)[] = [];
  private markStopped: () => void = () => undefined;
  /** Resolves when {@link stop} is called. */
  private readonly stopped = new Promise<void>((resolve) => (this.markStopped = resolve));

  constructor(private readonly options: ControllerOptions) {
    const { kubeconfig } = options;
    this.objects = KubernetesObjectApi.makeApiClient(kubeconfig);
    this.core = kubeconfig.makeApiClient(CoreV1Api);
    this.custom = kubeconfig.makeApiClient(CustomObjectsApi);
    this.leases = kubeconfig.makeApiClient(CoordinationV1Api);
    this.queue = new WorkQueue((key) => this.reconcileKey(key), {
      concurrency: options.concurrency ?? 4,
      baseDelayMs: options.retryBaseMs ?? 50,
      maxDelayMs: options.retryMaxMs ?? 60_000,
      onError: (key, error, delayMs) => {
        options.metrics?.reconcileErrors.inc({ kind: key.split('/')[0] });
        options.logger.warn(
          { event: LOG_EVENTS.operatorReconcileFailed, key, error: describe(error), retryInMs: delayMs },
          'reconcile failed; retrying',
        );
      },
    });
  }

  /** True once every informer has listed: from then on the caches answer for the cluster. */
  get isSynced(): boolean {
    return this.synced;
  }

  /** Queued keys, for metrics. */
  get queueDepth(): number {
    return this.queue.depth;
  }

  /** Starts the informers (retrying until the API server answers) and queues every pool once they have listed. */
  start(): Promise<void> {
    this.starting ??= this.run();
    return this.starting;
  }

  private async run(): Promise<void> {
    const served = await this.retrying(() => this.servedGroupVersions());
    if (served === undefined) return;
    for (const kind of ['Workflow', 'Entity'] as const) {
      const info = { apiVersion: API_VERSION, kind, plural: POOL_KINDS[kind].plural };
      const cache = this.informer(info);
      const enqueue = (pool: KubernetesObject): void => this.enqueuePool(kind, pool);
      cache.on('add', enqueue);
      cache.on('update', enqueue);
      cache.on('delete', (pool) => {
        this.reported.delete(pool.metadata?.uid ?? '');
        this.tubesRead.delete(keyOf(kind, pool.metadata?.namespace ?? 'default', pool.metadata?.name ?? ''));
        this.depths.delete(keyOf(kind, pool.metadata?.namespace ?? 'default', pool.metadata?.name ?? ''));
      });
      this.pools.set(kind, cache);
    }
    for (const info of OWNED_KINDS) {
      if (info.optional && !served.has(info.apiVersion)) continue;
      const cache = this.informer(info, `${MANAGED_BY_LABEL}=${FIELD_MANAGER}`);
      const enqueueOwner = (object: KubernetesObject): void => this.enqueueOwner(object);
      cache.on('add', enqueueOwner);
      cache.on('update', enqueueOwner);
      cache.on('delete', enqueueOwner);
      this.owned.set(info.kind, { info, cache });
    }
    await Promise.race([Promise.all(this.starters.map((start) => start())), this.stopped]);
    if (this.stopping) return;
    this.synced = true;
    this.enqueueAll();
    const resyncMs = this.options.resyncMs ?? 300_000;
    this.resync = setInterval(() => this.enqueueAll(), resyncMs);
    this.resync.unref();
    this.scheduleQueueDepths();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.markStopped();
    await this.starting;
    if (this.resync) clearInterval(this.resync);
    if (this.depthTimer) clearTimeout(this.depthTimer);
    this.depthProbe.close();
    await this.queue.stop();
    const caches = [...this.pools.values(), ...[...this.owned.values()].map((o) => o.cache)];
    await Promise.all(caches.map((cache) => cache.stop().catch(() => undefined)));
  }

  /** Reconciles one pool now, outside the queue (tests; the queue never runs one key twice at once). */
  reconcileNow(kind: PoolKind, namespace: string, name: string): Promise<unknown> {
    return this.reconcileKey(keyOf(kind, namespace, name));
  }

  /**
   * An informer that keeps itself running: a failed list or watch (the API server restarting, a 500, a refused
   * connection) is logged and the informer restarted with back-off, up to 5 s apart; a watch that ends cleanly
   * the informer resumes by itself, and a 410 makes it list again. `listed` resolves at its first successful list:
   * from then on its cache answers for the cluster.
   */
  private informer(info: Pick<KindInfo, 'apiVersion' | 'kind' | 'plural'>, labelSelector?: string): Cache {
    let failures = 0;
    let markListed: () => void = () => undefined;
    const listed = new Promise<void>((resolve) => (markListed = resolve));
    const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      const { namespace } = this.options;
      const result = await this.objects.list(info.apiVersion, info.kind, namespace, ...noListOptions, labelSelector);
      failures = 0;
      // The informer adds the items to its cache when this promise resolves (a microtask later): only after that
      // may a reconcile read the cache, or it would see nothing and apply everything again.
      setImmediate(markListed);
      return result;
    };
    const cache = makeInformer(
      this.options.kubeconfig,
      collectionPath(info, this.options.namespace),
      list,
      labelSelector,
    );
    // A watch that delivers again has recovered: its next failure starts the back-off afresh.
    for (const verb of ['add', 'update', 'delete'] as const) cache.on(verb, () => (failures = 0));
    const restart = (error: unknown): void => {
      if (this.stopping) return;
      const delayMs = Math.min(INFORMER_MAX_BACKOFF_MS, 100 * 2 ** Math.min(failures++, 6));
      this.options.logger.warn(
        { event: LOG_EVENTS.operatorInformerFailed, kind: info.kind, error: describe(error), retryInMs: delayMs },
        'informer failed; restarting',
      );
      setTimeout(() => {
        if (!this.stopping) cache.start().catch(restart);
      }, delayMs).unref();
    };
    cache.on('error', restart);
    this.starters.push(async () => {
      cache.start().catch(restart);
      await listed;
    });
    return cache;
  }

  /** Calls `fn` until it succeeds (`undefined` if the controller stopped first), backing off up to 5 s. */
  private async retrying<T>(fn: () => Promise<T>): Promise<T | undefined> {
    for (let failures = 0; !this.stopping; failures++) {
      try {
        return await fn();
      } catch (error) {
        if (this.stopping) break;
        const delayMs = Math.min(5_000, 100 * 2 ** Math.min(failures, 6));
        this.options.logger.warn(
          { event: LOG_EVENTS.operatorInformerFailed, error: describe(error), retryInMs: delayMs },
          'cannot read from the API server; retrying',
        );
        await Promise.race([sleep(delayMs), this.stopped]);
      }
    }
    return undefined;
  }

  private async servedGroupVersions(): Promise<Set<string>> {
    const groups = await this.options.kubeconfig.makeApiClient(ApisApi).getAPIVersions();
    return new Set(groups.groups.flatMap((g) => g.versions.map((v) => v.groupVersion)));
  }

  private scheduleQueueDepths(): void {
    const intervalMs = this.options.queueDepthIntervalMs ?? 15_000;
    if (intervalMs <= 0 || this.stopping) return;
    this.depthTimer = setTimeout(() => {
      void this.refreshQueueDepths().finally(() => this.scheduleQueueDepths());
    }, intervalMs);
    this.depthTimer.unref();
  }

  private enqueueAll(): void {
    for (const [kind, cache] of this.pools) for (const pool of cache.list()) this.enqueuePool(kind, pool);
  }

  /** Nothing is queued before every cache has listed (then every pool is): a reconcile needs them all. */
  private enqueuePool(kind: PoolKind, pool: KubernetesObject): void {
    if (!this.synced) return;
    const { namespace, name } = pool.metadata ?? {};
    if (namespace && name) this.queue.add(keyOf(kind, namespace, name));
  }

  private enqueueOwner(object: KubernetesObject): void {
    if (!this.synced) return;
    const owner = object.metadata?.ownerReferences?.find((ref) => ref.controller && ref.apiVersion === API_VERSION);
    const namespace = object.metadata?.namespace;
    if (owner && namespace && (owner.kind === 'Workflow' || owner.kind === 'Entity')) {
      this.queue.add(keyOf(owner.kind, namespace, owner.name));
    }
  }

  private async reconcileKey(key: string): Promise<void | { requeueAfterMs: number }> {
    const [kind, namespace, name] = key.split('/') as [PoolKind, string, string];
    const cached = this.pools.get(kind)?.get(name, namespace);
    if (cached === undefined) return; // gone: owner references take what it owned
    const pool = asPool(kind, cached);
    const started = performance.now();
    const metrics = this.options.metrics;
    try {
      const result = pool.metadata.deletionTimestamp ? await this.finalize(pool) : await this.reconcile(pool);
      metrics?.reconciles.inc({ kind, result: result === undefined ? 'done' : 'requeued' });
      return result;
    } catch (error) {
      metrics?.reconciles.inc({ kind, result: 'error' });
      throw error;
    } finally {
      metrics?.reconcileDuration.observe({ kind }, (performance.now() - started) / 1000);
    }
  }

  private async reconcile(pool: Pool): Promise<void | { requeueAfterMs: number }> {
    if (!pool.metadata.finalizers?.includes(FINALIZER)) {
      await this.replacePool({
        ...pool,
        metadata: { ...pool.metadata, finalizers: [...(pool.metadata.finalizers ?? []), FINALIZER] },
      });
      return; // the update's watch event brings the pool back with its finalizer
    }
    const problems = specProblems(pool);
    if (problems.length > 0) {
      const message = problems.join('; ');
      this.options.logger.warn(
        { event: LOG_EVENTS.operatorSpecInvalid, pool: poolId(pool), namespace: pool.metadata.namespace, message },
        'invalid spec',
      );
      await this.report(pool, 'InvalidSpec', message);
      await this.writeStatus(pool, { reason: 'InvalidSpec', message });
      return;
    }
    let rendered;
    try {
      rendered = render(pool, await this.tubesFor(pool));
    } catch (error) {
      if (!(error instanceof PoolProblem)) throw error;
      await this.report(pool, error.reason, error.message);
      await this.writeStatus(pool, { reason: error.reason, message: error.message });
      return error.retryAfterMs !== undefined ? { requeueAfterMs: error.retryAfterMs } : undefined;
    }
    for (const desired of rendered.objects) await this.applyIfChanged(pool, desired);
    await this.deleteUnwanted(pool, rendered.objects);
    await this.writeStatus(pool, undefined, rendered.selector);
  }

  private async applyIfChanged(pool: Pool, object: KubernetesObject): Promise<void> {
    const desired = withAppliedHash(object);
    const live = this.owned.get(object.kind ?? '')?.cache.get(object.metadata?.name ?? '', pool.metadata.namespace);
    if (!needsApply(desired, live)) return;
    try {
      await this.objects.patch(desired, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
    } catch (error) {
      await this.report(pool, 'ApplyFailed', `applying ${object.kind} ${object.metadata?.name}: ${describe(error)}`);
      throw error;
    }
    this.options.metrics?.writes.inc({ verb: 'apply', kind: object.kind ?? '' });
    this.options.logger.info(
      { event: LOG_EVENTS.operatorApplied, pool: poolId(pool), kind: object.kind, name: object.metadata?.name },
      'applied',
    );
  }

  /** Deletes what the pool owns but no longer renders (an HPA after autoscaling was removed, a KEDA switch). */
  private async deleteUnwanted(pool: Pool, wanted: readonly KubernetesObject[]): Promise<void> {
    const keep = new Set(wanted.map((o) => `${o.kind}/${o.metadata?.name}`));
    for (const { info, cache } of this.owned.values()) {
      for (const object of cache.list(pool.metadata.namespace)) {
        const ownedByPool = object.metadata?.ownerReferences?.some((r) => r.controller && r.uid === pool.metadata.uid);
        if (!ownedByPool || keep.has(`${info.kind}/${object.metadata?.name}`)) continue;
        await this.deleteObject({ ...object, apiVersion: info.apiVersion, kind: info.kind });
        this.options.logger.info(
          { event: LOG_EVENTS.operatorDeleted, pool: poolId(pool), kind: info.kind, name: object.metadata?.name },
          'deleted what the pool no longer needs',
        );
      }
    }
  }

  /** The Beanstalkd tubes KEDA's triggers watch: only for `provider: keda` with a queue-depth target. */
  private async tubesFor(pool: Pool): Promise<PoolTubes | undefined> {
    const scaling = pool.spec.autoscaling;
    if (scaling?.provider !== 'keda') return undefined;
    if (!this.owned.has('ScaledObject')) {
      throw new PoolProblem('KedaMissing', 'autoscaling.provider is keda, but this cluster serves no keda.sh/v1alpha1');
    }
    if (scaling.queueDepthPerWorker === undefined) return undefined;
    // Read when the spec changed; otherwise the queue-depth pass keeps it current (so an unchanged pool costs no GET).
    const known = this.tubesRead.get(poolKey(pool));
    const tubes =
      known !== undefined && known.generation === pool.metadata.generation
        ? known.tubes
        : await this.readTubes(pool, new Map());
    if (tubes === undefined) {
      throw new PoolProblem(
        'BackendsInvalid',
        'KEDA scales on Beanstalkd tubes: the backends ConfigMap (or env) must set DURABLE_QUEUE_URL=beanstalkd://…',
      );
    }
    return tubes;
  }

  /**
   * The Beanstalkd tubes the pool's workers reserve from, computed exactly as theirs are (`BeanstalkdTubes`) from
   * the same settings: the backends ConfigMap and the pool's env. Undefined when its queue is not on Beanstalkd.
   */
  private async poolTubes(
    pool: Pool,
    configMaps = new Map<string, Promise<V1ConfigMap>>(),
  ): Promise<PoolTubes | undefined> {
    const env: Record<string, string> = {};
    const ref = pool.spec.backends?.configMapRef;
    if (ref !== undefined) {
      const namespace = pool.metadata.namespace ?? 'default';
      const key = `${namespace}/${ref.name}`;
      if (!configMaps.has(key)) configMaps.set(key, this.core.readNamespacedConfigMap({ name: ref.name, namespace }));
      try {
        Object.assign(env, (await configMaps.get(key))?.data);
      } catch (error) {
        if (statusOf(error) !== 404) throw error;
        throw new PoolProblem('BackendsMissing', `the backends ConfigMap '${ref.name}' does not exist`, 30_000);
      }
    }
    for (const variable of pool.spec.env ?? []) if (variable.value !== undefined) env[variable.name] = variable.value;
    let beanstalkd;
    try {
      beanstalkd = loadConfig({ ...env, DURABLE_LOCK: undefined }).beanstalkd;
    } catch (error) {
      throw new PoolProblem('BackendsInvalid', `the backends settings are invalid: ${(error as Error).message}`);
    }
    if (beanstalkd === undefined) return undefined;
    const work = servedWork(pool);
    const tubes = new BeanstalkdTubes(beanstalkd.namespace, beanstalkd.tubes, beanstalkd.partitions);
    try {
      return {
        server: `${beanstalkd.host}:${beanstalkd.port}`,
        tubes: [...tubes.watched('orchestrations', work), ...tubes.watched('activities', work)],
        partitions: Math.max(1, beanstalkd.partitions),
      };
    } catch (error) {
      throw new PoolProblem(
        'TubesUnknown',
        `the pool's tubes cannot be named: ${(error as Error).message} (with DURABLE_TUBES=function, name the ` +
          "pool's activities or entity types in serves)",
      );
    }
  }

  /** {@link poolTubes}, remembered with the generation of the spec it was read for. */
  private async readTubes(pool: Pool, configMaps: Map<string, Promise<V1ConfigMap>>): Promise<PoolTubes | undefined> {
    const tubes = await this.poolTubes(pool, configMaps);
    this.tubesRead.set(poolKey(pool), { generation: pool.metadata.generation, tubes });
    return tubes;
  }

  /**
   * Reads the ready messages in every pool's tubes (Beanstalkd `stats-tube`) and queues the pools whose depth
   * changed, so their status (the Queue column) follows. One pass every `queueDepthIntervalMs`; a pool whose queue
   * cannot be read keeps its last depth.
   */
  private async refreshQueueDepths(): Promise<void> {
    const configMaps = new Map<string, Promise<V1ConfigMap>>(); // read once per pass, however many pools share one
    for (const [kind, cache] of this.pools) {
      for (const object of cache.list()) {
        const pool = asPool(kind, object);
        if (this.stopping) return;
        if (pool.metadata.deletionTimestamp || specProblems(pool).length > 0) continue;
        const key = poolKey(pool);
        try {
          const before = this.tubesRead.get(key)?.tubes;
          const tubes = await this.readTubes(pool, configMaps);
          // KEDA's triggers name the tubes: a changed backends ConfigMap changes them.
          if (canonical(before ?? null) !== canonical(tubes ?? null)) this.queue.add(key);
          if (tubes === undefined) continue;
          const depth = await this.depthProbe.readyIn(tubes);
          if (this.depths.get(key) === depth) continue;
          this.depths.set(key, depth);
          this.queue.add(key);
        } catch {
          // Unknown for now: the Queue column keeps its last value, and the next pass tries again.
        }
      }
    }
  }

  private async writeStatus(
    pool: Pool,
    problem: { reason: string; message: string } | undefined,
    selector = '',
  ): Promise<void> {
    const deployment = this.owned.get('Deployment')?.cache.get(ownedName(pool), pool.metadata.namespace);
    const depth = this.depths.get(poolKey(pool));
    const next = poolStatus(
      pool.status,
      {
        generation: pool.metadata.generation ?? 1,
        deployment,
        selector: selector || (pool.status?.selector ?? ''),
        ...(problem ? { problem } : {}),
        ...(depth !== undefined ? { queueDepth: depth } : {}),
      },
      new Date(),
    );
    if (statusEqual(pool.status, next)) return;
    const { plural } = POOL_KINDS[pool.kind];
    await this.custom.replaceNamespacedCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      namespace: pool.metadata.namespace ?? 'default',
      plural,
      name: pool.metadata.name ?? '',
      body: { apiVersion: pool.apiVersion, kind: pool.kind, metadata: pool.metadata, spec: pool.spec, status: next },
      fieldManager: FIELD_MANAGER,
    });
    this.options.metrics?.writes.inc({ verb: 'update', kind: `${pool.kind}/status` });
  }

  /**
   * Deletion: the Deployment first, in the foreground (its workers drain and give their partitions back), then the
   * pool's member Leases, then, when no pool of the app is left, the app's partition Leases; last the finalizer.
   */
  private async finalize(pool: Pool): Promise<void | { requeueAfterMs: number }> {
    if (!pool.metadata.finalizers?.includes(FINALIZER)) return;
    const namespace = pool.metadata.namespace ?? 'default';
    const pollMs = this.options.finalizerPollMs ?? 2_000;
    const deployment = this.owned.get('Deployment')?.cache.get(ownedName(pool), namespace);
    const ownsIt = deployment?.metadata?.ownerReferences?.some((r) => r.uid === pool.metadata.uid);
    if (deployment && ownsIt) {
      if (!deployment.metadata?.deletionTimestamp) {
        await this.deleteObject({ ...deployment, apiVersion: 'apps/v1', kind: 'Deployment' }, 'Foreground');
      }
      return { requeueAfterMs: pollMs };
    }
    await this.deleteLeases(pool, namespace);
    await this.replacePool({
      ...pool,
      metadata: { ...pool.metadata, finalizers: pool.metadata.finalizers.filter((f) => f !== FINALIZER) },
    });
    this.options.logger.info(
      { event: LOG_EVENTS.operatorFinalized, pool: poolId(pool), namespace },
      'pool deleted and its Leases cleaned up',
    );
  }

  private async deleteLeases(pool: Pool, namespace: string): Promise<void> {
    const managed = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
    const members = await this.leases.listNamespacedLease({
      namespace,
      labelSelector: `${managed},${POOL_LABEL}=${poolId(pool)}`,
    });
    const apps = new Set(members.items.map((l) => l.metadata?.labels?.[APP_LABEL]).filter((a) => a !== undefined));
    for (const lease of members.items) await this.deleteLease(namespace, lease.metadata?.name ?? '');
    for (const app of apps) {
      const others = await this.leases.listNamespacedLease({
        namespace,
        labelSelector: `${managed},${APP_LABEL}=${app},${ROLE_LABEL}=member`,
      });
      if (others.items.length > 0) continue; // another pool of the app still runs: its partitions stay
      const all = await this.leases.listNamespacedLease({ namespace, labelSelector: `${managed},${APP_LABEL}=${app}` });
      for (const lease of all.items) await this.deleteLease(namespace, lease.metadata?.name ?? '');
    }
  }

  private async deleteLease(namespace: string, name: string): Promise<void> {
    try {
      await this.leases.deleteNamespacedLease({ namespace, name });
      this.options.metrics?.writes.inc({ verb: 'delete', kind: 'Lease' });
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  private async deleteObject(object: KubernetesObject, propagation = 'Background'): Promise<void> {
    try {
      await this.objects.delete(object, undefined, undefined, undefined, undefined, propagation);
      this.options.metrics?.writes.inc({ verb: 'delete', kind: object.kind ?? '' });
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  /** An update of the pool itself (its finalizers), conditional on the cached resourceVersion. */
  private async replacePool(pool: Pool): Promise<void> {
    await this.custom.replaceNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: pool.metadata.namespace ?? 'default',
      plural: POOL_KINDS[pool.kind].plural,
      name: pool.metadata.name ?? '',
      body: pool,
      fieldManager: FIELD_MANAGER,
    });
    this.options.metrics?.writes.inc({ verb: 'update', kind: pool.kind });
  }

  /**
   * A Warning Event on the pool, once per distinct message: `kubectl describe workflow` shows why it is stuck, and a
   * pool that stays broken does not flood the namespace. A failure to report is logged, never fatal.
   */
  private async report(pool: Pool, reason: string, message: string): Promise<void> {
    const uid = pool.metadata.uid ?? '';
    const key = `${uid}/${reason}`;
    if (this.reported.get(key) === message) return;
    this.reported.set(key, message);
    const now = new Date();
    const namespace = pool.metadata.namespace ?? 'default';
    try {
      await this.core.createNamespacedEvent({
        namespace,
        body: {
          metadata: { generateName: `${pool.metadata.name}.`, namespace, labels: ownedLabels(pool) },
          involvedObject: {
            apiVersion: pool.apiVersion,
            kind: pool.kind,
            name: pool.metadata.name,
            namespace,
            uid,
            resourceVersion: pool.metadata.resourceVersion,
          },
          type: 'Warning',
          reason,
          message,
          count: 1,
          firstTimestamp: now,
          lastTimestamp: now,
          source: { component: FIELD_MANAGER },
          reportingComponent: FIELD_MANAGER,
        },
      });
      this.options.metrics?.writes.inc({ verb: 'create', kind: 'Event' });
    } catch (error) {
      this.reported.delete(key);
      this.options.logger.warn(
        { event: LOG_EVENTS.operatorEventFailed, pool: poolId(pool), reason, error: describe(error) },
        'could not record an Event',
      );
    }
  }
}

/** The HTTP status of a client-node `ApiException`, if it is one. */
function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

function describe(error: unknown): string {
  const status = statusOf(error);
  const body = (error as { body?: unknown } | undefined)?.body;
  let message = error instanceof Error ? error.message : String(error);
  if (typeof body === 'string') {
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? message;
    } catch {
      // not JSON: keep the error's own message
    }
  }
  return status !== undefined ? `${status}: ${message.split('\n')[0]}` : message.split('\n')[0]!;
}

/** The longest wait before an informer whose list or watch failed is restarted. */
const INFORMER_MAX_BACKOFF_MS = 5_000;

/** `KubernetesObjectApi.list` arguments between the namespace and the label selector: pretty, exact, exportt, fieldSelector. */
const noListOptions = [undefined, undefined, undefined, undefined] as const;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

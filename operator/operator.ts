/**
 * One operator replica: an ops server (`/metrics`, `/healthz`, `/readyz`) and a leader election on the Lease
 * `durable-operator`; only while it leads does it run the controller. A replica that loses the Lease stops its
 * controller (in-flight reconciles finish; their writes are idempotent) and campaigns again, so two replicas never
 * reconcile at once and a standby takes over within a lease duration of a crash, at once after a clean stop.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { CoordinationV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { FastifyInstance } from 'fastify';
import { LOG_EVENTS } from '../src/observability/log-events.js';
import type { Logger } from '../src/observability/logger.js';
import { createOpsServer } from '../worker/ops-server.js';
import { Controller } from './controller.js';
import { LeaderElector } from './leader-election.js';
import { createOperatorMetrics, type OperatorMetrics } from './metrics.js';

export const LEADER_LEASE = 'durable-operator';

export interface OperatorOptions {
  readonly kubeconfig: KubeConfig;
  readonly logger: Logger;
  /** Watch only this namespace (all when absent). */
  readonly watchNamespace?: string;
  /** Where the leader Lease lives: the operator's own namespace. */
  readonly leaseNamespace: string;
  /** This replica's identity in the Lease: the pod name (a per-boot id is added). */
  readonly identity?: string;
  readonly concurrency?: number;
  /** Listen for the ops server here; no ops server when absent. */
  readonly ops?: { readonly host: string; readonly port: number };
  /** Leader election timing (client-go's defaults: 15 s, 10 s, 2 s). */
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  /** Passed to the controller (tests shorten them). */
  readonly finalizerPollMs?: number;
}

export interface RunningOperator {
  readonly metrics: OperatorMetrics;
  readonly elector: LeaderElector;
  /** The controller while this replica leads. */
  controller(): Controller | undefined;
  /** Where the ops server listens (`http://host:port`), when it does. */
  readonly opsUrl: string | undefined;
  /** Stops reconciling, releases the Lease and closes the ops server. */
  stop(): Promise<void>;
}

/**
 * @example
 * const operator = await startOperator({ kubeconfig, logger, leaseNamespace: 'durable-system', ops: { host: '0.0.0.0', port: 9464 } });
 * process.on('SIGTERM', () => void operator.stop());
 */
export async function startOperator(options: OperatorOptions): Promise<RunningOperator> {
  const { logger } = options;
  let controller: Controller | undefined;
  const metrics = createOperatorMetrics(() => controller?.queueDepth ?? 0);
  const identity = `${options.identity ?? hostname()}/${randomUUID().slice(0, 8)}`;
  const elector = new LeaderElector({
    api: options.kubeconfig.makeApiClient(CoordinationV1Api),
    namespace: options.leaseNamespace,
    name: LEADER_LEASE,
    identity,
    logger,
    ...(options.leaseDurationMs !== undefined ? { leaseDurationMs: options.leaseDurationMs } : {}),
    ...(options.renewDeadlineMs !== undefined ? { renewDeadlineMs: options.renewDeadlineMs } : {}),
    ...(options.retryPeriodMs !== undefined ? { retryPeriodMs: options.retryPeriodMs } : {}),
  });

  let ops: FastifyInstance | undefined;
  let opsUrl: string | undefined;
  if (options.ops) {
    ops = createOpsServer({
      registry: metrics.registry,
      // A standby is ready (it can take over); a leader once its caches are synced.
      readiness: () => {
        const leading = elector.isLeader();
        const synced = controller?.isSynced ?? false;
        return Promise.resolve({
          ready: !leading || synced,
          checks: { leader: leading ? 'leading' : 'standby', caches: leading && !synced ? 'syncing' : 'ok' },
        });
      },
      draining: () => false,
    });
    opsUrl = await ops.listen({ host: options.ops.host, port: options.ops.port });
  }

  const running = elector.run({
    onStartedLeading: async (signal) => {
      metrics.leader.set(1);
      logger.info({ event: LOG_EVENTS.operatorLeading, identity }, 'leading: reconciling');
      const current = new Controller({
        kubeconfig: options.kubeconfig,
        logger,
        metrics,
        ...(options.watchNamespace ? { namespace: options.watchNamespace } : {}),
        ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
        ...(options.finalizerPollMs !== undefined ? { finalizerPollMs: options.finalizerPollMs } : {}),
      });
      controller = current;
      const stopped = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      try {
        await Promise.race([current.start(), stopped]);
        await stopped;
      } finally {
        await current.stop();
        if (controller === current) controller = undefined;
      }
    },
    onStoppedLeading: () => {
      metrics.leader.set(0);
      logger.warn({ event: LOG_EVENTS.operatorLeadershipLost, identity }, 'no longer leading: reconciles stopped');
    },
  });
  logger.info(
    { event: LOG_EVENTS.operatorStarted, identity, watchNamespace: options.watchNamespace ?? '*', ops: opsUrl },
    'operator started; campaigning for the leader Lease',
  );

  return {
    metrics,
    elector,
    controller: () => controller,
    opsUrl,
    async stop() {
      await elector.stop();
      await running;
      await ops?.close();
      logger.info({ event: LOG_EVENTS.operatorStopped, identity }, 'operator stopped');
    },
  };
}

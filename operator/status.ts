/**
 * A pool's status: replica counts from its Deployment, and three conditions, each with a reason and a message.
 * - `Ready`: every desired worker is ready (or the pool is scaled to zero on purpose).
 * - `Progressing`: a rollout is under way (the Deployment has not caught up with its spec, or not every worker runs
 *   the current template yet).
 * - `Degraded`: the operator cannot make the pool what its spec says (an invalid spec, a failed write, a Deployment
 *   that reports a failed rollout). Its message says what to change.
 * A condition's `lastTransitionTime` moves only when its status does, so a status rebuilt with nothing changed is
 * equal to the one stored, and nothing is written.
 */
import type { V1Deployment } from '@kubernetes/client-node';
import { canonical } from './apply.js';
import type { Condition, PoolStatus } from './pool.js';

export interface Observed {
  readonly generation: number;
  readonly deployment: V1Deployment | undefined;
  readonly selector: string;
  /** Why the pool cannot be reconciled, if it cannot (Degraded); `reason` is a CamelCase word. */
  readonly problem?: { readonly reason: string; readonly message: string };
  readonly queueDepth?: number;
}

type Fresh = Omit<Condition, 'lastTransitionTime'>;

/**
 * @example
 * const next = poolStatus(pool.status, { generation: 3, deployment, selector }, new Date());
 * if (!statusEqual(pool.status, next)) await patchStatus(next);
 */
export function poolStatus(previous: PoolStatus | undefined, observed: Observed, now: Date): PoolStatus {
  const { deployment, generation } = observed;
  const desired = deployment?.spec?.replicas ?? 0;
  const ready = deployment?.status?.readyReplicas ?? 0;
  const replicas = deployment?.status?.replicas ?? 0;
  const updated = deployment?.status?.updatedReplicas ?? 0;
  const caughtUp =
    deployment !== undefined && (deployment.status?.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 1);
  const failed = deployment?.status?.conditions?.find(
    (c) => c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded',
  );

  const conditions: Fresh[] = [];
  if (observed.problem !== undefined) {
    conditions.push({ type: 'Degraded', status: 'True', ...observed.problem });
  } else if (failed !== undefined) {
    conditions.push({
      type: 'Degraded',
      status: 'True',
      reason: 'RolloutFailed',
      message: `the Deployment's rollout failed: ${failed.message ?? 'progress deadline exceeded'}`,
    });
  } else {
    conditions.push({
      type: 'Degraded',
      status: 'False',
      reason: 'AsExpected',
      message: 'the pool is as its spec says',
    });
  }

  const rollingOut = deployment === undefined || !caughtUp || updated < desired || replicas > desired;
  conditions.push(
    rollingOut
      ? {
          type: 'Progressing',
          status: 'True',
          reason: deployment === undefined ? 'Creating' : 'RollingOut',
          message:
            deployment === undefined
              ? 'creating the workers'
              : `${updated} of ${desired} workers run the current spec (${replicas} in all)`,
        }
      : { type: 'Progressing', status: 'False', reason: 'RolledOut', message: `all ${desired} workers are up to date` },
  );

  if (deployment !== undefined && desired === 0) {
    conditions.push({ type: 'Ready', status: 'True', reason: 'ScaledToZero', message: 'no workers are wanted' });
  } else if (deployment !== undefined && ready >= desired && !rollingOut) {
    conditions.push({ type: 'Ready', status: 'True', reason: 'WorkersReady', message: `${ready} workers ready` });
  } else {
    conditions.push({
      type: 'Ready',
      status: 'False',
      reason: observed.problem !== undefined ? 'Degraded' : 'WorkersNotReady',
      message: `${ready} of ${desired} workers ready`,
    });
  }

  return {
    observedGeneration: generation,
    replicas,
    readyReplicas: ready,
    ready: `${ready}/${desired}`,
    selector: observed.selector,
    ...(observed.queueDepth !== undefined ? { queueDepth: observed.queueDepth } : {}),
    conditions: conditions.map((c) => withTransition(c, previous?.conditions, generation, now)),
  };
}

function withTransition(fresh: Fresh, previous: Condition[] | undefined, generation: number, now: Date): Condition {
  const before = previous?.find((c) => c.type === fresh.type);
  const lastTransitionTime =
    before !== undefined && before.status === fresh.status ? before.lastTransitionTime : now.toISOString();
  return { ...fresh, lastTransitionTime, observedGeneration: generation };
}

/** Equal in everything the operator writes. */
export function statusEqual(a: PoolStatus | undefined, b: PoolStatus): boolean {
  return canonical(normalize(a ?? {})) === canonical(normalize(b));
}

function normalize(status: PoolStatus): unknown {
  return {
    ...status,
    conditions: [...(status.conditions ?? [])]
      .sort((x, y) => x.type.localeCompare(y.type))
      .map((c) => ({
        type: c.type,
        status: c.status,
        reason: c.reason,
        message: c.message,
        lastTransitionTime: c.lastTransitionTime,
        observedGeneration: c.observedGeneration,
      })),
  };
}

/**
 * A worker pool as the operator sees it: a `Workflow` or an `Entity` resource (crds/), its names and labels, the
 * checks its schema cannot make, and the `DURABLE_*` variables that tell its workers what to serve.
 */
import type { V1EnvVar, V1ObjectMeta, V1ResourceRequirements } from '@kubernetes/client-node';

export const GROUP = 'durable.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
/** The one field manager of every write the operator makes (server-side apply and status). */
export const FIELD_MANAGER = 'durable-operator';
/** Held by every pool until its Leases are cleaned up. */
export const FINALIZER = 'durable.dev/cleanup';
/** The workers' ops port: `/metrics`, `/healthz`, `/readyz` (worker/ops-server.ts). */
export const OPS_PORT = 9464;

export type PoolKind = 'Workflow' | 'Entity';

export interface PoolSpec {
  readonly image: string;
  readonly app: string;
  readonly serves?: {
    readonly orchestrations?: boolean;
    /** Workflow: whether it runs entity operations too. Entity: the entity types (all when absent). */
    readonly entities?: boolean | readonly string[];
    readonly activities?: readonly string[];
  };
  readonly replicas?: number;
  readonly autoscaling?: {
    readonly minReplicas?: number;
    readonly maxReplicas: number;
    readonly provider?: 'hpa' | 'keda';
    readonly queueDepthPerWorker?: number;
    readonly cpuUtilization?: number;
  };
  readonly backends?: { readonly configMapRef?: { name: string }; readonly secretRef?: { name: string } };
  readonly resources?: V1ResourceRequirements;
  readonly env?: readonly V1EnvVar[];
  readonly serviceAccountName?: string;
  readonly drainTimeoutSeconds?: number;
}

export interface Condition {
  type: 'Ready' | 'Progressing' | 'Degraded';
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface PoolStatus {
  observedGeneration?: number;
  replicas?: number;
  readyReplicas?: number;
  ready?: string;
  selector?: string;
  queueDepth?: number;
  conditions?: Condition[];
}

export interface Pool {
  apiVersion: string;
  kind: PoolKind;
  metadata: V1ObjectMeta;
  spec: PoolSpec;
  status?: PoolStatus;
}

export const POOL_KINDS: Record<
  PoolKind,
  { readonly plural: string; readonly suffix: string; readonly label: string }
> = {
  Workflow: { plural: 'workflows', suffix: 'workflow', label: `${GROUP}/workflow` },
  Entity: { plural: 'entities', suffix: 'entity', label: `${GROUP}/entity` },
};

/**
 * The name of everything the operator creates for a pool: `<name>-workflow` or `<name>-entity`, so a Workflow and
 * an Entity of the same name never collide.
 * @example
 * ownedName({ kind: 'Workflow', metadata: { name: 'shop' } }); // 'shop-workflow'
 */
export function ownedName(pool: Pick<Pool, 'kind' | 'metadata'>): string {
  return `${pool.metadata.name}-${POOL_KINDS[pool.kind].suffix}`;
}

/** `workflow.shop`: the pool's id in the workers' `DURABLE_POOL` and on their member Leases. */
export function poolId(pool: Pick<Pool, 'kind' | 'metadata'>): string {
  return `${POOL_KINDS[pool.kind].suffix}.${pool.metadata.name}`;
}

/** The labels that select the pool's pods (the Deployment's selector: never change them). */
export function selectorLabels(pool: Pick<Pool, 'kind' | 'metadata'>): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'durable-worker',
    'app.kubernetes.io/instance': pool.metadata.name ?? '',
    [POOL_KINDS[pool.kind].label]: pool.metadata.name ?? '',
  };
}

/** Every object the operator owns carries these. */
export function ownedLabels(pool: Pick<Pool, 'kind' | 'metadata'>): Record<string, string> {
  return { ...selectorLabels(pool), 'app.kubernetes.io/managed-by': FIELD_MANAGER };
}

/** Variables the operator derives from the spec: a pool's `env` must not set them. */
const DERIVED = ['DURABLE_SERVES', 'DURABLE_FUNCTIONS', 'DURABLE_POOL', 'POD_NAME', 'DURABLE_DRAIN_TIMEOUT_MS'];
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
/** A container image reference: no spaces, no upper case in the repository, at most one tag and one digest. */
const IMAGE = /^[a-z0-9]+([._\-/:][a-z0-9]+|:[\w][\w.-]{0,127})*(@[a-z0-9]+:[a-f0-9]{32,})?$/;

/**
 * What is wrong with a spec that its schema let through: the CEL rules of the CRDs (which an API server without
 * CEL, or an older one, does not check) and what spans the spec and the operator's own variables. Empty when
 * the spec is fine.
 * @example
 * specProblems(pool); // ['autoscaling.minReplicas (5) exceeds autoscaling.maxReplicas (2)']
 */
export function specProblems(pool: Pool): string[] {
  const { spec } = pool;
  const problems: string[] = [];
  if (typeof spec.image !== 'string' || !IMAGE.test(spec.image)) {
    problems.push(`image '${String(spec.image)}' is not an image reference (e.g. registry.example.com/shop:1.0.0)`);
  }
  if (typeof spec.app !== 'string' || spec.app.trim() === '') problems.push('app must name the app module');
  const scaling = spec.autoscaling;
  if (scaling !== undefined) {
    const min = scaling.minReplicas ?? 1;
    if (min > scaling.maxReplicas) {
      problems.push(`autoscaling.minReplicas (${min}) exceeds autoscaling.maxReplicas (${scaling.maxReplicas})`);
    }
    if (scaling.queueDepthPerWorker !== undefined && scaling.cpuUtilization !== undefined) {
      problems.push('autoscaling takes one target: queueDepthPerWorker or cpuUtilization, not both');
    }
    if (
      scaling.provider === 'keda' &&
      scaling.queueDepthPerWorker === undefined &&
      scaling.cpuUtilization === undefined
    ) {
      problems.push('autoscaling.provider keda needs a target: queueDepthPerWorker or cpuUtilization');
    }
  }
  if (pool.kind === 'Workflow' && spec.serves?.activities !== undefined && spec.serves.entities !== false) {
    problems.push(
      'a Workflow that names its activities serves no entities: set serves.entities to false and serve them from an Entity',
    );
  }
  for (const variable of spec.env ?? []) {
    if (!ENV_NAME.test(variable.name)) problems.push(`env: '${variable.name}' is not a valid variable name`);
    if (DERIVED.includes(variable.name)) {
      problems.push(`env: ${variable.name} is set by the operator from the spec; remove it from env`);
    }
  }
  return problems;
}

/** `DURABLE_SERVES` and `DURABLE_FUNCTIONS` for the pool's workers (host/serves.ts reads them). */
export function servesEnv(pool: Pool): Record<string, string> {
  const serves = pool.spec.serves ?? {};
  if (pool.kind === 'Entity') {
    const types = Array.isArray(serves.entities) ? serves.entities : undefined;
    return { DURABLE_SERVES: 'entities', ...(types ? { DURABLE_FUNCTIONS: types.join(',') } : {}) };
  }
  const kinds = [
    ...(serves.orchestrations !== false ? ['orchestrations'] : []),
    ...(serves.entities !== false ? ['entities'] : []),
    ...(serves.activities === undefined || serves.activities.length > 0 ? ['activities'] : []),
  ];
  const named = serves.activities !== undefined && serves.activities.length > 0;
  return { DURABLE_SERVES: kinds.join(','), ...(named ? { DURABLE_FUNCTIONS: serves.activities.join(',') } : {}) };
}

/** The pool's kinds of work and named functions, as the queue selects them (for KEDA's per-tube triggers). */
export function servedWork(pool: Pool): {
  kinds: ('orchestrations' | 'entities' | 'activities')[];
  functions?: { activities?: string[]; entities?: string[] };
} {
  const env = servesEnv(pool);
  const kinds = env.DURABLE_SERVES?.split(',').filter(Boolean) as ('orchestrations' | 'entities' | 'activities')[];
  const names = env.DURABLE_FUNCTIONS?.split(',');
  if (names === undefined) return { kinds };
  return { kinds, functions: pool.kind === 'Entity' ? { entities: names } : { activities: names } };
}

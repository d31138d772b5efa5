/**
 * What a pool becomes: its Deployment, ServiceAccount, Role and RoleBinding (the Lease lock's RBAC), metrics
 * Service, PodDisruptionBudget, and an HPA or a KEDA ScaledObject when it autoscales. Pure: the same pool (and
 * queue settings) always renders the same objects, so a reconcile that finds them in place writes nothing.
 */
import type { KubernetesObject, V1EnvVar } from '@kubernetes/client-node';
import type { Pool } from './pool.js';
import { OPS_PORT, ownedLabels, ownedName, poolId, selectorLabels, servesEnv } from './pool.js';

/** The External metric the HPA reads (the chart's prometheus-adapter rule: max per tube, summed per Service). */
export const QUEUE_DEPTH_METRIC = 'durable_queue_depth';
/** CPU target of an HPA whose autoscaling names none, as Kubernetes' own default. */
export const DEFAULT_CPU_UTILIZATION = 80;

/** The Beanstalkd tubes a pool's workers reserve from, for KEDA's beanstalkd scaler (reconcile.ts reads them). */
export interface PoolTubes {
  /** `host:port` of Beanstalkd, as the workers reach it. */
  readonly server: string;
  /** The tubes, and how many partitions share each base tube (1 when not partitioned). */
  readonly tubes: readonly string[];
  readonly partitions: number;
}

export interface Rendered {
  /** Every object, in the order they are applied (the Deployment's RBAC before the Deployment). */
  readonly objects: KubernetesObject[];
  /** The Deployment's name, for status. */
  readonly deployment: string;
  /** The label selector of the pool's pods, as the scale subresource reports it. */
  readonly selector: string;
}

/**
 * @example
 * const { objects } = render(pool); // ServiceAccount, Role, RoleBinding, Service, Deployment, PDB, HPA
 * const withKeda = render(pool, { server: 'beanstalkd:11300', tubes: ['shop.activities'], partitions: 1 });
 */
export function render(pool: Pool, tubes?: PoolTubes): Rendered {
  const name = ownedName(pool);
  const namespace = pool.metadata.namespace ?? 'default';
  const metadata = { name, namespace, labels: ownedLabels(pool), ownerReferences: [ownerReference(pool)] };
  const serviceAccount = pool.spec.serviceAccountName ?? name;
  const objects: KubernetesObject[] = [
    ...(pool.spec.serviceAccountName === undefined
      ? [{ apiVersion: 'v1', kind: 'ServiceAccount', metadata } as KubernetesObject]
      : []),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata,
      // The partition Lease lock (README, Locks on Kubernetes): list (never watch), create, renew, give up.
      rules: [
        {
          apiGroups: ['coordination.k8s.io'],
          resources: ['leases'],
          verbs: ['get', 'list', 'create', 'update', 'patch', 'delete'],
        },
      ],
    } as KubernetesObject,
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace }],
    } as KubernetesObject,
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata,
      spec: {
        selector: selectorLabels(pool),
        ports: [{ name: 'metrics', port: OPS_PORT, targetPort: 'metrics', protocol: 'TCP' }],
      },
    } as KubernetesObject,
    deployment(pool, metadata, serviceAccount),
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata,
      // One worker at a time: its partitions move to the others within a lease duration.
      spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(pool) } },
    } as KubernetesObject,
  ];
  const scaling = pool.spec.autoscaling;
  if (scaling !== undefined) {
    objects.push(scaling.provider === 'keda' ? scaledObject(pool, metadata, tubes) : hpa(pool, metadata));
  }
  return { objects, deployment: name, selector: labelSelector(selectorLabels(pool)) };
}

function ownerReference(pool: Pool): object {
  return {
    apiVersion: pool.apiVersion,
    kind: pool.kind,
    name: pool.metadata.name,
    uid: pool.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

function labelSelector(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

function deployment(pool: Pool, metadata: object, serviceAccount: string): KubernetesObject {
  const { spec } = pool;
  const drainSeconds = spec.drainTimeoutSeconds ?? 30;
  const env: V1EnvVar[] = [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'DURABLE_KUBERNETES_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: 'DURABLE_POOL', value: poolId(pool) },
    ...Object.entries(servesEnv(pool)).map(([name, value]) => ({ name, value })),
    // The worker gives up draining 2 s before the kubelet's SIGKILL, so it exits with its own log line.
    { name: 'DURABLE_DRAIN_TIMEOUT_MS', value: String(Math.max(500, drainSeconds * 1000 - 2000)) },
    { name: 'DURABLE_OPS_HOST', value: '0.0.0.0' },
    { name: 'DURABLE_OPS_PORT', value: String(OPS_PORT) },
    ...(spec.env ?? []),
  ];
  const backends = spec.backends ?? {};
  const envFrom = [
    ...(backends.configMapRef ? [{ configMapRef: { name: backends.configMapRef.name } }] : []),
    ...(backends.secretRef ? [{ secretRef: { name: backends.secretRef.name } }] : []),
  ];
  const probe = (path: string, periodSeconds: number): object => ({
    httpGet: { path, port: 'metrics' },
    periodSeconds,
    timeoutSeconds: 3,
    failureThreshold: 3,
  });
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata,
    spec: {
      // With autoscaling the HPA (or KEDA) owns the replica count: the operator leaves the field alone.
      ...(spec.autoscaling === undefined ? { replicas: spec.replicas ?? 1 } : {}),
      selector: { matchLabels: selectorLabels(pool) },
      template: {
        metadata: { labels: ownedLabels(pool) },
        spec: {
          serviceAccountName: serviceAccount,
          terminationGracePeriodSeconds: drainSeconds,
          securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 },
          containers: [
            {
              name: 'worker',
              image: spec.image,
              args: ['worker', spec.app],
              env,
              ...(envFrom.length > 0 ? { envFrom } : {}),
              ports: [{ name: 'metrics', containerPort: OPS_PORT, protocol: 'TCP' }],
              livenessProbe: probe('/healthz', 10),
              readinessProbe: probe('/readyz', 5),
              ...(spec.resources !== undefined ? { resources: spec.resources } : {}),
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
            },
          ],
        },
      },
    },
  } as KubernetesObject;
}

function hpa(pool: Pool, metadata: { name: string }): KubernetesObject {
  const scaling = pool.spec.autoscaling!;
  const metric =
    scaling.queueDepthPerWorker !== undefined
      ? {
          type: 'External',
          external: {
            metric: { name: QUEUE_DEPTH_METRIC, selector: { matchLabels: { service: metadata.name } } },
            target: { type: 'AverageValue', averageValue: String(scaling.queueDepthPerWorker) },
          },
        }
      : {
          type: 'Resource',
          resource: {
            name: 'cpu',
            target: { type: 'Utilization', averageUtilization: scaling.cpuUtilization ?? DEFAULT_CPU_UTILIZATION },
          },
        };
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata,
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: metadata.name },
      minReplicas: scaling.minReplicas ?? 1,
      maxReplicas: scaling.maxReplicas,
      metrics: [metric],
    },
  } as KubernetesObject;
}

/**
 * A KEDA ScaledObject. Queue depth: one `beanstalkd` trigger per tube the pool reserves from. KEDA, like the HPA,
 * scales to the largest of its triggers, so each of a partitioned tube's N parts gets 1/N of the target: with the
 * messages spread over the partitions, the largest part asks for what the whole queue would.
 */
function scaledObject(pool: Pool, metadata: { name: string }, tubes: PoolTubes | undefined): KubernetesObject {
  const scaling = pool.spec.autoscaling!;
  let triggers: object[];
  if (scaling.queueDepthPerWorker !== undefined) {
    if (tubes === undefined) throw new Error('KEDA queue-depth triggers need the pool tubes');
    triggers = tubes.tubes.map((tube) => {
      const share = /\.p\d+$/.test(tube) ? tubes.partitions : 1;
      return {
        type: 'beanstalkd',
        metadata: {
          server: tubes.server,
          tube,
          value: formatTarget(scaling.queueDepthPerWorker! / share),
          includeDelayed: 'false',
        },
      };
    });
  } else {
    triggers = [
      {
        type: 'cpu',
        metricType: 'Utilization',
        metadata: { value: String(scaling.cpuUtilization ?? DEFAULT_CPU_UTILIZATION) },
      },
    ];
  }
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata,
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: metadata.name },
      minReplicaCount: scaling.minReplicas ?? 1,
      maxReplicaCount: scaling.maxReplicas,
      triggers,
    },
  } as KubernetesObject;
}

/** A target as KEDA parses it: a decimal, at most 4 places. */
function formatTarget(value: number): string {
  return String(Math.round(value * 10_000) / 10_000);
}

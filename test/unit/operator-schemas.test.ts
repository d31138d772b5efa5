/**
 * Everything the operator can render passes the schemas an API server (and, for ScaledObjects, KEDA) checks:
 * `autoscaling/v2` HPAs with Resource and External metrics, KEDA ScaledObjects with beanstalkd and cpu triggers,
 * and the Deployment, RBAC, Service and PDB of every kind of pool.
 */
import assert from 'node:assert/strict';
import type { Pool } from '../../operator/pool.js';
import { render } from '../../operator/render.js';
import { validateManifest } from '../helpers/k8s-schemas.js';

const TUBES = {
  server: 'beanstalkd.durable:11300',
  tubes: ['shop.orchestrations.p0', 'shop.activities'],
  partitions: 2,
};

const VARIANTS: [string, Pool['kind'], Partial<Pool['spec']>][] = [
  ['a plain Workflow', 'Workflow', {}],
  ['queue-depth HPA', 'Workflow', { autoscaling: { minReplicas: 2, maxReplicas: 10, queueDepthPerWorker: 100 } }],
  ['CPU HPA', 'Workflow', { autoscaling: { maxReplicas: 3, cpuUtilization: 60 } }],
  ['default-target HPA', 'Workflow', { autoscaling: { maxReplicas: 3 } }],
  ['KEDA on queue depth', 'Workflow', { autoscaling: { maxReplicas: 5, queueDepthPerWorker: 7, provider: 'keda' } }],
  ['KEDA on CPU', 'Workflow', { autoscaling: { maxReplicas: 5, cpuUtilization: 70, provider: 'keda' } }],
  [
    'everything set',
    'Workflow',
    {
      serves: { orchestrations: true, entities: false, activities: ['charge', 'ship'] },
      replicas: 4,
      backends: { configMapRef: { name: 'b' }, secretRef: { name: 's' } },
      resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '512Mi' } },
      env: [
        { name: 'DURABLE_LOG_LEVEL', value: 'debug' },
        { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 't', key: 'token' } } },
      ],
      serviceAccountName: 'shop-sa',
      drainTimeoutSeconds: 120,
    },
  ],
  ['an Entity pool', 'Entity', { serves: { entities: ['counter'] }, autoscaling: { maxReplicas: 2 } }],
];

describe('what the operator renders, against the Kubernetes and KEDA schemas', () => {
  for (const [name, kind, spec] of VARIANTS) {
    it(`accepts every object of ${name}`, () => {
      const pool: Pool = {
        apiVersion: 'durable.dev/v1alpha1',
        kind,
        metadata: { name: 'shop', namespace: 'prod', uid: '0b7c6e3a-2f7d-4c8e-9a51-3d2f0c1e9b44' },
        spec: { image: 'registry.example.com/shop:1.0.0', app: 'shop/app.ts', ...spec },
      };
      const { objects } = render(pool, TUBES);
      assert.ok(objects.length >= 5);
      for (const object of objects) validateManifest(object);
    });
  }

  it('would catch a broken one', () => {
    const { objects } = render({
      apiVersion: 'durable.dev/v1alpha1',
      kind: 'Workflow',
      metadata: { name: 'shop', namespace: 'prod', uid: 'u' },
      spec: { image: 'shop:1', app: 'a.ts', autoscaling: { maxReplicas: 2, queueDepthPerWorker: 5 } },
    });
    const hpa = objects.find((o) => o.kind === 'HorizontalPodAutoscaler') as any;
    delete hpa.spec.metrics[0].external.metric.name;
    assert.throws(() => validateManifest(hpa), /metric/);
  });
});

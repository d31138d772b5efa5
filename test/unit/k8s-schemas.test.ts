/**
 * test/helpers/k8s-schemas.ts, the validator the chart's and the operator's manifests go through: it must refuse
 * what an API server refuses, name the object and the path, and never pass a kind it has no schema for.
 */
import assert from 'node:assert/strict';
import { ManifestValidationError, supportedKinds, validateManifest } from '../helpers/k8s-schemas.js';

function deployment(spec: Record<string, unknown> = {}, container: Record<string, unknown> = {}) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'shop-workflow', labels: { 'app.kubernetes.io/name': 'durable-worker' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'shop' } },
      template: {
        metadata: { labels: { app: 'shop' } },
        spec: { containers: [{ name: 'worker', image: 'shop:1', resources: { limits: { cpu: '1' } }, ...container }] },
      },
      ...spec,
    },
  };
}

function problemsOf(manifest: unknown): string[] {
  try {
    validateManifest(manifest);
  } catch (error) {
    assert.ok(error instanceof ManifestValidationError, String(error));
    return error.problems.map((p) => `${p.path}: ${p.message}`);
  }
  return [];
}

describe('validateManifest', () => {
  it('accepts a valid Deployment', () => {
    assert.deepEqual(problemsOf(deployment()), []);
  });

  it('rejects a Deployment whose replicas is a string, naming the kind, the object and the path', () => {
    assert.throws(
      () => validateManifest(deployment({ replicas: '2' })),
      (error: unknown) =>
        error instanceof ManifestValidationError &&
        /^Deployment "shop-workflow" is invalid:\n {2}\/spec\/replicas: must be integer/.test(error.message),
    );
  });

  it('rejects a misspelt field that the published schemas leave open but a strict server refuses', () => {
    assert.deepEqual(problemsOf(deployment({}, { readinessprobe: { httpGet: { path: '/readyz', port: 9464 } } })), [
      '/spec/template/spec/containers/0/readinessprobe: unknown field',
    ]);
  });

  it('rejects a container without a name and a label value longer than 63 characters', () => {
    const broken = deployment({}, { name: undefined });
    broken.metadata.labels['app.kubernetes.io/name'] = 'x'.repeat(64);
    const problems = problemsOf(JSON.parse(JSON.stringify(broken)));
    assert.equal(problems.length, 2, problems.join('\n'));
    assert.match(problems[0]!, /^\/spec\/template\/spec\/containers\/0: must have required property name$/);
    assert.match(problems[1]!, /^\/metadata\/labels\/app.kubernetes.io\/name: label value "x{64}" is not valid/);
  });

  it('rejects an HPA without maxReplicas and accepts it with one', () => {
    const hpa = (spec: Record<string, unknown>) => ({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'shop-workflow' },
      spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'shop-workflow' }, ...spec },
    });
    assert.deepEqual(problemsOf(hpa({})), ['/spec: must have required property maxReplicas']);
    assert.deepEqual(problemsOf(hpa({ maxReplicas: 5 })), []);
  });

  it('validates KEDA ScaledObjects and Prometheus Operator ServiceMonitors', () => {
    const scaledObject = {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: 'shop-workflow' },
      spec: {
        scaleTargetRef: { name: 'shop-workflow' },
        triggers: [{ type: 'beanstalkd', metadata: { server: 'beanstalkd:11300', tube: 'durable-activities' } }],
      },
    };
    assert.deepEqual(problemsOf(scaledObject), []);
    assert.match(
      problemsOf({ ...scaledObject, spec: { ...scaledObject.spec, maxReplicaCount: 'ten' } })[0]!,
      /maxReplicaCount: must be integer/,
    );
    const serviceMonitor = {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: 'workers' },
      spec: { selector: {}, endpoints: [{ port: 'metrics' }] },
    };
    assert.deepEqual(problemsOf(serviceMonitor), []);
    assert.deepEqual(problemsOf({ ...serviceMonitor, spec: { selector: {}, endpoints: [{ prot: 'metrics' }] } }), [
      '/spec/endpoints/0/prot: unknown field',
    ]);
  });

  it('throws for a kind it has no schema for instead of passing it', () => {
    assert.throws(
      () => validateManifest({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }),
      /Widget "w" is invalid:\n {2}\/: unknown kind example.com\/v1 Widget/,
    );
    assert.ok(supportedKinds().includes('apps/v1 Deployment'));
    assert.ok(supportedKinds().includes('keda.sh/v1alpha1 ScaledObject'));
  });

  it('requires a name, and an object with apiVersion and kind', () => {
    assert.deepEqual(problemsOf({ apiVersion: 'v1', kind: 'ConfigMap', metadata: {} }), [
      '/metadata/name: a name (or generateName) is required',
    ]);
    assert.throws(() => validateManifest({ kind: 'ConfigMap' }), /must have string apiVersion and kind/);
    assert.throws(() => validateManifest('kind: ConfigMap'), /must be an object/);
  });
});
